"""idn.py: Xia et al.'s instance-dependent noise against a slow line-by-line copy of the released algorithm,
scipy's truncated normal, the real subsets' rates, the images' part in the targets, and the machine's."""
import os
import subprocess
import sys
from math import inf

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from noisylabels import data
from noisylabels import idn
from helpers import ROOT as HERE, SHARED
SUBSETS = {"cifar10": os.path.join(SHARED, "cifar10-subset"), "mnist": os.path.join(SHARED, "mnist-subset")}


def released(rate, x, labels, C, seed, std=0.1):
    """get_instance_noisy_label of xiaoboxia/Part-dependent-label-noise (tools.py at f80a6c7), one step a line,
    on the CPU: (labels, the per-image distributions P, the uniforms of the categorical draws)."""
    np.random.seed(int(seed))
    flip_rate = stats.truncnorm((0 - rate) / std, (1 - rate) / std, loc=rate, scale=std).rvs(labels.shape[0])
    W = torch.FloatTensor(np.random.randn(C, x[0].size, C))
    P = []
    for i, (xi, y) in enumerate(zip(torch.from_numpy(x).float(), torch.from_numpy(labels))):
        A = xi.view(1, -1).mm(W[y]).squeeze(0)
        A[y] = -inf
        A = flip_rate[i] * F.softmax(A, dim=0)
        A[y] += 1 - flip_rate[i]
        P.append(A)
    P = torch.stack(P, 0).numpy()
    state = np.random.get_state()
    new = np.array([np.random.choice(list(range(C)), p=P[i]) for i in range(labels.shape[0])])
    np.random.set_state(state)
    return new, P, np.random.random_sample(labels.shape[0])  # choice(p=...) draws one double each


def on_a_boundary(P, u, i, tol=1e-6):
    """Does image i's uniform lie within float rounding of a step of its cumulative distribution?"""
    cdf = np.cumsum(P[i].astype(np.float64))
    return np.abs(cdf / cdf[-1] - u[i]).min() < tol


def assert_same_as_released(x, y, rate, seed, C):
    ours, q = idn.instance_labels(x, y, rate, seed, C)
    ref, P, u = released(rate, x, y, C, seed)
    differ = np.flatnonzero(ours != ref)
    assert all(on_a_boundary(P, u, i) for i in differ), f"{len(differ)} labels differ away from a boundary"
    return ours, q, len(differ)


@pytest.mark.parametrize("C,shape", [(10, (3, 8, 8)), (5, (1, 6, 6))])
@pytest.mark.parametrize("rate,seed", [(0.2, 0), (0.4, 1), (0.0, 2), (0.9, 3)])
def test_generated_images_get_the_released_codes_labels(C, shape, rate, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, 300)
    x = rng.integers(0, 256, size=(300, *shape), dtype=np.uint8)
    ours, _, differ = assert_same_as_released(x, y, rate, seed, C)
    assert differ <= 1  # measured: 0 in every case, on a Zen 4 EPYC
    assert ours.dtype == np.int64 and ours.min() >= 0 and ours.max() < C


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.2, 0.4, 0.5, 0.8, 1.0])
def test_flip_rates_are_scipys_truncnorm_rvs(rate):
    np.random.seed(7)
    ref = stats.truncnorm((0 - rate) / 0.1, (1 - rate) / 0.1, loc=rate, scale=0.1).rvs(20000)
    ours = idn.truncnorm_draws(np.random.RandomState(7).uniform(size=20000), rate)
    assert np.abs(ours - ref).max() < 1e-10  # measured 3e-12: scipy works in log space, this does not
    assert ((ours >= 0) & (ours <= 1)).all()
    dist = stats.truncnorm((0 - rate) / 0.1, (1 - rate) / 0.1, loc=rate, scale=0.1)
    assert idn.truncnorm_mean(rate) == pytest.approx(dist.mean(), abs=1e-12)


def test_the_realised_rate_at_0_2_is_0_2055():
    assert round(idn.truncnorm_mean(0.2), 4) == 0.2055 and round(idn.truncnorm_mean(0.4), 4) == 0.4000


@pytest.mark.parametrize("name", list(SUBSETS))
@pytest.mark.parametrize("rate", [0.2, 0.4])
def test_real_subsets_same_labels_and_rate(name, rate):
    d = data.load(name, SUBSETS[name], fetch=False)
    ours, q, differ = assert_same_as_released(d.x_train, d.y_train, rate, 0, 10)
    assert differ <= 2  # each one on a rounding boundary (above); measured 0 on both subsets, both rates, seeds 0, 1
    flipped = ours != d.y_train
    # Each image flips with its own q: the count is a sum of Bernoulli(q_i), within 4 of its sd of sum(q). A flip
    # that could land on the image's own class would keep about q/9 of them more, 10 sds below at these sizes.
    sd = np.sqrt((q * (1 - q)).sum())
    assert abs(flipped.sum() - q.sum()) < 4 * sd
    n = len(q)  # and the q themselves average to the truncated normal's mean, within binomial noise
    assert abs(flipped.mean() - idn.truncnorm_mean(rate)) < 4 * np.sqrt(rate * (1 - rate) / n)


def test_within_a_class_the_image_predicts_its_flip_target():
    """A linear read-out of the image (50 principal components) predicts where a flipped MNIST image went better
    than the class's most common target does: measured 61 % against 42 % over the ten classes (rate 0.4)."""
    d = data.load("mnist", SUBSETS["mnist"], fetch=False)
    y = d.y_train
    noisy, _ = idn.instance_labels(d.x_train, y, 0.4, 0, 10)
    hit = base = total = 0
    for c in range(10):
        f = np.flatnonzero((y == c) & (noisy != c))
        X, t, h = d.x_train[f].reshape(len(f), -1).astype(np.float64), noisy[f], len(f) // 2
        X -= X[:h].mean(0)
        Z = np.c_[X @ np.linalg.svd(X[:h], full_matrices=False)[2][:50].T, np.ones(len(f))]
        w = np.linalg.lstsq(Z[:h], np.eye(10)[t[:h]], rcond=None)[0]
        hit += ((Z[h:] @ w).argmax(1) == t[h:]).sum()
        base += (t[h:] == np.bincount(t[:h], minlength=10).argmax()).sum()
        total += len(f) - h
    assert hit / total > base / total + 0.1


@pytest.mark.slow
def test_the_same_labels_with_numpys_blas_capped_at_sse3():
    """numpy's float32 products are the only arithmetic that could depend on the CPU: OpenBLAS picks its kernels
    by instruction set. Told to use its Prescott kernels in a subprocess (it reports "Katmai" then, "SkylakeX" by
    default on a Zen 4 EPYC, and 93 % of the float32 products differ, by up to 1e-4), the labels must not move."""
    code = ("import sys, numpy as np; from noisylabels import data, idn; d = data.load('cifar10', sys.argv[1], fetch=False); "
            "sys.stdout.write(idn.instance_labels(d.x_train, d.y_train, 0.4, 0, 10)[0].tobytes().hex())")
    env = {**os.environ, "OPENBLAS_CORETYPE": "Prescott"}
    capped = subprocess.run([sys.executable, "-c", code, SUBSETS["cifar10"]], cwd=HERE, env=env, capture_output=True,
                            text=True, check=True).stdout
    d = data.load("cifar10", SUBSETS["cifar10"], fetch=False)
    assert capped == idn.instance_labels(d.x_train, d.y_train, 0.4, 0, 10)[0].tobytes().hex()


def test_cifar100_takes_one_projection_per_class():
    rng = np.random.default_rng(0)
    y = np.arange(200) % 100
    x = rng.integers(0, 256, size=(200, 3, 4, 4), dtype=np.uint8)
    assert_same_as_released(x, y, 0.4, 5, 100)
