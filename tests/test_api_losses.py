"""The public loss API: get_loss's values in a setting (the same as train.py's), what a loss needs in training and
in evaluation, each refusal's message, its buffers and checkpoint, list_losses."""
import json
import math

import pytest
import torch
import torch.nn.functional as F

import noisylabels
from noisylabels import config
from noisylabels import keys
from noisylabels import engine
from noisylabels import presets
from noisylabels import registry
from noisylabels.losses import NAMES, Loss, get_loss, list_losses


def z_y(B=4, C=10, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, C, generator=g, dtype=dtype), torch.arange(B) % C


# --- get_loss: a module, and the values it takes ----------------------------------------------------------------

def test_a_loss_is_a_module_and_says_what_it_took():
    loss = get_loss("nce+rce", dataset="cifar100", noise="sym", rate=0.4)
    assert isinstance(loss, Loss) and isinstance(loss, torch.nn.Module) and loss.training
    assert loss.num_classes == 100 and loss.values == {"alpha": 10.0, "beta": 0.1}
    assert loss.setting == {"dataset": "cifar100", "noise": "sym", "rate": 0.4, "preset": "ma2020"}
    assert repr(loss) == "Loss(nce+rce, num_classes=100, alpha=10, beta=0.1, setting=cifar100 sym-0.4 ma2020)"
    assert loss.sources["alpha"].startswith("ma2020 loss table: HanxunH/Active-Passive-Losses@2d18de6 configs/cifar100/sym")
    plain = get_loss("nfl+amse")
    assert plain.setting is None and plain.num_classes == 10
    assert repr(plain) == "Loss(nfl+amse, num_classes=10, alpha=1, beta=1, a=30, delta=5e-05, gamma=0.5)"
    assert noisylabels.get_loss is get_loss and noisylabels.list_losses is list_losses


@pytest.mark.parametrize("name, kw, values", [
    ("phuber-ce", {"dataset": "cifar100"}, {"scale": 1.0, "tau": 10.0}),  # ye2023: ma2020's table lacks it
    ("anl-ce", {"dataset": "cifar100"}, {"alpha": 10.0, "beta": 1.0, "delta": 5e-7}),
    ("fl", {"dataset": "cifar10"}, {"scale": 1.0, "gamma": 0.5}),  # ma2020's table has fl: its gamma
    ("fl", {}, {"scale": 1.0, "gamma": 2.0}),  # no setting: Lin et al.'s
    ("nfl", {"dataset": "cifar10", "noise": "asym", "rate": 0.2}, {"scale": 1.0, "gamma": 0.5}),
    ("nfl", {"dataset": "cifar10", "noise": "sym", "rate": 0.2}, {"scale": 10.0, "gamma": 0.5}),
    ("elr", {"dataset": "cifar10", "noise": "asym", "rate": 0.4}, {"scale": 1.0, "beta": 0.9, "lamb": 1.0}),
    ("ce+sr", {"dataset": "mnist"}, {"scale": 1.0, "sr": (0.1, 0.1, 4.0, 2.0, 5), "sr_normalise": False}),
    ("nce+rce", {"dataset": "cifar100", "preset": "report"}, {"alpha": 1.0, "beta": 1.0}),
    ("gce", {"dataset": "cifar10", "q": 0.5}, {"scale": 1.0, "q": 0.5}),  # given wins
])
def test_values_in_a_setting(name, kw, values):
    assert get_loss(name, **kw).values == values


def test_nfl_amse_takes_jals_focal_gamma_everywhere():
    assert get_loss("nfl+amse").values["gamma"] == 0.5 and registry.default_hp("nfl+amse")["gamma"] == 0.5
    assert config.parse_args(["--loss", "nfl+amse"])["gamma"] == 0.5  # the report preset's 2 is fl's, not JAL's
    assert config.parse_args(["--loss", "nfl+amse", "--preset", "ye2023"])["gamma"] == 0.5
    assert get_loss("nfl+amse", gamma=2.0).values["gamma"] == 2.0
    z, y = z_y(6, 10, 1, torch.float64)
    p = torch.softmax(z, 1)
    fl = lambda p: (1 - p) ** 0.5 * -p.log()  # noqa: E731
    nfl = fl(p).gather(1, y[:, None]).squeeze(1) / fl(p).sum(1)
    amse = ((p - 30 * F.one_hot(y, 10)) ** 2).mean(1)
    torch.testing.assert_close(get_loss("nfl+amse").data_term(z, y), (nfl + amse).mean())


# Every loss of the studies, on every data set of its study, at every setting of it: get_loss takes the values
# train.py resolves for `--preset P --dataset D --noise N --rate R --loss NAME`, P the study's preset.
STUDY_POINTS = sorted({(loss, s["dataset"], s["preset"]) for s in presets.STUDIES.values() if s["preset"] != "report"
                       for loss in s["losses"].split()})
SETTINGS = [("none", None), ("sym", 0.2), ("sym", 0.6), ("asym", 0.4), ("idn", 0.2), ("pairflip", 0.3)]


@pytest.mark.parametrize("loss, dataset, preset", STUDY_POINTS)
def test_get_loss_takes_the_values_train_py_resolves(loss, dataset, preset):
    real = dataset in presets.REAL_SETS  # their own labels only: no synthetic noise
    for noise, rate in [("none", None)] if real else SETTINGS + ([("human", None)] if dataset != "mnist" else []):
        argv = ["--loss", loss, "--dataset", dataset, "--preset", preset, "--noise", noise]
        cfg = config.parse_args(argv + (["--rate", str(rate)] if rate is not None else []))
        built = get_loss(loss, dataset=dataset, noise=noise, rate=rate, preset=preset)
        assert built.values == {k: tuple(cfg[k]) if k == "sr" else cfg[k] for k in built.values}, (argv, rate)
        assert all(cfg[k] is None for k in keys.LOSS_VALUES if k not in built.values and k not in registry.EVERY_LOSS
                   and k != "q"), argv
        run = engine.loss_from(cfg, built.num_classes)  # what train.py trains: the same values
        assert run.values == built.values and [w for w, _ in run.parts] == [w for w, _ in built.parts]
        assert (run.l1, run.lamb, run.views, run.clip, run.sr, run.sr_normalise) == \
            (built.l1, built.lamb, built.views, built.clip, built.sr, built.sr_normalise)


def test_without_a_preset_the_protocol_that_lists_the_loss():
    assert get_loss("nce+rce", dataset="cifar10").setting["preset"] == "ma2020"
    assert get_loss("anl-ce", dataset="mnist").setting["preset"] == "ye2023"
    assert get_loss("gjs", dataset="cifar100").setting["preset"] == "ye2023"
    assert get_loss("anl-ce-er", dataset="mnist").values["delta"] == 1e-6  # anl-ce's row, as train.py takes it


def test_without_a_setting_the_papers_values():
    for name in NAMES:
        if name in ("gce+aul", "ngce+aul"):
            continue  # refused: test_losses.py
        reads = registry.uses(name)
        paper = {k: v for k, v in {**registry.EVERY_LOSS, **registry.default_hp(name)}.items() if k in reads}
        assert get_loss(name).values == paper, name


@pytest.mark.parametrize("kw, message", [
    ({"dataset": "cifar100", "num_classes": 10}, r"^num_classes=10, but cifar100 has 100 classes; leave num_classes out$"),
    ({"dataset": "cifar1000"}, r"^dataset must be one of cifar10, cifar100, mnist, webvision-mini, clothing1m, animal10n, food101n, got 'cifar1000' \(did you mean "
                               r"cifar100\?\); for other data give num_classes= and no dataset"),
    ({"dataset": "cifar10", "noise": "symm", "rate": 0.4}, r"^noise must be one of none, sym, .*got 'symm' \(did you "
                                                            r"mean sym\?\)"),
    ({"dataset": "cifar10", "noise": "sym"}, r"^noise='sym' needs rate=, the fraction of labels it flips"),
    ({"dataset": "cifar10", "noise": "sym", "rate": 1.5}, r"^rate must be a number in \[0, 1\], got 1.5$"),
    ({"dataset": "cifar10", "rate": 0.4}, r"^rate=0.4 does not apply to noise='none': give noise='sym'"),
    ({"dataset": "cifar10", "noise": "human", "rate": 0.4}, r"^rate=0.4 does not apply to noise='human'"),
    ({"dataset": "mnist", "noise": "human"}, r"^noise='human' needs human labels, and mnist has none"),
    ({"dataset": "cifar10", "preset": "ma2021"}, r"^preset must be one of report, ma2020, ye2023 on cifar10, got 'ma2021'$"),
    ({"dataset": "cifar10", "preset": "eps2024"}, r"^preset must be one of report, ma2020, ye2023 on cifar10, got 'eps2024'$"),
    ({"dataset": "clothing1m", "noise": "sym", "rate": 0.2}, r"^clothing1m.s labels are its own real-world noisy ones"),
    ({"noise": "sym", "rate": 0.4}, r"^noise='sym', rate=0.4 describe\(s\) a setting on a data set: give dataset= too"),
    ({"num_classes": 1}, r"^a loss needs num_classes >= 2, got 1$"),
])
def test_a_setting_get_loss_cannot_take_is_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        get_loss("nce+rce", **kw)


def test_dataset_gives_the_class_count():
    assert get_loss("ce", dataset="mnist").num_classes == 10
    assert get_loss("ce", 100, dataset="cifar100").num_classes == 100  # the same count given: taken
    assert get_loss("ce").num_classes == 10 and get_loss("ce", 7).num_classes == 7


# --- the same values as the command line, said as arguments ---------------------------------------------------

@pytest.mark.parametrize("name, kw, flags, message", [
    ("gce", {"q": 2.0}, ["--q", "2"], r"q must be in \(0, 1\] for gce, got 2"),
    ("ce+lc", {"logit_clip": 0.0}, ["--logit-clip", "0"], r"logit_clip must be > 0, got 0"),
    ("aul", {"a": 1.0}, ["--a", "1"], r"a must be > 1 for aul, whose \(a - p_y\)\^q needs a - 1 > 0, got 1"),
    ("elr", {"beta": 1.0}, ["--beta", "1"], r"beta must be in \[0, 1\) for elr, got 1"),
])
def test_values_outside_their_domain_name_the_argument_here_and_the_flag_there(name, kw, flags, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        get_loss(name, **kw)
    flag = message.replace("logit_clip", "logit-clip")
    with pytest.raises(ValueError, match=f"^--{flag}$"):
        config.check(config.parse_args(["--loss", name.replace("+lc", "")] + flags))


def test_a_value_the_loss_does_not_read_is_refused_as_on_the_command_line():
    with pytest.raises(ValueError, match=r"^alpha does not apply to the loss 'ce'; leave it out, or use a loss that "
                                         r"has it \(sce, anl-ce"):
        get_loss("ce", alpha=2.0)
    with pytest.raises(ValueError, match=r"^--alpha does not apply to the loss 'ce'"):
        config.parse_args(["--loss", "ce", "--alpha", "2"])
    assert get_loss("ce", q=0.3, gamma=1.0, temperature=2.0).values == {"scale": 1.0}  # accepted with every loss


# --- ELR ---------------------------------------------------------------------------------------------------------

def test_elr_in_training_needs_its_indices_and_its_targets():
    z, y = z_y()
    with pytest.raises(ValueError, match=r"^elr in training reads each sample's position in the training split: "
                                         r"loss\(logits, y, idx\) with idx \[B\] \(int64\); for a validation or test "
                                         r"loss call loss.eval\(\) \(CE alone\)$"):
        get_loss("elr", n_train=8)(z, y)
    with pytest.raises(ValueError, match=r"^elr keeps a running target per training sample and has none: give "
                                         r"get_loss\('elr', \.\.\., n_train=N\) or call loss.bind\(N\) first, N the "
                                         r"training split's size; then loss\(logits, y, idx\) with each sample's "
                                         r"position idx \[B\] in that split$"):
        get_loss("elr")(z, y)  # neither: the one message names both
    with pytest.raises(ValueError, match=r"^idx must lie in \[0, 8\) \(n_train 8\), got 5\.\.8$"):
        get_loss("elr", n_train=8)(z, y, torch.arange(5, 9))
    loss = get_loss("elr", n_train=8)
    v = loss(z, y, torch.arange(4))
    assert loss.targets[:4].abs().sum() > 0 and loss.targets[4:].abs().sum() == 0
    assert v.item() != pytest.approx(F.cross_entropy(z, y).item())


def test_elr_in_evaluation_is_ce_and_leaves_its_targets_alone():
    z, y = z_y()
    loss = get_loss("elr", n_train=8).eval()
    before = loss.targets.clone()
    torch.testing.assert_close(loss(z, y), F.cross_entropy(z, y))
    torch.testing.assert_close(loss(z, y, torch.arange(4)), F.cross_entropy(z, y))  # idx or not
    assert torch.equal(loss.targets, before)
    torch.testing.assert_close(get_loss("elr").eval()(z, y), F.cross_entropy(z, y))  # unbound too


def test_elr_targets_are_a_buffer_in_the_state_dict_and_move_with_the_loss():
    loss = get_loss("elr", 10).bind(6)
    assert list(loss.state_dict()) == ["targets"] and dict(loss.named_buffers()).keys() == {"targets"}
    assert loss.to("meta").targets.device.type == "meta"
    assert get_loss("elr", 10).bind(6).double().targets.dtype == torch.float64
    # A checkpoint of before (a dict with "targets"), and one of before losses had state ({}), load.
    old = {"targets": torch.full((6, 10), 0.1)}
    fresh = get_loss("elr", 10).bind(6)
    fresh.load_state_dict(old)
    assert torch.equal(fresh.targets, old["targets"])
    fresh.load_state_dict({})
    assert torch.equal(fresh.targets, old["targets"])
    unbound = get_loss("elr", 10)
    unbound.load_state_dict(old)  # the checkpoint's targets
    assert torch.equal(unbound.targets, old["targets"])
    with pytest.raises(ValueError, match=r"the state's ELR targets are \[6, 10\], this loss's \[5, 10\]"):
        get_loss("elr", 10).bind(5).load_state_dict(old)
    with pytest.raises(RuntimeError, match="unexpected key"):
        get_loss("ce").load_state_dict(old)
    assert get_loss("ce").state_dict() == {} and get_loss("ce").load_state_dict({}) is not None


# --- fwd and bwd ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fwd", "bwd"])
def test_fwd_and_bwd_say_how_to_give_the_transition_matrix(name):
    z, y = z_y()
    message = (rf"^{name} needs the noise's transition matrix T \[10, 10\] \(T\[i, j\] = P\(label j \| true class i\)\): "
               rf"get_loss\('{name}', transition=T\) or loss.bind\(n_train, transition=T\)$")
    for loss in (get_loss(name), get_loss(name).eval()):
        with pytest.raises(ValueError, match=message):
            loss(z, y)
    T = torch.full((10, 10), 0.02).fill_diagonal_(0.82)
    for loss in (get_loss(name, transition=T), get_loss(name).bind(100, transition=T)):
        assert torch.isfinite(loss(z, y))
        assert loss.state_dict() == {}  # the matrix is the run's noise (noise.json), not a learnt state
        assert loss.to("meta").T.device.type == "meta"
        assert (loss.T_inv is not None) == (name == "bwd")
    with pytest.raises(ValueError, match=rf"^{name}'s transition matrix must be floating point of shape \[10, 10\]"):
        get_loss(name, transition=torch.eye(3))


# --- GJS --------------------------------------------------------------------------------------------------------

def test_gjs_in_training_needs_its_views():
    z, y = z_y()
    loss = get_loss("gjs", pi=0.3)  # M = 3
    with pytest.raises(ValueError, match=r"^gjs with M = 3 reads M - 1 = 2 augmented views of each image in training: "
                                         r"logits \[M - 1, B, C\] = \[2, 4, 10\], got \[4, 10\]; in evaluation "
                                         r"\(loss.eval\(\)\) one view \[B, C\] is JS$"):
        loss(z, y)
    assert torch.isfinite(loss(torch.stack([z, z + 0.1]), y))
    torch.testing.assert_close(loss.eval()(z, y), get_loss("js", pi=0.3)(z, y))
    assert torch.isfinite(get_loss("gjs", M=2)(z, y))  # M = 2 is JS: one view


# --- ANL's and JAL's L1 term ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["anl-ce", "anl-fl", "anl-ce-er", "nce+amse", "nfl+amse"])
def test_the_l1_term_needs_the_parameters_in_training(name):
    z, y = z_y()
    loss = get_loss(name)
    delta = loss.values["delta"]
    with pytest.raises(ValueError, match=rf"^{name.replace('+', '[+]')}'s objective includes delta \* sum \|theta\| over "
                                         rf"the model's parameters \(delta {delta:g}\): loss\(logits, y, "
                                         r"params=model.parameters\(\)\) adds it; get_loss\('.*', \.\.\., delta=0\) "
                                         r"leaves it out"):
        loss(z, y)
    model = torch.nn.Linear(3, 2)
    l1 = sum(p.abs().sum() for p in model.parameters())
    torch.testing.assert_close(loss(z, y, params=model.parameters()), loss.data_term(z, y) + delta * l1)
    torch.testing.assert_close(loss.penalty(model.parameters()), delta * l1)
    torch.testing.assert_close(loss.penalty(model), delta * l1)  # a module: its parameters
    torch.testing.assert_close(loss.eval()(z, y), loss.data_term(z, y))  # evaluation: the data term
    torch.testing.assert_close(loss(z, y, params=model.parameters()), loss.data_term(z, y) + delta * l1)
    free = get_loss(name, delta=0)
    torch.testing.assert_close(free(z, y), free.data_term(z, y))


def test_a_training_step_adds_the_penalty_to_what_it_optimises_and_logs_the_data_term():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    ref = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    ref.load_state_dict(model.state_dict())
    loss_fn = get_loss("anl-ce", delta=0.01)
    x, y = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 3])
    step = engine.Step(model, torch.optim.SGD(model.parameters(), lr=0.1), loss_fn)
    _, logged = step(x, y)
    torch.testing.assert_close(logged, loss_fn.data_term(ref(x), y))
    objective = loss_fn(ref(x), y, params=ref.parameters())
    objective.backward()
    with torch.no_grad():
        for p, r in zip(model.parameters(), ref.parameters()):
            torch.testing.assert_close(p, r - 0.1 * r.grad)


def test_evaluate_measures_in_evaluation_mode_and_restores_the_mode():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    y = torch.arange(6)
    for name in ("elr", "anl-ce", "gjs"):
        loss_fn = get_loss(name, n_train=6)
        step = engine.Step(model, torch.optim.SGD(model.parameters(), lr=0.1), loss_fn)
        loss, _, _ = engine.evaluate(step, x, y, 4)
        logits = engine.predict(model, x, 4, step.spec)
        assert loss == pytest.approx(loss_fn.eval().data_term(logits, y).item(), rel=1e-6)
        loss_fn.train()
        assert loss_fn.training
        loss_fn.eval()
        engine.evaluate(step, x, y, 4)
        assert not loss_fn.training  # restored as it was


# --- every loss in training, with what it needs -----------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("gce+aul", "ngce+aul")])
def test_every_loss_trains_in_float32_under_autocast_given_what_it_needs(name):
    T = torch.full((10, 10), 0.3 / 9).fill_diagonal_(0.7)
    loss = get_loss(name, transition=T, n_train=16)
    z = torch.randn(8, 10, generator=torch.Generator().manual_seed(2), requires_grad=True)
    y, idx = torch.arange(8), torch.arange(8) * 2
    w = torch.nn.Parameter(torch.ones(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = z.bfloat16() if loss.views == 1 else torch.stack([z, z.flip(0)]).bfloat16()
        v = loss(logits, y, idx, params=[w])
    v.backward()
    assert v.dtype == torch.float32 and torch.isfinite(v) and torch.isfinite(z.grad).all()
    assert (w.grad is not None and torch.equal(w.grad, torch.full((3,), loss.l1))) == (loss.l1 > 0)


# --- list_losses ------------------------------------------------------------------------------------------------

def test_list_losses_names_every_loss_with_its_papers_values():
    listed = list_losses()
    json.dumps(listed)  # plain data: no tensor
    names = [d["name"] for d in listed]
    assert len(names) == len(set(names))
    assert set(registry.NAMES) <= set(names) and set(registry.COMBINED) <= set(names)
    assert {f"LOSS+{w}" for w in registry.WRAPS} <= set(names)
    for d in listed:
        assert set(d) == {"name", "kind", "parts", "values", "paper"} and d["paper"], d
        if d["kind"] != "wrap" and d["name"] not in ("gce+aul", "ngce+aul"):
            assert d["values"] == get_loss(d["name"]).values, d["name"]
    by = {d["name"]: d for d in listed}
    assert by["nfl+amse"]["values"]["gamma"] == 0.5 and "joint asymmetric" in by["nfl+amse"]["paper"]
    assert by["nce+agce"]["paper"].startswith("Zhou et al. 2021") and by["apl-nce-mae"]["kind"] == "alias"
    assert by["anl-ce"]["kind"] == "pair" and by["nce+rce"]["kind"] == "active+passive"
    assert by["LOSS+lc"]["values"] == {"logit_clip": 1.0} and not math.isnan(by["gce"]["values"]["q"])
