"""Instance-dependent label noise (Xia et al., "Part-dependent Label Noise", NeurIPS 2020), as its code makes it.

The papers' "IDN 20 % / 40 %" columns (LogitClip, eps-softmax, CAL, ANL's journal version and more) were made
with `get_instance_noisy_label` of xiaoboxia/Part-dependent-label-noise (tools.py at f80a6c7), copied into
their code bases. `instance_labels` repeats its random calls in its order, on the features it projects, so the
same seed and images give the same labels:

1. numpy's legacy global generator seeded with the seed;
2. one flip rate q_i per image from N(r, 0.1^2) truncated to [0, 1], drawn as scipy's truncnorm.rvs draws it:
   N uniforms through the truncated normal's inverse CDF (written here with the standard library's NormalDist);
3. W = randn(C, D, C): per clean class a D x C projection of the image's D raw pixel values (0..255, float32,
   flattened channel-first as the CIFAR pickles and MNIST files store them), the products in float32;
4. per image, the softmax of x W[y] over the other classes, times q_i, and 1 - q_i on its own class;
5. one categorical draw per image, in image order, as numpy's legacy `choice(C, p=...)` makes it.

numpy only, so the labels do not depend on the device. Where the released code runs the products and the
softmax on a GPU, float rounding differs from numpy's in the last bits; a label differs only where that moves a
cumulative probability across the image's uniform draw (test_idn.py counts them).
"""
from statistics import NormalDist

import numpy as np

from .errors import UserError

STD = 0.1  # the flip rates' standard deviation, the released default (norm_std)


def truncnorm_draws(u, mean, std=STD, low=0.0, high=1.0):
    """The inverse CDF of N(mean, std^2) truncated to [low, high] at the uniforms u: scipy's truncnorm.rvs."""
    phi = NormalDist()
    a, b = phi.cdf((low - mean) / std), phi.cdf((high - mean) / std)
    # scipy's two cases: from the left tail unless the mean is at or below the lower bound (rate 0).
    flip = mean <= low
    if flip:
        a, b = phi.cdf((mean - high) / std), phi.cdf((mean - low) / std)
        u = 1.0 - np.asarray(u, dtype=np.float64)
    z = np.array([phi.inv_cdf(min(max(a + v * (b - a), 1e-300), 1 - 2 ** -53)) for v in np.asarray(u)])
    return mean + std * (-z if flip else z)


def truncnorm_mean(mean, std=STD, low=0.0, high=1.0):
    """E[q] of N(mean, std^2) truncated to [low, high]: the realised IDN rate a run should expect."""
    phi, a, b = NormalDist(), (low - mean) / std, (high - mean) / std
    return mean + std * (phi.pdf(a) - phi.pdf(b)) / (phi.cdf(b) - phi.cdf(a))


def softmax_others(A, y):
    """float32 softmax over each row of A [n, C] with the column y[i] of row i excluded (set to 0)."""
    A = A.copy()
    A[np.arange(len(A)), y] = -np.inf
    e = np.exp(A - A.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def instance_labels(x, labels, rate, seed, num_classes, std=STD):
    """(noisy labels int64 [N], flip rates float64 [N]) of Xia et al.'s generator.

    x: the training images, uint8 [N, ...] as the data files store them (channel first); labels: int64 [N].
    """
    if not 0.0 <= rate <= 1.0:
        raise UserError(f"noise rate must be in [0, 1], got {rate}")
    y = np.asarray(labels, dtype=np.int64)
    n, C = len(y), int(num_classes)
    X = np.asarray(x).reshape(n, -1)  # [N, D], the pixels in file order
    rs = np.random.RandomState(int(seed))
    q = truncnorm_draws(rs.uniform(size=n), rate, std) if n else np.zeros(0)
    P = np.empty((n, C), dtype=np.float32)
    for c in range(C):  # randn(C, D, C) class by class: the legacy generator's stream is the same
        W = rs.standard_normal((X.shape[1], C)).astype(np.float32)  # [D, C]
        idx = np.flatnonzero(y == c)
        if idx.size:
            S = softmax_others(X[idx].astype(np.float32) @ W, np.full(idx.size, c))
            P[idx] = S * q[idx, None].astype(np.float32)
            P[idx, c] = (1.0 - q[idx]).astype(np.float32)
    # choice(C, p=P[i]): the cumulative sum in float64, normalised by its last entry, searched (side right)
    # for one uniform per image, in image order.
    cdf = np.cumsum(P.astype(np.float64), axis=1)
    cdf /= cdf[:, -1:]
    u = rs.random_sample(n)
    noisy = np.minimum((cdf <= u[:, None]).sum(1), C - 1)
    return noisy.astype(np.int64), q
