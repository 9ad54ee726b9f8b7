"""The data sets (CIFAR-10, CIFAR-100, MNIST) and their human labels: where they come from, what they are; and
real subsets of them and of the real-world noisy sets (WebVision mini, Clothing1M, ANIMAL-10N, Food-101N).

A command: `python data.py --help` lists its flags. The work is in noisylabels/datasets.py (the readers: noisylabels/data.py).
"""
from noisylabels.datasets import main

if __name__ == "__main__":
    main()
