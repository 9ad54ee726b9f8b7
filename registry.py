"""What can be named on the command line and built later: every loss and every network, with no torch.

The loss registry is the one home of each loss's name, its parts, the hyperparameters it reads and its
paper's values; losses.py holds the formulas and builds a loss from a row here (get_loss), config.py
resolves a run's values from here and from the presets, and presets.py refers to these names. Adding a
loss is its formula in losses.py, one row here, one line in docs/losses.md (docs/losses.md, "Adding a loss").
"""
from dataclasses import dataclass, field

from errors import UserError, nearest

# The networks model.py builds, by --arch name (model.ARCHS has the same keys; a test keeps them equal).
ARCHS = ("resnet18", "resnet34", "resnet50", "cnn4", "cnn8")

ZHOU = "hitcszx/ALFs@898961f config.py"  # Zhou et al. 2021's released values per data set


@dataclass(frozen=True)
class Row:
    """One loss. kind: active or passive (combinable as active+passive), negative (ANL's second parts only),
    or pair (a named weighted pair of parts). reads: the hyperparameters its formula takes. values: its
    paper's CIFAR-10 values; by_dataset: the paper's own values on another data set, where they differ.
    setup: what its paper changes in the training setup (ANL's weight decay 0)."""
    kind: str
    paper: str
    reads: frozenset = frozenset()
    parts: tuple = ()
    values: dict = field(default_factory=dict)
    by_dataset: dict = field(default_factory=dict)
    setup: dict = field(default_factory=dict)


def _row(kind, paper, reads=(), **kw):
    return Row(kind, paper, frozenset(reads), **kw)


_MA = "Ma et al. 2020, Normalized Loss Functions for Deep Learning with Noisy Labels"
_ZHOU = "Zhou et al. 2021, Asymmetric Loss Functions for Learning with Noisy Labels"
_YE = "Ye et al. 2023, Active Negative Loss Functions for Learning with Noisy Labels"
_REPORT = "the report's definition (reference/)"
_ANL = {"alpha": 5.0, "beta": 5.0, "delta": 5e-5}
# Zhou et al.'s values per data set, for their losses alone and in NCE+ (hitcszx/ALFs config.py).
_Z = {"agce": ({"a": 0.6, "q": 0.6}, {"cifar100": {"a": 0.6, "q": 0.6}, "mnist": {"a": 4.0, "q": 0.2}}),
      "aul": ({"a": 5.5, "q": 3.0}, {"cifar100": {"a": 5.5, "q": 3.0}, "mnist": {"a": 3.0, "q": 0.1}}),
      "ael": ({"a": 2.5}, {"cifar100": {"a": 2.5}, "mnist": {"a": 3.5}}),
      "nce+agce": ({"alpha": 1.0, "beta": 4.0, "a": 6.0, "q": 1.5},
                   {"cifar100": {"alpha": 10.0, "beta": 0.1, "a": 1.8, "q": 3.0},
                    "mnist": {"alpha": 0.0, "beta": 1.0, "a": 4.0, "q": 0.2}}),
      "nce+aul": ({"alpha": 1.0, "beta": 4.0, "a": 6.3, "q": 1.5},
                  {"cifar100": {"alpha": 10.0, "beta": 0.015, "a": 6.0, "q": 3.0},
                   "mnist": {"alpha": 0.0, "beta": 1.0, "a": 3.0, "q": 0.1}}),
      "nce+ael": ({"alpha": 1.0, "beta": 4.0, "a": 5.0},
                  {"cifar100": {"alpha": 10.0, "beta": 0.1, "a": 1.5}, "mnist": {"alpha": 0.0, "beta": 1.0, "a": 3.5}})}

LOSSES = {
    "ce": _row("active", "cross-entropy"),
    "fl": _row("active", "Lin et al. 2017, Focal Loss for Dense Object Detection", {"gamma"}),
    "nce": _row("active", _MA),
    "nfl": _row("active", _MA, {"gamma"}),
    "gce": _row("active", "Zhang & Sabuncu 2018, Generalized Cross Entropy Loss", {"q"}, values={"q": 0.7}),
    "ngce": _row("active", _MA, {"q"}, values={"q": 0.7}),
    "nce-exp": _row("active", _REPORT, {"temperature"}),
    "nfl-exp": _row("active", _REPORT, {"gamma", "temperature"}),
    "mae": _row("passive", "Ghosh et al. 2017, Robust Loss Functions under Label Noise for Deep Neural Networks"),
    "rce": _row("passive", "Wang et al. 2019, Symmetric Cross Entropy for Robust Learning with Noisy Labels"),
    "nmae": _row("passive", _MA),
    "nrce": _row("passive", _MA),
    "agce": _row("passive", _ZHOU, {"a", "q"}, values=_Z["agce"][0], by_dataset=_Z["agce"][1]),
    "aul": _row("passive", _ZHOU, {"a", "q"}, values=_Z["aul"][0], by_dataset=_Z["aul"][1]),
    "ael": _row("passive", _ZHOU, {"a"}, values=_Z["ael"][0], by_dataset=_Z["ael"][1]),
    "nnce": _row("negative", _YE),
    "nnfl": _row("negative", _YE, {"gamma"}),
    "sce": _row("pair", "Wang et al. 2019", parts=("ce", "rce"), values={"alpha": 0.1, "beta": 1.0}),
    "anl-ce": _row("pair", _YE, {"delta"}, parts=("nce", "nnce"), values=_ANL, setup={"weight_decay": 0.0}),
    "anl-fl": _row("pair", _YE, {"delta"}, parts=("nfl", "nnfl"), values=_ANL, setup={"weight_decay": 0.0}),
    "anl-ce-er": _row("pair", _YE + " (code)", {"delta", "lamb"}, parts=("nce", "nnce"),
                      values={**_ANL, "lamb": 2.0}, setup={"weight_decay": 0.0}),
}
# Combinations whose own paper gives them values of their own (Zhou et al.'s NCE+AGCE, NCE+AUL, NCE+AEL).
COMBINED = {k: (v, by) for k, (v, by) in _Z.items() if "+" in k}
ALIASES = {"apl-nce-mae": "nce+mae", "apl-nfl-mae": "nfl+mae"}
# Accepted with every loss and used by those that read them; where no flag or preset gives one, these.
EVERY_LOSS = {"gamma": 2.0, "temperature": 1.0}  # Lin et al.'s focal exponent; the report's T
# A loss's own values: refused on the command line where the loss does not read them, null in config.json.
OWN_KEYS = ("alpha", "beta", "scale", "a", "delta", "lamb")

ACTIVE = [n for n, r in LOSSES.items() if r.kind == "active"]
PASSIVE = [n for n, r in LOSSES.items() if r.kind == "passive"]
SINGLE = ACTIVE + PASSIVE
PAIRS = {n: r.parts for n, r in LOSSES.items() if r.kind == "pair"}
APL = [f"{a}+{p}" for a in ACTIVE for p in PASSIVE]
NAMES = SINGLE + list(PAIRS) + APL + list(ALIASES)


def canonical(name):
    """The loss's canonical name, or a UserError listing the valid names (and the nearest one)."""
    key = ALIASES.get(name, name)
    if key not in NAMES:
        raise UserError(f"unknown loss '{name}'{nearest(name, NAMES)}; choose one of: "
                         f"{', '.join(SINGLE + list(PAIRS))}, or active+passive with active in "
                         f"{{{', '.join(ACTIVE)}}} and passive in {{{', '.join(PASSIVE)}}}, e.g. nce+rce")
    return key


def parts(name):
    """The base losses a named loss is made of: (name,) or (first, second)."""
    key = canonical(name)
    return (key,) if key in SINGLE else PAIRS[key] if key in PAIRS else tuple(key.split("+"))


def uses(name):
    """The hyperparameters a loss reads: alpha and beta for pairs, scale for single losses, and its parts'."""
    key = canonical(name)
    own = {"scale"} if key in SINGLE else {"alpha", "beta"}
    row = LOSSES.get(key)
    return own.union(row.reads if row else set(), *(LOSSES[p].reads for p in parts(key)))


def default_hp(name, dataset="cifar10"):
    """The paper's values of a loss on a data set: 1 for alpha, beta and scale, then its parts', then its own."""
    key = canonical(name)
    hp = {"scale": 1.0} if key in SINGLE else {"alpha": 1.0, "beta": 1.0}
    for k in parts(key) + (key,):
        if k in LOSSES:
            hp.update(LOSSES[k].values, **LOSSES[k].by_dataset.get(dataset, {}))
        elif k in COMBINED:
            hp.update(COMBINED[k][0], **COMBINED[k][1].get(dataset, {}))
    return {k: v for k, v in hp.items() if k in uses(key)}


def source_of(name, dataset):
    """Where default_hp's values come from, for config.json's sources."""
    key = canonical(name)
    if key in COMBINED or any(LOSSES[p].by_dataset for p in parts(key) if p in LOSSES):
        return f"Zhou et al. 2021's values for {dataset}: {ZHOU}"
    row = LOSSES.get(key)
    return f"the loss's paper values ({row.paper if row else 'its parts'}; registry.py)"


def setup_of(name):
    """The training-setup values a loss's paper changes (ANL: weight decay 0)."""
    row = LOSSES.get(name) or LOSSES.get(canonical(name))
    return dict(row.setup) if row else {}


def value_help(key):
    """'V for loss, ...' of every loss whose paper value of key is not 1, for --help."""
    by_value = {}
    for name in SINGLE + list(PAIRS) + list(COMBINED):
        v = default_hp(name).get(key)
        if v is not None and v != 1.0:
            by_value.setdefault(v, []).append(name)
    return ", ".join(f"{v:g} for {', '.join(names)}" for v, names in by_value.items())
