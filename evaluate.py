"""Evaluate a trained model on its data set's clean test set: accuracy, per-class accuracy, confusion matrix,

A command: `python evaluate.py --help` lists its flags. The work is in noisylabels/evaluate.py.
"""
from noisylabels.evaluate import main

if __name__ == "__main__":
    main()
