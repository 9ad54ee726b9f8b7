"""Train one run of the noisy-label study: one noise setting, one loss, one model, one seed.

A command: `python train.py --help` lists its flags. The work is in noisylabels/train.py.
"""
from noisylabels.train import main

if __name__ == "__main__":
    main()
