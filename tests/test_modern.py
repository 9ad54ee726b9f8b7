"""The 2017-2025 baselines (modern.py): each against its formula written a second time from its paper, in
probability space; the properties their papers prove; the wraps. Their command line, values and resumes are
test_modern_runs.py's."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from noisylabels import config
from noisylabels import modern
from noisylabels import registry
from noisylabels.losses import get_loss

def sym_T(C, r, dtype=torch.float64):
    """Symmetric noise's transition matrix: 1 - r on the diagonal, r / (C - 1) elsewhere."""
    return torch.full((C, C), r / (C - 1), dtype=dtype).fill_diagonal_(1 - r)


def kl(d, m):
    # sum_k d_k log(d_k / m_k), with 0 log 0 = 0
    return torch.where(d > 0, d * (d.clamp_min(1e-300).log() - m.log()), torch.zeros_like(d)).sum(-1)


def gjs_ref(p_views, y, pi):
    """GJS from its definition: sum_j pi_j KL(d_j || m), d_1 the one-hot label, over -(1 - pi) log(1 - pi)."""
    e = F.one_hot(y, p_views.shape[-1]).to(p_views.dtype)
    w = (1 - pi) / len(p_views)
    m = pi * e + w * p_views.sum(0)
    return (pi * kl(e, m) + w * sum(kl(p, m) for p in p_views)) / (-(1 - pi) * math.log(1 - pi))


def eps_p_y(p, y, m):
    z = p.argmax(1)
    q = (p + m * F.one_hot(z, p.shape[1]).to(p.dtype)) / (1 + m)
    return q.gather(1, y[:, None]).squeeze(1).clamp_min(1e-8)


# Each loss from its paper, per sample, in probability space: (z [B, C], y [B], values) -> [B].
T_OF = {}


def ref(name, z, y, v):
    p, C = torch.softmax(z, 1), z.shape[1]
    e = F.one_hot(y, C).to(z.dtype)
    p_y = (p * e).sum(1)
    if name == "mse":
        return ((p - e) ** 2).sum(1) / C
    if name in ("ls", "nls"):
        q = (1 - v["t"]) * e + v["t"] / C
        log_p = p.clamp_min(1e-7).log() if name == "nls" else p.log()
        return -(q * log_p).sum(1)
    if name == "boot-soft":  # both released codes clamp p to [1e-7, 1] before the log and in the target
        p = p.clamp(1e-7, 1.0)
        return -((v["beta"] * e + (1 - v["beta"]) * p) * p.log()).sum(1)
    if name == "boot-hard":
        return -((v["beta"] * e + (1 - v["beta"]) * F.one_hot(p.argmax(1), C)) * p.log()).sum(1)
    if name == "taylor-ce":
        return sum((1 - p_y) ** k / k for k in range(1, v["order"] + 1))
    if name == "phuber-ce":
        tau = v["tau"]
        return torch.where(p_y <= 1 / tau, -tau * p_y + math.log(tau) + 1, -p_y.log())
    if name == "js":
        return gjs_ref(p[None], y, v["pi"])
    if name == "gjs":
        return gjs_ref(p[None].expand(v["M"] - 1, -1, -1), y, v["pi"])
    if name == "ldr-kl":
        s = F.softplus(z) / F.softplus(z).mean(1, keepdim=True)
        d = v["margin"] * (1 - e) + s - (s * e).sum(1, keepdim=True)
        return v["lamb"] * torch.log(torch.exp(d / v["lamb"]).mean(1))
    if name in ("ece+mae", "efl+mae"):
        q = eps_p_y(p, y, v["m"])
        first = -q.log() if name == "ece+mae" else -(1 - q) ** v["gamma"] * q.log()
        return v["alpha"] * first + v["beta"] * (p - e).abs().sum(1)  # the released code's MAE: the L1 distance
    if name == "amse":
        return ((p - v["a"] * e) ** 2).mean(1)
    if name == "nce+amse":
        return v["alpha"] * p_y.log() / p.log().sum(1) + v["beta"] * ((p - v["a"] * e) ** 2).mean(1)
    if name == "elr":
        return -p_y.log()  # evaluation: no targets
    if name == "fwd":
        return -(p @ T_OF[C]).gather(1, y[:, None]).squeeze(1).log()
    if name == "bwd":
        return (torch.linalg.inv(T_OF[C])[y] * -p.log()).sum(1)
    raise KeyError(name)


NEW = ["mse", "ls", "nls", "boot-soft", "boot-hard", "taylor-ce", "phuber-ce", "js", "gjs", "ldr-kl", "ece+mae",
       "efl+mae", "amse", "nce+amse", "elr", "fwd", "bwd"]


def test_every_new_name_is_in_the_registry_and_compared_here():
    assert set(NEW) <= set(registry.NAMES)
    assert {n for n, r in registry.LOSSES.items() if r.kind == "single"} | {"ece+mae", "efl+mae"} <= set(NEW)


@pytest.mark.parametrize("C", [10, 100])
@pytest.mark.parametrize("scale", [0.1, 3.0, 30.0])
@pytest.mark.parametrize("name", NEW)
def test_value_and_float64_gradient_match_the_paper(name, scale, C):
    T_OF[C] = sym_T(C, 0.3)
    g = torch.Generator().manual_seed(C + int(scale * 10))
    z = (torch.randn(6, C, generator=g, dtype=torch.float64) * scale).requires_grad_(True)
    y = torch.randint(0, C, (6,), generator=g)
    y[0] = z[0].argmax()  # one label the model already predicts: the eps-softmax's other branch
    v = {**registry.EVERY_LOSS, **registry.default_hp(name)}
    loss = get_loss(name, C, transition=T_OF[C])
    if name == "elr":
        loss.eval()  # the paper's ELR without its targets: CE
    # gjs in training reads M - 1 views: here M - 1 copies of z (the reference's M - 1 predictions p)
    ours = loss.per_sample(z.expand(loss.views, -1, -1) if loss.views > 1 else z, y)
    theirs = ref(name, z, y, v)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    g1, = torch.autograd.grad(ours.sum(), z)
    g2, = torch.autograd.grad(theirs.sum(), z)
    torch.testing.assert_close(g1, g2, rtol=1e-6, atol=1e-6)


def test_boot_soft_clamps_p_as_the_released_codes_at_confident_wrong_predictions():
    # issue 39's case: logits N(0, 1) * 30 in float32, where most labels get p_y far below 1e-7
    g = torch.Generator().manual_seed(5)
    z = (torch.randn(64, 10, generator=g) * 30).requires_grad_(True)
    y = torch.randint(0, 10, (64,), generator=g)
    ours, theirs = get_loss("boot-soft", 10).per_sample(z, y), ref("boot-soft", z, y, {"beta": 0.95})
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(*(torch.autograd.grad(v.sum(), z)[0] for v in (ours, theirs)), rtol=1e-5, atol=1e-6)
    assert ours.max() <= -math.log(1e-7) + 1e-4  # each sample's loss is bounded by the clamp
    unclamped = -(0.95 * F.log_softmax(z, 1).gather(1, y[:, None])[:, 0]).mean()
    assert unclamped > 2 * ours.mean()  # what the unclamped form gave: far from the released codes' values


def test_gjs_reads_its_views_and_is_js_of_the_mean_at_m_2():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2, 5, 10, generator=g, dtype=torch.float64)  # [V, B, C]: two augmented views
    y = torch.tensor([0, 1, 2, 3, 4])
    loss = get_loss("gjs", 10, pi=0.3, M=3)
    assert loss.views == 2
    torch.testing.assert_close(loss.per_sample(z, y), gjs_ref(torch.softmax(z, -1), y, 0.3))
    assert get_loss("gjs", 10, pi=0.3, M=2)(z[0], y).item() == pytest.approx(get_loss("js", 10, pi=0.3)(z[0], y).item())
    with pytest.raises(ValueError, match=r"logits must be .* or \[2, B, 10\]"):
        loss(z[:1], y)


@settings(max_examples=30, deadline=None)
@given(pi=st.floats(0.01, 0.99), logits=st.lists(st.floats(-20, 20), min_size=2, max_size=8), M=st.integers(2, 4))
def test_js_and_gjs_are_bounded_by_the_entropy_of_their_weights(pi, logits, M):
    # GJS <= H(pi) (the mixture's entropy is at most the weights'), so GJS / Z <= H(pi) / Z; and >= 0.
    z = torch.tensor([logits], dtype=torch.float64).expand(M - 1, 1, -1) + \
        torch.arange(M - 1, dtype=torch.float64)[:, None, None] * 0.7 * torch.linspace(-1, 1, len(logits))
    w = [pi] + [(1 - pi) / (M - 1)] * (M - 1)
    H = -sum(x * math.log(x) for x in w)
    v = get_loss("gjs", len(logits), pi=pi, M=M).per_sample(z if M > 2 else z[0], torch.tensor([0])).item()
    assert -1e-9 <= v <= H / (-(1 - pi) * math.log(1 - pi)) + 1e-9


def test_js_tends_to_ce_and_to_mae_at_the_ends_of_pi():
    # Englesson & Azizpour, Proposition 1: JS_pi / Z -> CE as pi -> 0, and -> (1/2) ||e_y - p||_1 = 1 - p_y as
    # pi -> 1, slowly (as 1 / log(1 / (1 - pi))).
    z = torch.tensor([[0.3, -1.0, 2.0, 0.5]], dtype=torch.float64)
    y = torch.tensor([0])
    p_y = torch.softmax(z, 1)[0, 0].item()
    js = lambda pi: get_loss("js", 4, pi=pi)(z, y).item()  # noqa: E731
    assert js(1e-7) == pytest.approx(-math.log(p_y), rel=1e-6)
    gaps = [js(1 - 10.0**-k) - (1 - p_y) for k in (2, 5, 9, 12)]
    assert all(a > b > 0 for a, b in zip(gaps, gaps[1:])) and gaps[-1] < 0.03 * (1 - p_y)


def test_limits_the_papers_state():
    z = torch.randn(8, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    y = torch.arange(8)
    L = lambda name, **v: get_loss(name, 10, **v).eval()(z, y)  # noqa: E731  (evaluation: no L1 term, ELR is CE)
    ce, p_y = L("ce"), torch.softmax(z, 1)[torch.arange(8), y]
    torch.testing.assert_close(L("ls", t=0.0), ce)
    torch.testing.assert_close(L("boot-soft", beta=1.0), ce)
    torch.testing.assert_close(L("boot-hard", beta=1.0), ce)
    torch.testing.assert_close(L("taylor-ce", order=1), (1 - p_y).mean())  # order 1: MAE
    near = z / 6  # p_y not far below 1/C: the series converges there within 400 terms
    torch.testing.assert_close(get_loss("taylor-ce", 10, order=400)(near, y), get_loss("ce", 10)(near, y))
    torch.testing.assert_close(L("amse", a=1.0), L("mse"))
    torch.testing.assert_close(L("elr"), ce)  # no sample indices (evaluation): CE alone
    I = torch.eye(10, dtype=torch.float64)
    torch.testing.assert_close(get_loss("fwd", 10, transition=I)(z, y), ce)
    torch.testing.assert_close(get_loss("bwd", 10, transition=I)(z, y), ce)
    small = get_loss("ldr-kl", 10, lamb=1e-4, margin=0.1).per_sample(z, y)
    s = F.softplus(z) / F.softplus(z).mean(1, keepdim=True)
    hinge = (0.1 * (1 - F.one_hot(y, 10)) + s - s[torch.arange(8), y][:, None]).max(1).values
    torch.testing.assert_close(small, hinge - 1e-4 * math.log(10), rtol=1e-3, atol=1e-3)  # lamb -> 0: the max


def test_backward_correction_is_unbiased():
    # Patrini et al., Theorem 1: averaged over the noisy label's distribution, bwd is the clean label's CE.
    C = 6
    T = sym_T(C, 0.4) * 0.5 + torch.eye(C, dtype=torch.float64) * 0.5 @ sym_T(C, 0.1)
    z = torch.randn(4, C, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    bwd = get_loss("bwd", C, transition=T)
    for y in range(C):
        expected = sum(T[y, j] * bwd.per_sample(z, torch.full((4,), j)) for j in range(C))
        torch.testing.assert_close(expected, -torch.log_softmax(z, 1)[:, y])


def test_fwd_and_bwd_refuse_without_a_transition_matrix():
    with pytest.raises(ValueError, match="transition matrix"):
        get_loss("fwd")(torch.zeros(2, 10), torch.tensor([0, 1]))


@settings(max_examples=30, deadline=None)
@given(logits=st.lists(st.floats(-1e4, 1e4), min_size=2, max_size=12), t=st.floats(-8, -0.01))
def test_nls_is_bounded_below(logits, t):
    z = torch.tensor([logits])
    C = len(logits)
    for y in range(C):
        v = get_loss("nls", C, t=t)(z, torch.tensor([y])).item()
        assert v >= -t * (C - 1) / C * math.log(modern.P_FLOOR) - 1e-4  # |t| (C - 1) / C log P_FLOOR


def test_phuber_is_continuous_and_its_gradient_in_p_y_is_at_most_tau():
    tau = 4.0
    p = torch.linspace(0.01, 0.99, 99, dtype=torch.float64).requires_grad_(True)
    z = torch.stack([p.log(), (1 - p).log()], 1)  # two classes: p_y = p at label 0
    v = get_loss("phuber-ce", 2, tau=tau).per_sample(z, torch.zeros(99, dtype=torch.long))
    g, = torch.autograd.grad(v.sum(), p)
    assert (g.abs() <= tau + 1e-9).all() and (g < 0).all()
    assert ((v[1:] - v[:-1]).abs() < 0.05).all()  # no jump at p = 1/tau


def test_the_eps_softmax_mae_is_symmetric_and_twice_ours():
    z = torch.randn(5, 7, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    total = sum(modern.mae_eps(torch.log_softmax(z, 1), torch.full((5,), k)) for k in range(7))
    torch.testing.assert_close(total, torch.full((5,), 12.0, dtype=torch.float64))  # sum_k ||e_k - p||_1 = 2 (C - 1)
    # ece+mae at alpha 0 is beta times the L1 distance: the released beta means the same here
    y = torch.arange(5)
    torch.testing.assert_close(get_loss("ece+mae", 7, alpha=0.0, beta=1.0)(z, y), 2 * get_loss("mae", 7)(z, y))


def test_elr_targets_follow_the_released_update_and_enter_the_loss():
    C, beta, lamb = 4, 0.7, 3.0
    loss = get_loss("elr", C, beta=beta, lamb=lamb).bind(5)
    z = torch.randn(2, C, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    y, idx = torch.tensor([1, 2]), torch.tensor([3, 0])
    v1 = loss(z, y, idx)
    p = torch.softmax(z, 1).clamp(1e-4, 1 - 1e-4)
    t = (1 - beta) * p / p.sum(1, keepdim=True)  # from zeros
    torch.testing.assert_close(loss.targets[idx], t)
    assert loss.targets[[1, 2, 4]].abs().sum() == 0  # the other samples' targets are untouched
    expected = F.cross_entropy(z, y) + lamb * torch.log(1 - (t * p).sum(1)).mean()
    torch.testing.assert_close(v1, expected)
    loss(z, y, idx)
    torch.testing.assert_close(loss.targets[idx], beta * t + (1 - beta) * p / p.sum(1, keepdim=True))
    state = loss.state_dict()
    assert list(state) == ["targets"]  # the checkpoint's key, as before losses were modules
    other = get_loss("elr", C, beta=beta, lamb=lamb).bind(5)
    other.load_state_dict(state)
    assert torch.equal(other.targets, loss.targets)


def test_logit_clipping_the_paper_and_the_released_rule():
    z = torch.tensor([[3.0, 4.0], [0.3, 0.4], [1.2, 1.6]])  # norms 5, 0.5, 2
    torch.testing.assert_close(modern.logit_clip(z, 1.0), torch.tensor([[0.6, 0.8], [0.3, 0.4], [0.6, 0.8]]))
    # paper, delta 2.5: only the first is longer than 2.5, scaled to 2.5
    torch.testing.assert_close(modern.logit_clip(z, 2.5), torch.tensor([[1.5, 2.0], [0.3, 0.4], [1.2, 1.6]]))
    # released, delta 2.5: every norm above 1/2.5 = 0.4 goes to 2.5: the second, 0.5, grows to 2.5
    torch.testing.assert_close(modern.logit_clip(z, 2.5, "released"),
                               torch.tensor([[1.5, 2.0], [1.5, 2.0], [1.5, 2.0]]))
    y = torch.tensor([0, 1, 0])
    clipped = get_loss("ce+lc", 2, logit_clip=2.5)(z, y)
    assert clipped.item() == pytest.approx(F.cross_entropy(modern.logit_clip(z, 2.5), y).item(), rel=1e-6)
    assert get_loss("ce+lc-released", 2, logit_clip=1.0)(z, y).item() == pytest.approx(
        get_loss("ce+lc", 2, logit_clip=1.0)(z, y).item())  # they agree at delta = 1


def test_sparse_regularisation_its_logits_term_and_schedule():
    tau, p, lamb, rho, freq = 0.5, 0.1, 1.2, 1.03, 2
    loss = get_loss("ce+sr", 4, sr=(tau, p, lamb, rho, freq))
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(5))
    y = torch.tensor([0, 1, 2])
    zs = F.normalize(z, dim=1) / tau  # the released code's F.normalize(out) / tau
    assert zs.norm(dim=1).allclose(torch.full((3,), 1 / tau))
    for epoch, k in [(1, 0), (2, 0), (3, 1), (6, 2)]:  # lamb rho^floor((e - 1) / freq)
        loss.start_epoch(epoch)
        term = torch.softmax(zs, 1).clamp_min(1e-7).pow(p).sum(1).mean()
        expected = F.cross_entropy(zs, y) + lamb * rho**k * term
        assert loss(z, y).item() == pytest.approx(expected.item(), rel=1e-6)
    plain = get_loss("ce+sr", 4, sr=(tau, p, lamb, rho, freq), sr_normalise=False)  # the released MNIST form
    zt = z / tau
    assert plain(z, y).item() == pytest.approx(
        (F.cross_entropy(zt, y) + lamb * torch.softmax(zt, 1).clamp_min(1e-7).pow(p).sum(1).mean()).item(), rel=1e-6)
    assert config.parse_args(["--loss", "ce+sr", "--dataset", "mnist"])["sr_normalise"] is False
    assert config.parse_args(["--loss", "ce+sr"])["sr_normalise"] is True
    four = get_loss("ce+sr", 4, sr=(tau, p, lamb, rho))  # freq left out: 1
    four.start_epoch(3)
    assert four.sr[-1] == 1 and four(z, y).item() == pytest.approx(
        (F.cross_entropy(zs, y) + lamb * rho**2 * torch.softmax(zs, 1).clamp_min(1e-7).pow(p).sum(1).mean()).item(),
        rel=1e-6)


WRAPPED = ["ce+lc", "ce+lc-released", "ce+sr", "gce+sr", "nce+rce+lc", "gjs+sr"]


def views(loss, z):
    """z [B, C] as the loss reads it in training: gjs's M - 1 views [M - 1, B, C] (here copies), else z itself."""
    return z.expand(loss.views, -1, -1) if loss.views > 1 else z


@pytest.mark.parametrize("name", WRAPPED)
def test_wrapped_losses_are_finite_float32_and_have_true_gradients(name):
    z = torch.tensor([[1e4, 0.0, -1e4, 1.0], [0.0, 1e4, 0.0, 0.0]], requires_grad=True)
    y = torch.tensor([2, 1])
    loss = get_loss(name, 4)
    v = loss(views(loss, z), y)
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(z.grad).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert loss(views(loss, z.bfloat16()), y).dtype == torch.float32
    z64 = torch.randn(4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64, requires_grad=True)
    five = get_loss(name, 5)
    assert torch.autograd.gradcheck(lambda t: five(views(five, t), torch.tensor([0, 1, 4, 2])), (z64,))


def test_review_mends_fwd_with_an_unused_label_stray_wrap_values_and_an_older_checkpoint():
    T = sym_T(4, 0.3)
    T[:, 3] = 0  # no sample carries label 3
    T = T / T.sum(1, keepdim=True)
    z = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    get_loss("fwd", 4, transition=T)(z, torch.tensor([0, 1, 2])).backward()
    assert torch.isfinite(z.grad).all()  # the unused column's -inf stays out of the gradient
    with pytest.raises(ValueError, match="ce has no wrap that reads logit_clip"):
        get_loss("ce", logit_clip=2.0)
    elr = get_loss("elr", 4).bind(5)
    elr.load_state_dict({})  # a checkpoint written before losses had state: the targets start at 0
    assert elr.targets.abs().sum() == 0
    z = torch.tensor([[-math.inf, 0.0, 1.0]])
    assert torch.isfinite(get_loss("boot-soft", 3)(z, torch.tensor([1])))
