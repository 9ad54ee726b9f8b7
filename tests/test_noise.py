"""noise.py: exact flip counts, no self-flips, the asymmetric map without cascade, seeding, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from noisylabels.noise import ASYM_MAP, make_noisy_labels


def labels_of(sizes):
    return np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 60), min_size=2, max_size=12), rate=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_sym_flips_exactly_round_rate_n_per_class_never_to_itself(sizes, rate, seed):
    y = labels_of(sizes)
    noisy, T = make_noisy_labels(y, "sym", rate, seed, num_classes=len(sizes))
    assert noisy.dtype == np.int64 and noisy.shape == y.shape
    for c, n in enumerate(sizes):
        assert (noisy[y == c] != c).sum() == round(rate * n)
        if n:
            assert T[c].sum() == pytest.approx(1.0)
            assert T[c, c] == pytest.approx(1 - round(rate * n) / n)


def test_sym_targets_are_uniform_over_other_classes():
    y = labels_of([9000] * 10)
    noisy, T = make_noisy_labels(y, "sym", 0.9, seed=0)
    off = T[~np.eye(10, dtype=bool)].reshape(10, 9)
    # Each other class gets 0.9 / 9 = 0.1 of a class's samples; binomial sd is about 0.003.
    assert np.abs(off - 0.1).max() < 0.015
    assert np.allclose(np.diag(T), 0.1)


def test_asym_follows_the_cifar_map_with_exact_counts():
    y = labels_of([100, 101, 102, 103, 104, 105, 106, 107, 108, 109])
    noisy, T = make_noisy_labels(y, "asym", 0.4, seed=1)
    for c in range(10):
        changed = noisy[y == c] != c
        if c in ASYM_MAP:
            assert changed.sum() == round(0.4 * (y == c).sum())
            assert set(noisy[y == c][changed]) == {ASYM_MAP[c]}
            assert T[c, ASYM_MAP[c]] == pytest.approx(changed.mean())
        else:
            assert not changed.any()
    assert (noisy != y).mean() == pytest.approx(sum(round(0.4 * (100 + c)) for c in ASYM_MAP) / len(y))


def test_asym_has_no_cascade_between_cat_and_dog():
    # A cascade (cats -> dog, then dogs -> cat applied to the result) would send some cats back.
    y = labels_of([0, 0, 0, 1000, 0, 1000, 0, 0, 0, 0])
    noisy, _ = make_noisy_labels(y, "asym", 0.5, seed=2)
    assert (noisy[y == 3] == 5).sum() == 500 and (noisy[y == 3] == 3).sum() == 500
    assert (noisy[y == 5] == 3).sum() == 500 and (noisy[y == 5] == 5).sum() == 500


@pytest.mark.parametrize("kind", ["sym", "asym"])
def test_seeded_and_independent_of_global_state(kind):
    y = labels_of([50] * 10)
    a, _ = make_noisy_labels(y, kind, 0.3, seed=7)
    np.random.seed(123)  # the global numpy state must not matter
    b, _ = make_noisy_labels(y, kind, 0.3, seed=7)
    c, _ = make_noisy_labels(y, kind, 0.3, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind, rate", [("none", 0.7), ("sym", 0.0), ("asym", 0.0)])
def test_no_noise_gives_clean_labels(kind, rate):
    y = labels_of([5] * 10)
    noisy, T = make_noisy_labels(y, kind, rate, seed=0)
    np.testing.assert_array_equal(noisy, y)
    np.testing.assert_array_equal(T, np.eye(10))
    assert noisy is not y


@pytest.mark.parametrize("kind, rate, match", [
    ("gaussian", 0.2, "unknown noise type"), ("sym", -0.1, r"\[0, 1\]"), ("sym", 1.5, r"\[0, 1\]"),
])
def test_bad_arguments_are_value_errors(kind, rate, match):
    with pytest.raises(ValueError, match=match):
        make_noisy_labels(labels_of([5] * 10), kind, rate, seed=0)
