"""losses.py: hand-worked values, normalisation, symmetry, limits, gradients, extreme logits, bf16 autocast."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from losses import APL, NAMES, P_MIN, PAIRS, RCE_A, canonical, get_loss

# p = softmax(log [1, 1, 2]) = [0.25, 0.25, 0.5], label 2, C = 3. Worked by hand:
LOGITS = torch.log(torch.tensor([[1.0, 1.0, 2.0]]))
LABEL = torch.tensor([2])
L2 = math.log(2)
FL_Q, FL_H = 0.75**2 * 2 * L2, 0.25 * L2  # focal terms (gamma 2) at p = 1/4 and at p = 1/2
A_CE = -math.log(P_MIN)
A_FL = (1 - P_MIN) ** 2 * A_CE
HAND = {
    "ce": L2,                                  # -ln 0.5
    "fl": FL_H,                                # 0.5^2 ln 2
    "nce": 0.2,                                # ln 0.5 / (2 ln 0.25 + ln 0.5) = 1/5
    "nfl": FL_H / (2 * FL_Q + FL_H),           # 0.25 / 2.5 = 0.1
    "gce": (1 - 0.5**0.7) / 0.7,
    "ngce": (1 - 0.5**0.7) / (2 * (1 - 0.25**0.7) + (1 - 0.5**0.7)),
    "nce-exp": 0.5,                            # 1 - e^{-ln 2}
    "nfl-exp": 1 - 2**-0.25,                   # 1 - e^{-ln 2 / 4}
    "mae": 0.5,
    "rce": RCE_A * 0.5,                        # -(0.25 + 0.25) ln 1e-4
    "nmae": 0.25,                              # 0.5 / (C - 1)
    "nrce": 0.25,                              # RCE_A 0.5 / (RCE_A (0.75 + 0.75 + 0.5))
    "nnce": 1 - (A_CE - L2) / (3 * A_CE - 2 * math.log(4) - L2),
    "nnfl": 1 - (A_FL - FL_H) / (3 * A_FL - 2 * FL_Q - FL_H),
}
HAND["sce"] = 0.1 * HAND["ce"] + 1.0 * HAND["rce"]
HAND["anl-ce"] = 5 * HAND["nce"] + 5 * HAND["nnce"]
HAND["anl-fl"] = 5 * HAND["nfl"] + 5 * HAND["nnfl"]
for name in APL:
    a, p = name.split("+")
    HAND[name] = HAND[a] + HAND[p]  # alpha = beta = 1
HAND["apl-nce-mae"], HAND["apl-nfl-mae"] = HAND["nce+mae"], HAND["nfl+mae"]
NORMALISED = ["nce", "nfl", "ngce", "nmae", "nrce"]
SYMMETRIC = {"mae": lambda C: C - 1, "rce": lambda C: RCE_A * (C - 1), "nmae": lambda C: 1, "nrce": lambda C: 1}


@pytest.mark.parametrize("name", NAMES)
def test_hand_worked_values(name):
    assert get_loss(name, num_classes=3)(LOGITS, LABEL).item() == pytest.approx(HAND[name], rel=1e-6)


def test_hand_worked_nnce_and_nnfl_values():
    # The negative losses only appear inside anl-*; check them through beta alone.
    assert get_loss("anl-ce", 3, alpha=0, beta=1)(LOGITS, LABEL).item() == pytest.approx(HAND["nnce"], rel=1e-6)
    assert get_loss("anl-fl", 3, alpha=0, beta=1)(LOGITS, LABEL).item() == pytest.approx(HAND["nnfl"], rel=1e-6)


def test_weights_and_hyperparameters():
    assert get_loss("nce+mae", 3, alpha=2, beta=3)(LOGITS, LABEL).item() == pytest.approx(2 * 0.2 + 3 * 0.5)
    assert get_loss("fl", 3, gamma=0)(LOGITS, LABEL).item() == pytest.approx(L2)
    assert get_loss("nce-exp", 3, temperature=2)(LOGITS, LABEL).item() == pytest.approx(1 - 2**-0.5)
    assert get_loss("anl-ce").l1 == 5e-5 and get_loss("anl-fl", delta=1e-3).l1 == 1e-3
    assert all(get_loss(n).l1 == 0 for n in NAMES if not n.startswith("anl"))


logits_st = arrays("float64", st.tuples(st.integers(1, 6), st.integers(2, 12)),
                   elements=st.floats(-30, 30, allow_nan=False))


def all_labels(z, name, **hp):
    """Each loss summed over every possible label, per sample: [B]."""
    loss = get_loss(name, num_classes=z.shape[1], **hp)
    return sum(loss.per_sample(z, torch.full((len(z),), k)) for k in range(z.shape[1]))


@settings(max_examples=40, deadline=None)
@given(z=logits_st)
def test_normalised_losses_sum_to_one_over_all_labels(z):
    z = torch.from_numpy(z)
    for name in NORMALISED:
        torch.testing.assert_close(all_labels(z, name), torch.ones(len(z), dtype=z.dtype), msg=name)


@settings(max_examples=40, deadline=None)
@given(z=logits_st)
def test_symmetric_losses_sum_to_a_constant(z):
    z = torch.from_numpy(z)
    C = z.shape[1]
    for name, const in SYMMETRIC.items():
        torch.testing.assert_close(all_labels(z, name), torch.full((len(z),), float(const(C)), dtype=z.dtype))


@settings(max_examples=40, deadline=None)
@given(z=logits_st, data=st.data())
def test_limits_and_compositions(z, data):
    z = torch.from_numpy(z)
    C = z.shape[1]
    y = torch.tensor(data.draw(st.lists(st.integers(0, C - 1), min_size=len(z), max_size=len(z))))
    L = lambda name, **hp: get_loss(name, num_classes=C, **hp)(z, y)  # noqa: E731
    torch.testing.assert_close(L("gce", q=1e-6), L("ce"), rtol=1e-4, atol=1e-4)  # q -> 0
    torch.testing.assert_close(L("gce", q=1.0), L("mae"))
    torch.testing.assert_close(L("sce"), 0.1 * L("ce") + 1.0 * L("rce"))
    torch.testing.assert_close(L("sce", alpha=0.7, beta=0.2), 0.7 * L("ce") + 0.2 * L("rce"))
    alpha, beta = data.draw(st.floats(0, 10)), data.draw(st.floats(0, 10))
    for name in APL:
        active, passive = name.split("+")
        torch.testing.assert_close(L(name, alpha=alpha, beta=beta), alpha * L(active) + beta * L(passive))
    p_y = torch.softmax(z, 1).gather(1, y[:, None]).squeeze(1)
    torch.testing.assert_close(L("nce-exp"), (1 - p_y).mean())  # the report's NCE is MAE at T = 1


@settings(max_examples=40, deadline=None)
@given(z=logits_st, data=st.data())
def test_bounds(z, data):
    z = torch.from_numpy(z).float()
    y = torch.tensor(data.draw(st.lists(st.integers(0, z.shape[1] - 1), min_size=len(z), max_size=len(z))))
    bounded = NORMALISED + ["mae", "nce-exp", "nfl-exp"]
    for name in bounded + ["anl-ce", "anl-fl"]:
        hi = 10 if name in PAIRS else 1  # anl: 5 * [0, 1] + 5 * [0, 1]
        v = get_loss(name, num_classes=z.shape[1])(z, y).item()
        assert -1e-6 <= v <= hi + 1e-6, name
    for name in NAMES:
        assert get_loss(name, num_classes=z.shape[1])(z, y).item() >= -1e-6, name


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("apl-nce-mae", "apl-nfl-mae")])
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
    v = get_loss(name, num_classes=4, gamma=0.5)(z, y)  # gamma < 1: the hardest case for focal terms
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_float32_under_bf16_autocast(name):
    z = torch.randn(8, 10, generator=torch.Generator().manual_seed(1), requires_grad=True)
    y = torch.arange(8)
    loss = get_loss(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        v = loss(z.bfloat16(), y)
    v.backward()
    assert v.dtype == torch.float32 and torch.isfinite(z.grad).all()
    assert v.item() == pytest.approx(loss(z.detach().bfloat16().float(), y).item(), rel=1e-6)


def test_every_combination_is_named():
    for active in ["ce", "fl", "nce", "nfl", "gce", "ngce"]:
        for passive in ["mae", "rce", "nmae", "nrce"]:
            assert canonical(f"{active}+{passive}") == f"{active}+{passive}"


@pytest.mark.parametrize("name", ["fl", "nfl", "nfl+rce", "anl-fl", "nfl-exp"])
def test_focal_gradients_at_the_ma2020_gamma(name):
    z = torch.randn(4, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 4, 2])
    assert torch.autograd.gradcheck(lambda t: get_loss(name, num_classes=5, gamma=0.5)(t, y), (z,))


@settings(max_examples=15, deadline=None)
@given(z=arrays("float32", st.tuples(st.integers(1, 4), st.integers(2, 10)), elements=st.floats(-1e4, 1e4, width=32)))
def test_normalisation_and_finiteness_hold_at_extreme_logits(z):
    z = torch.from_numpy(z)
    for name in NORMALISED:
        torch.testing.assert_close(all_labels(z, name), torch.ones(len(z)), rtol=1e-5, atol=1e-5, msg=name)
    z.requires_grad_(True)
    y = torch.zeros(len(z), dtype=torch.long)
    for name in NAMES:
        z.grad = None
        v = get_loss(name, num_classes=z.shape[1], gamma=0.5)(z, y)
        v.backward()
        assert torch.isfinite(v) and torch.isfinite(z.grad).all(), name


@pytest.mark.parametrize("bad", ["mse", "ce+nce", "mae+nce", "nce+", "sce+mae", "nnce", "nce+mae+rce", ""])
def test_unknown_names_list_the_valid_ones(bad):
    with pytest.raises(ValueError, match="choose one of: ce, fl, nce.*active\\+passive"):
        canonical(bad)


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_normalised_and_symmetric_losses_at_cifar100s_100_classes(scale):
    # CIFAR-100: the sums above, at C = 100 (hypothesis draws at most 12 classes).
    z = torch.randn(8, 100, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * scale
    for name in NORMALISED:
        torch.testing.assert_close(all_labels(z, name), torch.ones(8, dtype=z.dtype), msg=name)
    for name, const in SYMMETRIC.items():
        torch.testing.assert_close(all_labels(z, name), torch.full((8,), float(const(100)), dtype=z.dtype), msg=name)
    y = torch.arange(8) * 12
    for name in NAMES:
        v = get_loss(name, num_classes=100)(z.float(), y)
        assert torch.isfinite(v), name
