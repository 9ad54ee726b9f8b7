"""losses.py: hand-worked values, normalisation, bounds, gradients, extreme logits and bf16 autocast."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from losses import NAMES, get_loss

# p = softmax(log [1, 1, 2]) = [0.25, 0.25, 0.5], label 2. Worked by hand:
#   CE  = ln 2;   FL (gamma 2) = 0.5^2 ln 2 = 0.25 ln 2
#   NCE = ln 0.5 / (2 ln 0.25 + ln 0.5) = 1 / 5
#   NFL = 0.25 ln 2 / (0.25 ln 2 + 2 * 0.75^2 * ln 4) = 0.25 / 2.5 = 0.1
#   MAE = 1 - 0.5;  nce-exp (T 1) = 1 - e^{-ln 2} = 0.5;  nfl-exp = 1 - 2^{-1/4}
LOGITS = torch.log(torch.tensor([[1.0, 1.0, 2.0]]))
LABEL = torch.tensor([2])
HAND = {
    "ce": math.log(2), "fl": 0.25 * math.log(2), "nce": 0.2, "nfl": 0.1, "nce-exp": 0.5,
    "nfl-exp": 1 - 2**-0.25, "nce+mae": 0.7, "nfl+mae": 0.6, "apl-nce-mae": 0.7, "apl-nfl-mae": 0.6,
    "nce-exp+mae": 1.0, "nfl-exp+mae": 1.5 - 2**-0.25,
}


@pytest.mark.parametrize("name", NAMES)
def test_hand_worked_values(name):
    assert get_loss(name, num_classes=3)(LOGITS, LABEL).item() == pytest.approx(HAND[name], rel=1e-6)


def test_apl_weights_and_hyperparameters():
    assert get_loss("nce+mae", 3, alpha=2, beta=3)(LOGITS, LABEL).item() == pytest.approx(2 * 0.2 + 3 * 0.5)
    assert get_loss("fl", 3, gamma=0)(LOGITS, LABEL).item() == pytest.approx(math.log(2))
    # nce-exp at T = 2: 1 - exp(-ln 2 / 2) = 1 - 2^{-1/2}
    assert get_loss("nce-exp", 3, temperature=2)(LOGITS, LABEL).item() == pytest.approx(1 - 2**-0.5)


logits_st = arrays("float64", st.tuples(st.integers(1, 6), st.integers(2, 12)),
                   elements=st.floats(-30, 30, allow_nan=False))


@settings(max_examples=50, deadline=None)
@given(z=logits_st)
def test_normalised_losses_sum_to_one_over_all_labels(z):
    z = torch.from_numpy(z)
    B, C = z.shape
    for name in ("nce", "nfl"):
        loss = get_loss(name, num_classes=C)
        total = sum(loss(z, torch.full((B,), k)) for k in range(C))  # each term is a batch mean
        assert total.item() == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(z=logits_st, data=st.data())
def test_bounds(z, data):
    z = torch.from_numpy(z).float()
    y = torch.tensor(data.draw(st.lists(st.integers(0, z.shape[1] - 1), min_size=len(z), max_size=len(z))))
    for name in NAMES:
        v = get_loss(name, num_classes=z.shape[1])(z, y).item()
        hi = math.inf if name in ("ce", "fl") else 2 if "+" in name or name.startswith("apl") else 1
        assert -1e-6 <= v <= hi + 1e-6, name


@settings(max_examples=30, deadline=None)
@given(z=logits_st)
def test_nce_exp_is_mae_at_temperature_one(z):
    z = torch.from_numpy(z)
    y = torch.zeros(len(z), dtype=torch.long)
    p_y = torch.softmax(z, 1)[:, 0]
    torch.testing.assert_close(get_loss("nce-exp", z.shape[1])(z, y), (1 - p_y).mean())
    # so the report's "APL" nce-exp+mae is MAE counted twice
    torch.testing.assert_close(get_loss("nce-exp+mae", z.shape[1])(z, y), 2 * (1 - p_y).mean())


@pytest.mark.parametrize("name", ["ce", "fl", "nce", "nfl", "nce+mae", "nfl+mae", "nce-exp", "nfl-exp"])
def test_gradient_matches_finite_differences_in_float64(name):
    # gradcheck compares autograd with finite differences of the forward pass, so a
    # detached NCE/NFL denominator (the official code's bug) would fail here.
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 4, 2])
    assert torch.autograd.gradcheck(lambda t: get_loss(name, num_classes=5)(t, y), (z,))


def test_nce_gradient_is_the_gradient_of_the_ratio():
    z = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    get_loss("nce", 3)(z, torch.tensor([0])).backward()
    lp = torch.log_softmax(z.detach(), 1)[0]
    a, s = lp[0], lp.sum()
    # d(a/s)/dz = (da s - a ds) / s^2, with d log p_k / dz_j = [j == k] - p_j
    p = lp.exp()
    da = torch.eye(3, dtype=torch.float64)[0] - p
    ds = torch.ones(3, dtype=torch.float64) - 3 * p
    torch.testing.assert_close(z.grad[0], (da * s - a * ds) / s**2)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_finite_value_and_gradient_at_extreme_logits(name, scale):
    z = torch.tensor([[scale, 0.0, -scale, 1.0], [0.0, scale, 0.0, 0.0]], requires_grad=True)
    y = torch.tensor([2, 1])  # one label at the least likely class, one at the most likely
    v = get_loss(name, num_classes=4)(z, y)
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_float32_under_bf16_autocast(name):
    z = torch.randn(8, 10, generator=torch.Generator().manual_seed(1))
    y = torch.arange(8)
    loss = get_loss(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        v = loss(z.bfloat16(), y)
    assert v.dtype == torch.float32
    assert v.item() == pytest.approx(loss(z.bfloat16().float(), y).item(), rel=1e-6)


@pytest.mark.parametrize("bad", ["mse", "ce+nce", "mae+nce", "nce+", ""])
def test_unknown_names_list_the_valid_ones(bad):
    with pytest.raises(ValueError, match="choose one of: ce, fl, nce"):
        get_loss(bad)
