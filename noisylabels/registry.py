"""What can be named on the command line and built later: every loss and every network, with no torch.

The loss registry is the one home of each loss's name, its parts, the hyperparameters it reads and its
paper's values (those read from released code are released.py's); losses.py holds the formulas and builds a
loss from a row here (get_loss), config.py resolves a run's values from here and from the presets, and presets.py refers to these names. Adding a
loss is its formula in losses.py, one row here, one line in docs/losses.md (docs/losses.md, "Adding a loss").
"""
import functools
from dataclasses import dataclass, field

from .errors import UserError, nearest
from .noise import parse_setting
from .released import (AMSE_ROW, ANL_VALUES, BOOT_HARD, BOOT_SOFT, ELR, EPS, EPS_ROW, GJS_ROW, JAL, JS_ROW,
                      LC_ROW, NLS, NONE_RELEASED, PHUBER, SR, ZHOU, ZHOU_VALUES)

# The networks model.py builds, by --arch name (model.ARCHS has the same keys; a test keeps them equal).
ARCHS = ("resnet18", "resnet34", "resnet50", "cnn4", "cnn8", "resnet50-imagenet")


@dataclass(frozen=True)
class Row:
    """One loss. kind: active or passive (combinable as active+passive), single (a loss of its own, not
    combined), part (only inside named pairs: ANL's negative losses, the eps-softmax ones), pair (a named
    weighted pair of parts) or wrap (what acts on any loss's logits, named as a suffix: ce+lc). reads: the
    hyperparameters its formula takes. values: its paper's CIFAR-10 values (per noise type and rate where
    the paper gives them so); by_dataset: the paper's own values on another data set, where they differ.
    setup: what its paper changes in the training setup (ANL's weight decay 0). source: the released file
    the values were read from (repository@commit path)."""
    kind: str
    paper: str
    reads: frozenset = frozenset()
    parts: tuple = ()
    values: dict = field(default_factory=dict)
    by_dataset: dict = field(default_factory=dict)
    setup: dict = field(default_factory=dict)
    source: str = ""


def _row(kind, paper, reads=(), **kw):
    return Row(kind, paper, frozenset(reads), **kw)


_MA = "Ma et al. 2020, Normalized Loss Functions for Deep Learning with Noisy Labels"
_ZHOU = "Zhou et al. 2021, Asymmetric Loss Functions for Learning with Noisy Labels"
_YE = "Ye et al. 2023, Active Negative Loss Functions for Learning with Noisy Labels"
# The course report the suite began as a reproduction of (docs/report.md): its nce-exp and nfl-exp, and --preset report.
REPORT = "S. Kathuria, Core ML: Robust Learning with Noisy Labels, a course report (docs/report.md)"
_REED = "Reed et al. 2015, Training Deep Neural Networks on Noisy Labels with Bootstrapping"
_GJS_PAPER = "Englesson & Azizpour 2021, Generalized Jensen-Shannon Divergence Loss for Learning with Noisy Labels"
_EPSP = "Wang et al. 2024, eps-Softmax: Approximating One-Hot Vectors for Mitigating Label Noise"
_PATRINI = "Patrini et al. 2017, Making Deep Neural Networks Robust to Label Noise: a Loss Correction Approach"
_LC = "Wei et al. 2023, Mitigating Memorization of Noisy Labels by Clipping the Model Prediction"
LOSSES = {
    "ce": _row("active", "cross-entropy"),
    "fl": _row("active", "Lin et al. 2017, Focal Loss for Dense Object Detection", {"gamma"}),
    "nce": _row("active", _MA),
    "nfl": _row("active", _MA, {"gamma"}),
    "gce": _row("active", "Zhang & Sabuncu 2018, Generalized Cross Entropy Loss", {"q"}, values={"q": 0.7}),
    "ngce": _row("active", _MA, {"q"}, values={"q": 0.7}),
    "nce-exp": _row("active", REPORT, {"temperature"}),
    "nfl-exp": _row("active", REPORT, {"gamma", "temperature"}),
    "mae": _row("passive", "Ghosh et al. 2017, Robust Loss Functions under Label Noise for Deep Neural Networks"),
    "rce": _row("passive", "Wang et al. 2019, Symmetric Cross Entropy for Robust Learning with Noisy Labels"),
    "nmae": _row("passive", _MA),
    "nrce": _row("passive", _MA),
    "agce": _row("passive", _ZHOU, {"a", "q"}, values=ZHOU_VALUES["agce"][0], by_dataset=ZHOU_VALUES["agce"][1]),
    "aul": _row("passive", _ZHOU, {"a", "q"}, values=ZHOU_VALUES["aul"][0], by_dataset=ZHOU_VALUES["aul"][1]),
    "ael": _row("passive", _ZHOU, {"a"}, values=ZHOU_VALUES["ael"][0], by_dataset=ZHOU_VALUES["ael"][1]),
    "amse": _row("passive", "the joint asymmetric losses (2025, cswjl/joint-asymmetric-loss)", {"a", "delta"},
                 **AMSE_ROW),
    "nnce": _row("part", _YE),
    "nnfl": _row("part", _YE, {"gamma"}),
    "sce": _row("pair", "Wang et al. 2019", parts=("ce", "rce"), values={"alpha": 0.1, "beta": 1.0}),
    "anl-ce": _row("pair", _YE, {"delta"}, parts=("nce", "nnce"), values=ANL_VALUES, setup={"weight_decay": 0.0}),
    "anl-fl": _row("pair", _YE, {"delta"}, parts=("nfl", "nnfl"), values=ANL_VALUES, setup={"weight_decay": 0.0}),
    "anl-ce-er": _row("pair", _YE + " (code)", {"delta", "lamb"}, parts=("nce", "nnce"),
                      values={**ANL_VALUES, "lamb": 2.0}, setup={"weight_decay": 0.0}),
    "mse": _row("single", "the squared error of p, as the eps-softmax and JAL code average it"),
    # ls, nls and taylor-ce: no released value; t 0.1 is the NLS code's default, -0.2 and order 2 the suite's choice.
    "ls": _row("single", "Szegedy et al. 2016, Rethinking the Inception Architecture", {"t"}, values={"t": 0.1},
               source=NLS),
    "nls": _row("single", "Wei et al. 2022, To Smooth or Not? When Label Smoothing Meets Noisy Labels", {"t"},
                values={"t": -0.2}, source=NONE_RELEASED),
    "boot-soft": _row("single", _REED, {"beta"}, values={"beta": 0.95}, source=BOOT_SOFT),
    "boot-hard": _row("single", _REED, {"beta"}, values={"beta": 0.8}, source=BOOT_HARD),
    "taylor-ce": _row("single", "Feng et al. 2020, Can Cross Entropy Loss Be Robust to Label Noise?", {"order"},
                      values={"order": 2}, source=NONE_RELEASED),
    "phuber-ce": _row("single", "Menon et al. 2020, Can Gradient Clipping Mitigate Label Noise?", {"tau"},
                      values={"tau": 2.0}, by_dataset={"cifar100": {"tau": 10.0}, "mnist": {"tau": 10.0}},
                      source=PHUBER),
    "js": _row("single", _GJS_PAPER, {"pi"}, **JS_ROW),
    "gjs": _row("single", _GJS_PAPER, {"pi", "M"}, **GJS_ROW),
    "ldr-kl": _row("single", "Zhu et al. 2023, Label Distributionally Robust Losses for Multi-class Classification",
                   {"lamb", "margin"}, values={"lamb": 10.0, "margin": 0.1}, by_dataset={"cifar100": {"lamb": 1.0}},
                   source=EPS),
    "ece": _row("part", _EPSP, {"m"}),
    "efl": _row("part", _EPSP, {"m", "gamma"}, values={"gamma": 0.1}),  # EFLandMAE's gamma, never passed: 0.1
    "mae-eps": _row("part", _EPSP + " (its MAE, 2 (1 - p_y))"),
    "ece+mae": _row("pair", _EPSP, {"m"}, parts=("ece", "mae-eps"), **EPS_ROW),
    "efl+mae": _row("pair", _EPSP, {"m"}, parts=("efl", "mae-eps"), **EPS_ROW),
    "elr": _row("single", "Liu et al. 2020, Early-Learning Regularization Prevents Memorization of Noisy Labels",
                {"beta", "lamb"}, values={"sym": {"beta": 0.7, "lamb": 3.0}, "asym": {"beta": 0.9, "lamb": 1.0}},
                by_dataset={"cifar100": {"beta": 0.9, "lamb": 7.0}}, source=ELR),
    "fwd": _row("single", _PATRINI),
    "bwd": _row("single", _PATRINI),
    # What wraps any loss's logits, named as a suffix: --loss ce+lc is the paper's CE+LC.
    "lc": _row("wrap", _LC + ", as the paper defines it", {"logit_clip"}, **LC_ROW),
    "lc-released": _row("wrap", _LC + ", as the released code computes it", {"logit_clip"}, **LC_ROW),
    # On MNIST the released code divides the logits by tau without normalising them, and its values are for that.
    "sr": _row("wrap", "Zhou et al. 2021, Learning with Noisy Labels via Sparse Regularization", {"sr", "sr_normalise"},
               source=SR, values={"sr": (0.5, 0.1, 1.2, 1.03, 1), "sr_normalise": True},
               by_dataset={"mnist": {"sr": (0.1, 0.1, 4.0, 2.0, 5), "sr_normalise": False},
               "cifar100": {"sym": {"sr": (0.5, 0.01, 4.0, 1.02, 1)}, "asym": {"sr": (0.5, 0.01, 10.0, 1.02, 1)}}}),
}
# Combinations whose own paper gives them values of their own (Zhou et al.'s NCE+AGCE, NCE+AUL, NCE+AEL; JAL's
# NCE+AMSE and NFL+AMSE), with where the values come from.
COMBINED = {k: (v, by, ZHOU) for k, (v, by) in ZHOU_VALUES.items() if "+" in k}
# nfl+amse's gamma 0.5 is JAL's focal exponent (its config.py, and the suite's ye2023 runs), not Lin et al.'s 2.
COMBINED.update({"nce+amse": ({"alpha": 1.0, "beta": 1.0}, {"cifar100": {"alpha": 5.0}}, JAL),
                 "nfl+amse": ({"alpha": 1.0, "beta": 1.0, "gamma": 0.5}, {"cifar100": {"alpha": 5.0}}, JAL)})
ALIASES = {"apl-nce-mae": "nce+mae", "apl-nfl-mae": "nfl+mae"}
# Accepted with every loss and used by those that read them; where no flag or preset gives one, these (every preset
# gives gamma, the report's being Lin et al.'s below: get_loss without a data set takes it from here).
EVERY_LOSS = {"gamma": 2.0, "temperature": 1.0}  # Lin et al.'s focal exponent; the report's T
# A loss's own values: refused on the command line where the loss does not read them, null in config.json. Each is
# a flag of train.py (--KEY), with this help.
KEYS = {"alpha": "weight of the first (active) part of a pair: APL, sce, anl-*, ece+mae",
        "beta": "weight of the second (passive) part of a pair; bootstrapping's weight of the label; ELR's target "
                "momentum",
        "scale": "weight of a single (unpaired) loss, as the released configs' scale",
        "a": "a of agce, aul, ael and amse",
        "delta": "L1 weight on the parameters of anl-* and amse's pairs",
        "lamb": "anl-ce-er's entropy regulariser weight; ELR's regulariser weight; LDR-KL's lambda",
        "t": "smoothing of ls (in [0, 1)) and nls (< 0)",
        "order": "order n of taylor-ce's series",
        "tau": "tau of phuber-ce (> 1)",
        "pi": "weight pi_1 of the label in js and gjs",
        "M": "gjs's M: the label and M - 1 predictions, of M - 1 augmented views of each image",
        "margin": "LDR-KL's margin delta",
        "m": "m of the eps-softmax losses (ece+mae, efl+mae)"}
OWN_KEYS = tuple(KEYS)
WHOLE = ("order", "M")  # the keys whose values are whole numbers
KINDS = ("active", "passive", "single", "part", "pair", "wrap")  # Row's kinds
ACTIVE = [n for n, r in LOSSES.items() if r.kind == "active"]
PASSIVE = [n for n, r in LOSSES.items() if r.kind == "passive"]
SINGLE = ACTIVE + PASSIVE + [n for n, r in LOSSES.items() if r.kind == "single"]
PAIRS = {n: r.parts for n, r in LOSSES.items() if r.kind == "pair"}
WRAPS = [n for n, r in LOSSES.items() if r.kind == "wrap"]
APL = [f"{a}+{p}" for a in ACTIVE for p in PASSIVE]
NAMES = SINGLE + list(PAIRS) + APL + list(ALIASES)
WRAP_KEYS = ("logit_clip", "sr", "sr_normalise")  # the values of the wraps, each a flag of train.py


def unwrap(name):
    """(base name, wraps) of a loss name: 'nce+rce+lc' -> ('nce+rce', ('lc',))."""
    base, wraps = name, ()
    while base.rpartition("+")[2] in WRAPS and base.rpartition("+")[1]:
        base, _, tail = base.rpartition("+")
        wraps = (tail,) + wraps
    return base, wraps


def canonical(name):
    """The loss's canonical name, or a UserError listing the valid names (and the nearest one)."""
    base, wraps = unwrap(name)
    key = ALIASES.get(base, base)
    if key not in NAMES:
        raise UserError(f"unknown loss '{name}'{nearest(name.lower(), NAMES) or nearest(name, NAMES)}; choose one of: "
                         f"{', '.join(SINGLE + list(PAIRS))}, or active+passive with active in "
                         f"{{{', '.join(ACTIVE)}}} and passive in {{{', '.join(PASSIVE)}}}, e.g. nce+rce; any of "
                         f"them +lc, +lc-released or +sr")
    if len(wraps) > 1:
        raise UserError(f"'{name}' wraps its logits {len(wraps)} times ({', '.join(wraps)}); logit clipping and sparse "
                         f"regularisation each set the logits' norm: choose one")
    return "+".join((key,) + wraps)


def parts(name):
    """The base losses a named loss is made of: (name,) or (first, second); its wrap is not a part."""
    key = unwrap(canonical(name))[0]
    return (key,) if key in SINGLE else PAIRS[key] if key in PAIRS else tuple(key.split("+"))


def uses(name):
    """The hyperparameters a loss reads: alpha and beta for pairs, scale for single losses, its parts', its wrap's."""
    key, wraps = unwrap(canonical(name))
    own = {"scale"} if key in SINGLE else {"alpha", "beta"}
    rows = [LOSSES[k] for k in (key,) + parts(key) + wraps if k in LOSSES]
    return own.union(*(r.reads for r in rows))


def _noise_of(setting):
    # The (kind, rate) whose values a setting takes (noise.parse_setting reads its name; None: clean): a clean run
    # and labels from a file (whose name is no rate) take sym's at rate 0, human-matched noise human's.
    kind, rate = parse_setting(setting or "none-0.0")
    if kind in ("none", "file"):
        return "sym", 0.0
    return ("human" if kind == "human-matched" else kind), rate if isinstance(rate, float) else 0.0


def for_setting(values, setting):
    """A value table resolved for one noise setting: its plain values, then its noise type's, then its rate's.

    A noise type with no values of its own takes "sym"'s at the same rate; "sym-0.4" holds the values from rate 0.4
    up to the next rate listed, and below the first rate listed, the first's."""
    kind, rate = _noise_of(setting)
    if not any(k == kind or k.startswith(kind + "-") for k in values):
        kind = "sym"
    out = {k: v for k, v in values.items() if not isinstance(v, dict)}
    out.update(values.get(kind, {}))
    steps = sorted((float(k.split("-", 1)[1]), k) for k in values if k.startswith(kind + "-"))
    if steps:
        out.update(values[([k for r, k in steps if r <= rate + 1e-9] or [steps[0][1]])[-1]])
    return out


def default_hp(name, dataset="cifar10", setting=None):
    """The paper's values of a loss on a data set and noise setting (config.setting's "sym-0.4"; None: clean):
    1 for alpha, beta and scale, then its parts', then its own, then its wrap's."""
    key, wraps = unwrap(canonical(name))
    hp = {"scale": 1.0} if key in SINGLE else {"alpha": 1.0, "beta": 1.0}
    for k in parts(key) + (key,) + wraps:
        row = LOSSES.get(k)
        values, by = (row.values, row.by_dataset) if row else COMBINED.get(k, ({}, {}, ""))[:2]
        hp.update(for_setting(values, setting), **for_setting(by.get(dataset, {}), setting))
    return {k: v for k, v in hp.items() if k in uses(name)}


def source_of(name, dataset):
    """Where default_hp's values come from, for config.json's sources: the released files, else the registry."""
    key, wraps = unwrap(canonical(name))
    files = [LOSSES[k].source for k in parts(key) + (key,) + wraps if k in LOSSES and LOSSES[k].source]
    files += [COMBINED[key][2]] if key in COMBINED else []
    zhou = ZHOU in files or set(parts(key)) & set(ZHOU_VALUES)
    zhou = [f"Zhou et al. 2021's values for {dataset}: {ZHOU}"] if zhou else []
    files = [f for f in files if f != ZHOU] + zhou
    row = LOSSES.get(key)
    paper = row.paper if row else "its parts"
    return "; ".join(dict.fromkeys(files)) or f"the loss's paper values ({paper}; registry.py)"


def setup_of(name):
    """The training-setup values a loss's paper changes (ANL, and JAL's AMSE pairs: weight decay 0)."""
    key = unwrap(canonical(name))[0]
    return {k: v for p in parts(key) + (key,) if p in LOSSES for k, v in LOSSES[p].setup.items()}


@functools.lru_cache(maxsize=None)  # the table never changes, and every parser() asks for it per flag
def value_help(key):
    """'V for loss, ...' of every loss whose paper value of key (CIFAR-10, clean) is not 1, for --help."""
    by_value = {}
    for name in SINGLE + list(PAIRS) + list(COMBINED):
        v = default_hp(name).get(key)
        if v is not None and v != 1.0:
            by_value.setdefault(v, []).append(name)
    return ", ".join(f"{v:g} for {', '.join(names)}" for v, names in by_value.items())


def _need(key, name, reads, paper):
    # (what key must be for this loss, a test of a value) or None where nothing is asked of it
    if key == "q" and reads & {"gce", "ngce"} and paper:
        return "in (0, 1] for " + " and ".join(sorted(reads & {"gce", "ngce"})), lambda v: 0 < v <= 1
    if key == "a" and "aul" in reads:
        return "> 1 for aul, whose (a - p_y)^q needs a - 1 > 0", lambda v: v > 1
    if key == "t":
        return ("< 0 for nls", lambda v: v < 0) if "nls" in reads else ("in [0, 1) for ls", lambda v: 0 <= v < 1)
    if key == "beta" and reads & {"elr", "boot-soft", "boot-hard"}:
        return ("in [0, 1) for elr", lambda v: 0 <= v < 1) if "elr" in reads else \
            (f"in [0, 1] for {name}", lambda v: 0 <= v <= 1)
    if key in ("order", "M"):
        low = 1 if key == "order" else 2
        return f"a whole number >= {low} for {name}", lambda v: float(v).is_integer() and v >= low
    if key == "sr":
        return ("tau,p,lambda,rho[,freq] with tau, p, rho > 0, lambda >= 0 and freq a whole number >= 1",
                lambda v: len(v) in (4, 5) and v[0] > 0 and v[1] > 0 and v[2] >= 0 and v[3] > 0 and
                (len(v) == 4 or (float(v[4]).is_integer() and v[4] >= 1)))
    return {"q": ("> 0", lambda v: v > 0), "a": ("> 0", lambda v: v > 0), "tau": ("> 1 for phuber-ce", lambda v: v > 1),
            "pi": (f"in (0, 1) for {name}", lambda v: 0 < v < 1), "m": ("> 0", lambda v: v > 0),
            "gamma": (">= 0", lambda v: v >= 0), "temperature": ("> 0", lambda v: v > 0),
            "scale": ("> 0", lambda v: v > 0), "delta": (">= 0", lambda v: v >= 0),
            "lamb": ((">= 0", lambda v: v >= 0) if "ldr-kl" not in reads else ("> 0 for ldr-kl", lambda v: v > 0)),
            "logit_clip": ("> 0", lambda v: v > 0), "margin": (">= 0", lambda v: v >= 0)}.get(key)


def out_of_domain(name, values, paper=True):
    """'KEY must be ..., got V' for the first value outside its domain for the loss `name`, else None (config.check
    says it as the flag, --KEY).

    paper=False asks only that the formula be defined: GCE's (1 - p^q) / q is also for q > 1, which its paper
    leaves out. get_loss and train.py both check with paper=True, so gce+aul at aul's q of 3 is refused by both."""
    key, wraps = unwrap(canonical(name))
    reads, used = set(parts(key)) | {key} | set(wraps), uses(name) | set(EVERY_LOSS)
    for k in sorted(used):
        rule = _need(k, key, reads, paper)
        if rule and values.get(k) is not None and not rule[1](values[k]):
            v = values[k]
            shown = ",".join(f"{x:g}" for x in v) if isinstance(v, (list, tuple)) else f"{v:g}"
            return f"{k} must be {rule[0]}, got {shown}"
    return None


def not_read(name, values):
    """'KEY does not apply to the loss ...' for the first of a loss's own values (OWN_KEYS) given (not None) that the
    loss `name` does not read, else None (config.resolve says it as the flag, --KEY)."""
    key, used = canonical(name), uses(name)
    for k in OWN_KEYS:
        if values.get(k) is not None and k not in used:
            has = [n for n in SINGLE + list(PAIRS) + ["nce+agce"] if k in uses(n)]
            return (f"{k} does not apply to the loss '{key}'; leave it out, or use a loss that has it "
                    f"({', '.join(has[:6])}{', ...' if len(has) > 6 else ''})")
    return None
