"""Synthetic label noise: symmetric and CIFAR-10 asymmetric flips, with exact counts.

`make_noisy_labels` is the public entry point. It flips exactly round(rate * n_c)
samples of every (source) class c, so the realised rate is the asked-for rate up
to rounding, and returns the realised transition matrix with the noisy labels.
"""
import numpy as np

KINDS = ("none", "sym", "asym")

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# Truck->automobile, bird->airplane, deer->horse, cat<->dog, in the class indices above.
ASYM_MAP = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}


def transition_matrix(clean, noisy, num_classes):
    """T[i, j] = fraction of the samples of true class i that carry label j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.float64)
    np.add.at(counts, (clean, noisy), 1)
    n = counts.sum(1, keepdims=True)
    return np.divide(counts, n, out=np.zeros_like(counts), where=n > 0)


def make_noisy_labels(labels, kind, rate, seed, num_classes=10):
    """Return (noisy_labels, transition_matrix) for int64 labels in [0, num_classes).

    kind: 'none', 'sym' (each flipped sample goes to a uniformly chosen other
    class) or 'asym' (the CIFAR-10 map above; needs num_classes == 10).
    rate: fraction of each (source) class that is flipped, in [0, 1].
    seed: the noise has its own generator, independent of the model's randomness.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown noise type '{kind}'; choose one of: {', '.join(KINDS)}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")
    clean = np.asarray(labels)
    if clean.ndim != 1 or not np.issubdtype(clean.dtype, np.integer):
        raise ValueError("labels must be a 1-D integer array")
    clean = clean.astype(np.int64)
    if clean.size and (clean.min() < 0 or clean.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {clean.min()}..{clean.max()}")
    if kind == "asym" and num_classes != 10:
        raise ValueError("asymmetric noise is the CIFAR-10 class map; it needs num_classes=10")
    if kind == "sym" and num_classes < 2:
        raise ValueError("symmetric noise needs at least 2 classes")

    rng = np.random.default_rng(seed)
    noisy = clean.copy()
    if kind != "none" and rate > 0:
        sources = range(num_classes) if kind == "sym" else sorted(ASYM_MAP)
        for c in sources:
            idx = np.flatnonzero(clean == c)  # chosen from the clean labels: no cascade
            k = int(round(rate * idx.size))
            flip = rng.choice(idx, size=k, replace=False)
            if kind == "sym":
                # An offset in 1..C-1 makes every other class equally likely and never c itself.
                noisy[flip] = (c + rng.integers(1, num_classes, size=k)) % num_classes
            else:
                noisy[flip] = ASYM_MAP[c]
    return noisy, transition_matrix(clean, noisy, num_classes)
