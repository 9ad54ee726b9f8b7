"""losses.py: hand-worked values, normalisation, symmetry, limits, gradients, extreme logits, bf16 autocast.

The formulas are checked here in evaluation mode (loss.eval(): ELR without its targets is CE, GJS of one view JS, no
L1 term), or through data_term; what training mode asks of a loss is test_api_losses.py's."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from noisylabels import config
from noisylabels import registry
from noisylabels.formulas import P_MIN, RCE_A, entropy_reg
from noisylabels.losses import APL, NAMES, PAIRS, canonical, default_hp, get_loss, uses

# The names whose paper values get_loss refuses, as train.py does (gce+aul, ngce+aul: aul's q of 3 lies outside GCE's
# (0, 1]); they are checked at a q inside it, with which the hand-worked values below are worked too.
REFUSED = [n for n in NAMES if registry.out_of_domain(n, {**registry.EVERY_LOSS, **default_hp(n)})]
IN_DOMAIN = {n: {"q": 0.7} for n in REFUSED}

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
# The losses with a parameter, at p_y = 1/2, as functions of it (p = [1/4, 1/4, 1/2] above for ngce).
AT = {"gce": lambda q, a: (1 - 0.5**q) / q,
      "ngce": lambda q, a: (1 - 0.5**q) / (2 * (1 - 0.25**q) + (1 - 0.5**q)),
      "agce": lambda q, a: ((a + 1) ** q - (a + 0.5) ** q) / q,  # ((a+1)^q - (a+p_y)^q) / q
      "aul": lambda q, a: ((a - 0.5) ** q - (a - 1) ** q) / q,  # ((a-p_y)^q - (a-1)^q) / q
      "ael": lambda q, a: math.exp(-0.5 / a)}
HAND["agce"] = (1.6**0.6 - 1.1**0.6) / 0.6  # Zhou et al.'s CIFAR-10 a = 0.6, q = 0.6
HAND["aul"] = (5.0**3 - 4.5**3) / 3  # a = 5.5, q = 3: (125 - 91.125) / 3
HAND["ael"] = math.exp(-0.5 / 2.5)  # a = 2.5
HAND["sce"] = 0.1 * HAND["ce"] + 1.0 * HAND["rce"]
HAND["anl-ce"] = 5 * HAND["nce"] + 5 * HAND["nnce"]
HAND["anl-fl"] = 5 * HAND["nfl"] + 5 * HAND["nnfl"]
# One sample: the batch's mean prediction is p itself, KL([1/4, 1/4, 1/2] || uniform) = log 3 - 1.5 log 2.
HAND["anl-ce-er"] = HAND["anl-ce"] + 2 * (math.log(3) - 1.5 * L2)
# The 2017-2025 baselines at the same point, with their CIFAR-10 clean values (registry.py):
HAND["mse"] = (0.25**2 * 2 + 0.5**2) / 3                  # mean over the 3 classes of (p - e_y)^2
HAND["ls"] = 0.9 * L2 + 0.1 * (2 * math.log(4) + L2) / 3  # t 0.1: 0.9 CE + 0.1 mean_k -log p_k
HAND["nls"] = 1.2 * L2 - 0.2 * (2 * math.log(4) + L2) / 3  # t -0.2
HAND["boot-soft"] = 0.95 * L2 + 0.05 * 1.5 * L2           # beta 0.95: 0.95 CE + 0.05 H(p), H(p) = 1.5 ln 2
HAND["boot-hard"] = L2                                     # beta 0.8, and the predicted class is the label
HAND["taylor-ce"] = 0.5 + 0.5**2 / 2                       # order 2 at 1 - p_y = 1/2
HAND["phuber-ce"] = -2 * 0.5 + L2 + 1                      # tau 2: p_y = 1/tau, the linear part's end
# js, pi 0.1: m = 0.1 e_y + 0.9 p = [0.225, 0.225, 0.55]; divided by Z = -0.9 ln 0.9
HAND["js"] = (0.1 * -math.log(0.55) + 0.9 * (0.5 * math.log(0.25 / 0.225) + 0.5 * math.log(0.5 / 0.55))) / \
    (-0.9 * math.log(0.9))
# gjs, pi 0.5, M 3, its two predictions both p (no views): m = [0.125, 0.125, 0.75], Z = -0.5 ln 0.5
HAND["gjs"] = (0.5 * -math.log(0.75) + 0.5 * (0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75))) / (-0.5 * math.log(0.5))
_SP = [L2, L2, math.log(3)]  # softplus of the logits log [1, 1, 2]; lamb 10, margin 0.1
_S = [x / (sum(_SP) / 3) for x in _SP]
HAND["ldr-kl"] = 10 * math.log(sum(math.exp((0.1 * (k != 2) + _S[k] - _S[2]) / 10) for k in range(3)) / 3)
_Q = (0.5 + 1e5) / (1 + 1e5)  # the eps-softmax at the label, the predicted class: m 1e5
HAND["ece+mae"] = 0.01 * -math.log(_Q) + 5 * 2 * 0.5       # alpha 0.01, beta 5, the released MAE 2 (1 - p_y)
HAND["efl+mae"] = 0.01 * (1 - _Q) ** 0.1 * -math.log(_Q) + 5 * 2 * 0.5
HAND["amse"] = ((30 - 0.5) ** 2 + 2 * 0.25**2) / 3         # a 30
HAND["elr"] = L2                                            # no sample indices: CE alone
# fwd and bwd with T: 0.7 on the diagonal, 0.15 elsewhere. (T^T p)_y = 0.25 * 0.15 * 2 + 0.5 * 0.7 = 0.425;
# T = 0.55 I + 0.15 J, so T^-1 = (I - 0.15 J) / 0.55, and its row y is [-0.15, -0.15, 0.85] / 0.55.
HAND["fwd"] = -math.log(0.425)
HAND["bwd"] = (-0.15 * 2 * math.log(4) + 0.85 * L2) / 0.55
T3 = torch.full((3, 3), 0.15).fill_diagonal_(0.7)
AT["amse"] = lambda q, a: ((a - 0.5) ** 2 + 2 * 0.25**2) / 3


def loss_of(name, num_classes, **hp):
    """get_loss in evaluation mode, with a transition matrix for fwd and bwd (the others ignore it): 0.3 symmetric
    noise; a name whose paper values are refused takes IN_DOMAIN's."""
    T = torch.full((num_classes, num_classes), 0.3 / (num_classes - 1)).fill_diagonal_(0.7)
    return get_loss(name, num_classes, transition=T, **{**IN_DOMAIN.get(name, {}), **hp}).eval()


# nfl at another focal exponent g: (1 - p)^g (-log p) at p = 1/2 over the same summed over p = [1/4, 1/4, 1/2]
NFL_AT = lambda g: 0.5**g * L2 / (2 * 0.75**g * 2 * L2 + 0.5**g * L2)  # noqa: E731
assert NFL_AT(2) == pytest.approx(HAND["nfl"])

for name in APL:
    a, p = name.split("+")
    hp = {**default_hp(name), **IN_DOMAIN.get(name, {})}  # alpha = beta = 1, except nce+agce/aul/ael: Zhou et al.'s
    # and nfl+amse's own gamma, JAL's 0.5
    value = lambda n: AT[n](hp.get("q"), hp.get("a")) if n in AT else NFL_AT(hp["gamma"]) if n == "nfl" and \
        "gamma" in hp else HAND[n]  # noqa: E731
    HAND[name] = hp["alpha"] * value(a) + hp["beta"] * value(p)
HAND["apl-nce-mae"], HAND["apl-nfl-mae"] = HAND["nce+mae"], HAND["nfl+mae"]
NORMALISED = ["nce", "nfl", "ngce", "nmae", "nrce"]
SYMMETRIC = {"mae": lambda C: C - 1, "rce": lambda C: RCE_A * (C - 1), "nmae": lambda C: 1, "nrce": lambda C: 1}


@pytest.mark.parametrize("name", NAMES)
def test_hand_worked_values(name):
    v = get_loss(name, num_classes=3, transition=T3, **IN_DOMAIN.get(name, {})).eval()(LOGITS, LABEL).item()
    # ldr-kl is a float32 difference (lamb log mean exp, lamb 10): 5.6e-7 off, measured; the rest to rel 1e-6
    assert v == pytest.approx(HAND[name], rel=1e-6, abs=1e-6 if name == "ldr-kl" else 0)


def test_the_papers_values_outside_the_papers_domain_are_refused_as_train_py_refuses_them():
    assert REFUSED == ["gce+aul", "ngce+aul"]
    for name in REFUSED:
        with pytest.raises(ValueError, match=rf"^q must be in \(0, 1\] for n?gce, got 3$"):
            get_loss(name)
        with pytest.raises(ValueError, match=rf"^--q must be in \(0, 1\] for n?gce, got 3$"):
            config.check(config.parse_args(["--loss", name]))


def test_hand_worked_nnce_and_nnfl_values():
    # The negative losses only appear inside anl-*; check them through beta alone.
    assert get_loss("anl-ce", 3, alpha=0, beta=1).data_term(LOGITS, LABEL).item() == pytest.approx(HAND["nnce"], rel=1e-6)
    assert get_loss("anl-fl", 3, alpha=0, beta=1).data_term(LOGITS, LABEL).item() == pytest.approx(HAND["nnfl"], rel=1e-6)


logits_st = arrays("float64", st.tuples(st.integers(1, 6), st.integers(2, 12)),
                   elements=st.floats(-30, 30, allow_nan=False))


def test_the_asymmetric_losses_by_hand():
    p = torch.tensor([[0.2, 0.3, 0.5]]).log()
    y = torch.tensor([1])  # p_y = 0.3
    assert get_loss("agce", 3, a=6, q=1.5)(p, y).item() == pytest.approx((7**1.5 - 6.3**1.5) / 1.5, rel=1e-6)
    assert get_loss("aul", 3, a=6.3, q=1.5)(p, y).item() == pytest.approx((6.0**1.5 - 5.3**1.5) / 1.5, rel=1e-6)
    assert get_loss("ael", 3, a=5)(p, y).item() == pytest.approx(math.exp(-0.06), rel=1e-6)
    v = get_loss("nce+agce", 3, alpha=10, beta=0.1, a=1.8, q=3)(p, y).item()
    assert v == pytest.approx(10 * math.log(0.3) / math.log(0.2 * 0.3 * 0.5) + 0.1 * (2.8**3 - 2.1**3) / 3, rel=1e-6)


@pytest.mark.parametrize("name, hp, message", [("aul", {"a": 0.9}, "^a must be > 1 for aul"), ("ael", {"a": 0}, "^a must be > 0"),
                                               ("nce+agce", {"q": -1}, "^q must be > 0")])
def test_asymmetric_losses_refuse_values_outside_their_domain(name, hp, message):
    with pytest.raises(ValueError, match=message):  # aul's (a - 1)^q would be complex, or NaN in float32
        get_loss(name, **hp)


def test_the_asymmetric_defaults_are_zhou_et_als_cifar10_values():
    assert default_hp("agce") == {"a": 0.6, "q": 0.6, "scale": 1.0}
    assert default_hp("nce+aul") == {"alpha": 1.0, "beta": 4.0, "a": 6.3, "q": 1.5}
    assert default_hp("ngce+agce") == {"alpha": 1.0, "beta": 1.0, "a": 0.6, "q": 0.6}  # one q for both parts
    assert default_hp("anl-ce-er") == {"alpha": 5.0, "beta": 5.0, "delta": 5e-5, "lamb": 2.0}
    assert uses("nce+ael") == {"alpha", "beta", "a"} and uses("fl") == {"scale", "gamma"}


@settings(max_examples=40, deadline=None)
@given(p=st.floats(0, 1), dp=st.floats(1e-3, 1), a=st.floats(1.05, 10), q=st.floats(0.05, 4))
def test_asymmetric_losses_fall_as_p_y_rises_and_agce_aul_vanish_at_one(p, dp, a, q):
    f = {"agce": lambda p: ((a + 1) ** q - (a + p) ** q) / q, "aul": lambda p: ((a - p) ** q - (a - 1) ** q) / q,
         "ael": lambda p: math.exp(-p / a)}
    hi = min(p + dp, 1.0)
    for name, g in f.items():
        # two classes: logits (log p, log(1 - p)) give p_y = p at label 0
        z = torch.tensor([[math.log(max(p, 1e-300)), math.log(max(1 - p, 1e-300))]], dtype=torch.float64)
        assert get_loss(name, 2, a=a, q=q)(z, torch.tensor([0])).item() == pytest.approx(g(p), rel=1e-9, abs=1e-12)
        if hi > p + 1e-9:  # a step of 1e-16 below 1 is below float64 resolution of g: g(hi) == g(p)
            assert g(hi) < g(p), name
    assert f["agce"](1.0) == pytest.approx(0, abs=1e-12) and f["aul"](1.0) == pytest.approx(0, abs=1e-12)


def test_entropy_regulariser_is_a_term_of_the_batch():
    # Two samples p = [1/4, 1/4, 1/2] and [1/2, 1/4, 1/4]: the mean prediction is [3/8, 1/4, 3/8].
    z = torch.tensor([[1.0, 1.0, 2.0], [2.0, 1.0, 1.0]]).log()
    y = torch.tensor([2, 0])
    er = math.log(3) + 2 * 0.375 * math.log(0.375) + 0.25 * math.log(0.25)
    assert entropy_reg(torch.log_softmax(z, 1)).item() == pytest.approx(er, rel=1e-5)
    loss = get_loss("anl-ce-er", 3, lamb=0.5)
    assert loss.data_term(z, y).item() == pytest.approx(loss.per_sample(z, y).mean().item() + 0.5 * er, rel=1e-6)
    # not the mean of each sample's own regulariser: that would be KL(p_i || uniform) averaged
    own = math.log(3) - 1.5 * L2
    assert loss.data_term(z, y).item() != pytest.approx(loss.per_sample(z, y).mean().item() + 0.5 * own, rel=1e-3)
    assert entropy_reg(torch.zeros(4, 7)).item() == pytest.approx(0, abs=1e-6)  # uniform predictions


@settings(max_examples=40, deadline=None)
@given(z=logits_st)
def test_entropy_regulariser_lies_between_zero_and_log_c(z):
    v = entropy_reg(torch.log_softmax(torch.from_numpy(z), 1)).item()
    assert -1e-6 <= v <= math.log(z.shape[1]) + 1e-6


def test_weights_and_hyperparameters():
    assert get_loss("nce+mae", 3, alpha=2, beta=3)(LOGITS, LABEL).item() == pytest.approx(2 * 0.2 + 3 * 0.5)
    assert get_loss("fl", 3, gamma=0)(LOGITS, LABEL).item() == pytest.approx(L2)
    assert get_loss("nce-exp", 3, temperature=2)(LOGITS, LABEL).item() == pytest.approx(1 - 2**-0.5)
    assert get_loss("anl-ce").l1 == 5e-5 and get_loss("anl-fl", delta=1e-3).l1 == 1e-3
    assert all(get_loss(n, **IN_DOMAIN.get(n, {})).l1 == 0 for n in NAMES if not n.startswith("anl") and "amse" not in n)
    assert get_loss("nce+amse").l1 == 5e-5  # JAL's L1 in place of weight decay



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
    def L(name, **hp):  # the values the loss reads (q is taken by every loss), its data term (no L1 term)
        return get_loss(name, num_classes=C, **{k: v for k, v in hp.items() if k in uses(name) | {"q"}}).data_term(z, y)
    torch.testing.assert_close(L("gce", q=1e-6), L("ce"), rtol=1e-4, atol=1e-4)  # q -> 0
    torch.testing.assert_close(L("gce", q=1.0), L("mae"))
    torch.testing.assert_close(L("sce"), 0.1 * L("ce") + 1.0 * L("rce"))
    torch.testing.assert_close(L("sce", alpha=0.7, beta=0.2), 0.7 * L("ce") + 0.2 * L("rce"))
    alpha, beta = data.draw(st.floats(0, 10)), data.draw(st.floats(0, 10))
    hp = {"q": 0.5, "a": 2.0, "gamma": 2.0}  # given, so that both parts read the same values (nfl+amse: JAL's 0.5)
    for name in APL:
        active, passive = name.split("+")
        torch.testing.assert_close(L(name, alpha=alpha, beta=beta, **hp), alpha * L(active, **hp) + beta * L(passive, **hp))
    torch.testing.assert_close(L("agce", scale=3.0), 3 * L("agce"))
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
        v = loss_of(name, z.shape[1])(z, y).item()
        assert -1e-6 <= v <= hi + 1e-6, name
    C = z.shape[1]
    # Bounded below by 0, except nls (by |t| (C - 1) / C log 1e-7, its floor), ldr-kl (by -lamb log C: its average
    # over the classes) and bwd (unbounded: T^-1 has negative entries).
    lower = {"nls": 0.2 * (C - 1) / C * math.log(1e-7), "ldr-kl": -10 * math.log(C)}
    for name in NAMES:
        if name != "bwd":
            assert loss_of(name, C)(z, y).item() >= lower.get(name, 0) - 1e-5, name


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("apl-nce-mae", "apl-nfl-mae")])
def test_gradient_matches_finite_differences_in_float64(name):
    # gradcheck compares autograd with finite differences of the forward pass, so a
    # detached NCE/NFL denominator (the official code's bug) would fail here.
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 4, 2])
    assert torch.autograd.gradcheck(lambda t: loss_of(name, 5)(t, y), (z,))


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
    v = loss_of(name, 4, gamma=0.5)(z, y)  # gamma < 1: the hardest case for focal terms
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_float32_under_bf16_autocast(name):
    z = torch.randn(8, 10, generator=torch.Generator().manual_seed(1), requires_grad=True)
    y = torch.arange(8)
    loss = loss_of(name, 10)
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
    assert torch.autograd.gradcheck(lambda t: get_loss(name, num_classes=5, gamma=0.5).data_term(t, y), (z,))


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
        v = loss_of(name, z.shape[1], gamma=0.5)(z, y)
        v.backward()
        assert torch.isfinite(v) and torch.isfinite(z.grad).all(), name


@pytest.mark.parametrize("bad", ["ece", "ce+nce", "mae+nce", "nce+", "sce+mae", "nnce", "nce+mae+rce", ""])
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
        v = loss_of(name, 100)(z.float(), y)
        assert torch.isfinite(v), name
