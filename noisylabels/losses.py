"""Loss functions for learning with noisy labels: `Loss`, `get_loss` and `list_losses`.

Every loss maps logits [B, C] (any float dtype) and int64 labels [B] to the
batch mean, computed in float32 even under autocast (float64 stays float64).
Each base loss is written once, as a per-sample function of the log-probabilities
(formulas.py, modern.py); `get_loss` builds a named loss from them, including every
Active-Passive combination written `active+passive`. The names, parts, hyperparameters
and paper values of every loss are registry.py's.
"""
import numbers

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.module import _IncompatibleKeys

from . import config
from . import keys
from . import modern
from . import presets
from . import registry
from .data import DATASETS
from .realconfig import NUM_CLASSES as REAL_CLASSES
from .errors import UserError, nearest
from .formulas import BASE, entropy_reg
from .noise import HUMAN_LABELS, KINDS as NOISE_KINDS, RATED
from .registry import ACTIVE, ALIASES, APL, NAMES, PAIRS, PASSIVE, SINGLE, canonical, default_hp, parts, uses  # noqa: F401

# bwd's T^-1 multiplies the loss by up to T's condition number: beyond this, training only amplifies noise
# (asymmetric noise near 0.5). Symmetric 0.8 on 10 classes has 9, asymmetric 0.45 has 10.
BWD_COND = 1e3
ANL_DELTA = registry.LOSSES["anl-ce"].values["delta"]  # ANL's L1 weight on the model's parameters, CIFAR-10


def _shown(v):
    # a value as repr and messages show it: 10, 0.1, 5e-07, (0.5,0.1,1.2,1.03,1), True
    if isinstance(v, bool) or not isinstance(v, (int, float, list, tuple)):
        return str(v)
    return f"({','.join(f'{x:g}' for x in v)})" if isinstance(v, (list, tuple)) else f"{v:g}"


class Loss(nn.Module):
    """A named loss, as a torch.nn.Module: loss(logits, labels, idx=None, params=None) -> scalar batch mean, float32.

    logits are [B, C], or [V, B, C] for a loss that reads V views of each image (`views` > 1: GJS's M - 1
    augmented views); labels [B]; idx [B] the samples' positions in the training split (ELR reads them); params
    the model's parameters (model.parameters()), for a loss whose objective has an L1 term delta * sum |theta|.

    Training and evaluation are nn.Module's modes; a new loss is in training mode.
    - Training (loss.train()): the loss's whole objective. ELR needs idx and its running targets (get_loss(...,
      n_train=N) or loss.bind(N)), and updates the targets; GJS with M > 2 needs its M - 1 views [M - 1, B, C];
      ANL's and JAL's losses (delta > 0) need params, and add delta * sum |theta| over them. Each is refused with one
      UserError (a ValueError) that says what to give when it is missing.
    - Evaluation (loss.eval(), as engine.evaluate sets it for the validation and test loss): the loss as a
      measurement. ELR is CE alone (its regulariser is a training term; its targets are neither read nor updated),
      GJS given one view [B, C] is JS, and delta * sum |theta| is added only where params are given.
    fwd and bwd need the noise's transition matrix in both modes (get_loss(name, transition=T) or loss.bind(n_train,
    transition=T)).

    data_term(logits, labels, idx) is the loss without the L1 term (what train.py logs, and what a training step adds
    penalty(params) to); per_sample its per-sample terms. `values` are the hyperparameters the loss reads (with
    `sources`, where each came from), `setting` the data set, noise and preset they were resolved for (None: the
    papers' values). `l1` is delta (0 for every loss without the term); `lamb` weighs ANL-CE-ER's entropy regulariser,
    a term of the whole batch that per_sample leaves out. clip: (delta, form) of logit clipping; sr: (tau, p, lamb,
    rho, freq) of sparse regularisation, both applied to the logits before the loss sees them (sr_normalise: whether
    SR's logits are normalised). What the loss learns in training (ELR's targets, the buffer "targets") is in
    state_dict(), so in the checkpoint; T and T_inv are buffers outside it; .to(device) moves all of them.
    """

    def __init__(self, name, num_classes, parts, hp, l1=0.0, lamb=0.0, views=1, clip=None, sr=None, transition=None,
                 sr_normalise=True, values=None, setting=None, sources=None):
        super().__init__()
        self.name, self.num_classes, self.parts, self.hp, self.l1, self.lamb = name, num_classes, parts, hp, l1, lamb
        self.views, self.clip, self.sr, self.epoch = views, clip, sr, 1
        self.sr_normalise = sr_normalise  # SR's z / (tau ||z||); False: the released MNIST code's z / tau
        self.values = dict(hp) if values is None else dict(values)
        self.setting, self.sources = setting, dict(sources or {})
        self.register_buffer("targets", None)  # ELR's running targets [N, C], from bind: in state_dict
        self.register_buffer("T", None, persistent=False)  # fwd's and bwd's transition matrix [C, C]
        self.register_buffer("T_inv", None, persistent=False)  # its inverse, for bwd
        if transition is not None:
            self._set_transition(torch.as_tensor(transition))

    def _reads(self, f):
        return any(g is f for _, g in self.parts)

    def extra_repr(self):
        where = ""
        if self.setting:
            s = self.setting
            noise = s["noise"] + (f"-{s['rate']:g}" if s["rate"] is not None else "")
            where = f", setting={s['dataset']} {noise} {s['preset']}"
        values = "".join(f", {k}={_shown(v)}" for k, v in self.values.items())
        return f"{self.name}, num_classes={self.num_classes}{values}{where}"

    def _set_transition(self, T):
        # T^-1 once, not per batch (on a GPU, inv also checks its result on the host: a sync)
        if not (self._reads(modern.fwd) or self._reads(modern.bwd)):
            return  # only fwd and bwd read it
        C = self.num_classes
        if T.shape != (C, C) or not T.is_floating_point():
            raise UserError(f"{self.name}'s transition matrix must be floating point of shape [{C}, {C}] (T[i, j] = "
                            f"P(label j | true class i)), got {T.dtype} {list(T.shape)}")
        if self._reads(modern.bwd):
            cond = torch.linalg.cond(T.double()).item()
            if not cond < BWD_COND:
                raise UserError(f"bwd needs an invertible transition matrix, and this noise's is (nearly) singular "
                                f"(condition number {cond:.3g}: a class is flipped about as often as it is kept); use "
                                f"fwd, or a lower noise rate")
        self.T = T
        self.T_inv = torch.linalg.inv(T) if self._reads(modern.bwd) else None

    def bind(self, n_train, transition=None, device="cpu", dtype=torch.float32):
        """Give the loss what the run knows before training: the training split's size (ELR keeps a target per
        sample, zeros to start) and the realised transition matrix [C, C] of its noise (forward and backward
        correction; the other losses ignore it). Returns the loss."""
        if transition is not None:
            self._set_transition(torch.as_tensor(transition, dtype=dtype, device=device))
        if self._reads(modern.elr):
            if isinstance(n_train, bool) or not isinstance(n_train, numbers.Integral) or n_train < 1:
                raise UserError(f"n_train must be the training split's size, a whole number >= 1, got {n_train!r}")
            self.targets = torch.zeros(int(n_train), self.num_classes, dtype=dtype, device=device)
        return self

    def start_epoch(self, epoch):
        """Epoch e starts (from 1): sparse regularisation's weight grows by rho every freq epochs."""
        self.epoch = epoch

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Load ELR's targets from a checkpoint's state_dict(). A state without them (a checkpoint written before
        losses had state, or of any other loss: {}) leaves the targets as bind made them; an unbound ELR loss takes
        the checkpoint's."""
        state = dict(state_dict)
        targets = state.pop("targets", None)
        if targets is not None and not self._reads(modern.elr):
            state["targets"] = targets  # only ELR has targets
        if strict and state:
            raise RuntimeError(f"unexpected key(s) in the state of the loss {self.name}: {', '.join(sorted(state))}")
        if targets is not None and self._reads(modern.elr):
            if self.targets is None:
                self.targets = targets.detach().clone()
            elif targets.shape != self.targets.shape:
                raise UserError(f"the state's ELR targets are {list(targets.shape)}, this loss's "
                                f"{list(self.targets.shape)}: they are of another training split")
            else:
                self.targets.copy_(targets)
        return _IncompatibleKeys([], sorted(state))

    def penalty(self, params):
        """delta * sum |theta| over params (an iterable of tensors, e.g. model.parameters(), or a module): ANL's and
        JAL's L1 term; 0 times the sum for a loss whose delta is 0."""
        if isinstance(params, nn.Module):
            params = params.parameters()
        return self.l1 * sum(p.abs().sum() for p in params)

    def forward(self, logits, labels, idx=None, params=None):
        """The loss of a batch: data_term, plus penalty(params) where the loss has one (delta > 0). In training mode
        a loss with delta > 0 needs params."""
        data = self.data_term(logits, labels, idx)
        if not self.l1:
            return data
        if params is None:
            if self.training:
                raise UserError(f"{self.name}'s objective includes delta * sum |theta| over the model's parameters "
                                f"(delta {self.l1:g}): loss(logits, y, params=model.parameters()) adds it; "
                                f"get_loss('{self.name}', ..., delta=0) leaves it out, and loss.data_term(logits, y) "
                                f"or loss.eval() computes the loss without it")
            return data
        return data + self.penalty(params)

    def data_term(self, logits, labels, idx=None):
        """The batch mean of the loss's terms, plus lamb * entropy_reg of the batch: the loss without delta * sum
        |theta|."""
        with torch.autocast(logits.device.type, enabled=False):
            log_p, labels, views, z, idx = self._inputs(logits, labels, idx)
            mean = self._terms(log_p, labels, views, z, idx).mean()
            return mean + self.lamb * entropy_reg(log_p) if self.lamb else mean

    def per_sample(self, logits, labels, idx=None):
        """The per-sample terms [B]; the loss is their mean, plus lamb * entropy_reg of the batch."""
        with torch.autocast(logits.device.type, enabled=False):
            return self._terms(*self._inputs(logits, labels, idx))

    def _terms(self, log_p, labels, views, z, idx):
        ctx = {"T": self.T, "T_inv": self.T_inv, "targets": self.targets, "views": views, "idx": idx, "z": z}
        terms = sum(w * f(log_p, labels, **self.hp, **ctx) for w, f in self.parts)  # [B]
        if self.sr:  # lamb rho^floor((e - 1) / freq) sum_k p_k^p, Zhou et al. 2021's regulariser, in epoch e
            tau, p, lamb, rho, freq = self.sr
            terms = terms + lamb * rho ** ((self.epoch - 1) // int(freq)) * modern.p_norm(log_p, p)
        return terms

    def _inputs(self, logits, labels, idx):
        # The batch checked, and what the mode asks of it: (log_p, labels, views, z, idx), idx None in evaluation.
        out = self._log_p(logits, labels)
        B, C, name = len(out[1]), self.num_classes, self.name
        if self.views > 1 and logits.ndim == 2 and self.training:
            raise UserError(f"{name} with M = {self.views + 1} reads M - 1 = {self.views} augmented views of each "
                            f"image in training: logits [M - 1, B, C] = [{self.views}, {B}, {C}], got [{B}, {C}]; "
                            f"in evaluation (loss.eval()) one view [B, C] is JS")
        if (self._reads(modern.fwd) or self._reads(modern.bwd)) and self.T is None:
            raise UserError(f"{name} needs the noise's transition matrix T [{C}, {C}] (T[i, j] = P(label j | true "
                            f"class i)): get_loss('{name}', transition=T) or loss.bind(n_train, transition=T)")
        if not self._reads(modern.elr):
            return (*out, idx)
        if not self.training:
            return (*out, None)  # evaluation: CE alone
        if self.targets is None:
            raise UserError(f"{name} keeps a running target per training sample and has none: give "
                            f"get_loss('{name}', ..., n_train=N) or call loss.bind(N) first, N the training split's "
                            f"size; then loss(logits, y, idx) with each sample's position idx [B] in that split")
        if idx is None:
            raise UserError(f"{name} in training reads each sample's position in the training split: loss(logits, y, "
                            f"idx) with idx [B] (int64); for a validation or test loss call loss.eval() (CE alone)")
        n = len(self.targets)
        if idx.shape != (B,) or idx.dtype not in (torch.int64, torch.int32):
            raise UserError(f"idx must be integers of shape [{B}], got {idx.dtype} {list(idx.shape)}")
        if idx.device.type == "cpu" and B and (int(idx.min()) < 0 or int(idx.max()) >= n):
            raise UserError(f"idx must lie in [0, {n}) (n_train {n}), got {int(idx.min())}..{int(idx.max())}")
        return (*out, idx)

    def _log_p(self, logits, labels):
        # [B, C], or [V, B, C] with the V views of each image a loss with views > 1 reads in training
        shape = f"[B, {self.num_classes}]" + (f" or [{self.views}, B, {self.num_classes}]" if self.views > 1 else "")
        if logits.ndim not in ((2, 3) if self.views > 1 else (2,)) or logits.shape[-1] != self.num_classes \
                or not logits.is_floating_point() or (logits.ndim == 3 and len(logits) != self.views):
            raise UserError(f"logits must be floating point of shape {shape}, got {logits.dtype} {list(logits.shape)}")
        B = logits.shape[-2]
        if B == 0:
            raise UserError("the batch is empty: a loss needs at least one sample")
        if labels.shape != (B,) or labels.dtype not in (torch.int64, torch.int32, torch.uint8):
            raise UserError(f"labels must be integers of shape [{B}], got {labels.dtype} {list(labels.shape)}")
        # The range check reads the labels: on a GPU that is a sync per batch, so it is made on the CPU only
        # (train.py's labels come from the data files, whose range is checked when they are read).
        if labels.device.type == "cpu":
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= self.num_classes:
                raise UserError(f"labels must lie in [0, {self.num_classes}), got {lo}..{hi}")
        # Called with autocast off: the loss is computed in float32 (float64 stays float64, for gradcheck)
        # whatever precision the model ran in.
        x = logits if logits.dtype == torch.float64 else logits.float()
        if self.clip:
            x = modern.logit_clip(x, *self.clip)
        if self.sr:
            x = modern.sparse_logits(x, self.sr[0]) if self.sr_normalise else x / self.sr[0]
        log_p = F.log_softmax(x, dim=-1)  # [B, C] or [V, B, C]
        if log_p.ndim == 3:  # the first view is the one the loss's own terms read, the others are GJS's
            return log_p[0], labels.long(), log_p[1:], x[0]  # [B, C], [B], [V - 1, B, C], [B, C]
        return log_p, labels.long(), None, x  # gather's index must be int64


SETS = {**{d: s.num_classes for d, s in DATASETS.items()}, **REAL_CLASSES}  # dataset=: its classes


def _setting(key, num_classes, dataset, noise, rate, preset):
    """(num_classes, setting dict or None) of get_loss's arguments, each checked."""
    if dataset is None:
        if noise is not None or rate is not None or preset is not None:
            given = ", ".join(f"{k}={v!r}" for k, v in (("noise", noise), ("rate", rate), ("preset", preset))
                              if v is not None)
            raise UserError(f"{given} describe(s) a setting on a data set: give dataset= too (one of "
                            f"{', '.join(DATASETS)}), or leave them out for the papers' values")
        return (10 if num_classes is None else num_classes), None
    if dataset not in SETS:
        raise UserError(f"dataset must be one of {', '.join(SETS)}, got {dataset!r}"
                        f"{nearest(str(dataset), SETS)}; "
                        f"for other data give num_classes= and no dataset (the papers' values)")
    classes = SETS[dataset]
    if num_classes is not None and num_classes != classes:
        raise UserError(f"num_classes={num_classes!r}, but {dataset} has {classes} classes; leave num_classes out")
    noise = "none" if noise is None else noise
    if noise not in NOISE_KINDS:
        raise UserError(f"noise must be one of {', '.join(NOISE_KINDS)}, got {noise!r}"
                        f"{nearest(str(noise), NOISE_KINDS)}")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1):
        raise UserError(f"rate must be a number in [0, 1], got {rate!r}")
    if noise in RATED and rate is None:
        raise UserError(f"noise={noise!r} needs rate=, the fraction of labels it flips (e.g. rate=0.4)")
    if noise not in RATED and rate:
        raise UserError(f"rate={rate:g} does not apply to noise={noise!r}: " +
                        ("give noise='sym' (or asym, pairflip, uniform, idn) for noise at that rate" if noise == "none"
                          else "its labels come with their own noise; leave rate out"))
    if dataset in REAL_CLASSES and noise != "none":
        raise UserError(f"{dataset}'s labels are its own real-world noisy ones: leave noise and rate out")
    if noise in ("human", "human-matched") and dataset not in HUMAN_LABELS:
        raise UserError(f"noise={noise!r} needs human labels, and {dataset} has none; they exist for "
                        f"{' and '.join(HUMAN_LABELS)}")
    papers = [p for p in presets.covering(dataset) if p != "report"]  # the protocols of a paper on that data set
    if preset is None:  # the first whose released configs list the loss on that data set (ma2020, ye2023, eps2024)
        preset = next((p for p in papers if key in presets.LOSS_TABLE.get((p, dataset), {})),
                      "ye2023" if dataset not in REAL_CLASSES else papers[0] if papers else "report")
    elif preset not in presets.covering(dataset):
        raise UserError(f"preset must be one of {', '.join(presets.covering(dataset))} on {dataset}, got {preset!r}")
    return classes, {"dataset": dataset, "noise": noise, "rate": None if rate is None else float(rate),
                     "preset": preset}


def get_loss(name, num_classes=None, *, dataset=None, noise=None, rate=None, preset=None, transition=None,
             n_train=None, **values):
    """Return the loss called `name` as a `Loss` (a torch.nn.Module): loss(logits, labels, idx=None, params=None).

    Its values, each hyperparameter left out or None:
    - no dataset: the papers' values (registry.default_hp, registry.EVERY_LOSS), on num_classes classes (10 if left
      out);
    - dataset (cifar10, cifar100, mnist, or a real-world set: webvision-mini, clothing1m, animal10n, food101n, whose
      noise is its own), noise (noise.KINDS, "none" if left out), rate (in [0, 1]; a noise model
      with a rate needs one) and preset: the values `train.py --preset P --dataset D --noise N --rate R --loss NAME`
      takes (config.loss_settings, the one resolution both use). preset left out: "ma2020" where Ma et al.'s released
      table has the loss on that data set, else "ye2023" (the protocol of the modern baselines in this suite).
      num_classes is the data set's.
    values: the hyperparameters by name (registry.KEYS says what each is, registry.py which loss reads it), checked
    as train.py checks its flags: one the loss does not read, or one outside the paper's domain, is refused (a
    UserError, a ValueError, saying which). logit_clip (delta), sr ((tau, p, lamb, rho[, freq])) and sr_normalise
    are the wraps' values, for a name ending in +lc, +lc-released or +sr. transition: the noise's transition matrix [C, C] that fwd
    and bwd correct with; n_train: the training split's size, for ELR's running targets (or loss.bind later).
    The values taken are loss.values (loss.sources: where from), the setting loss.setting; repr(loss) shows both.
    """
    key = canonical(name)
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral)):
        raise UserError(f"a loss needs num_classes >= 2, a whole number, got {num_classes!r}")
    num_classes, setting = _setting(key, num_classes, dataset, noise, rate, preset)
    if num_classes < 2:
        raise UserError(f"a loss needs num_classes >= 2, got {num_classes}")
    num_classes = int(num_classes)
    known = set(keys.LOSS_VALUES)
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"get_loss takes no value {', '.join(unknown)}; it takes {', '.join(sorted(known))}")
    given = {k: x for k, x in values.items() if x is not None}
    base, wraps = registry.unwrap(key)
    stray = [k for k in registry.WRAP_KEYS if k in given and not any(k in registry.LOSSES[w].reads for w in wraps)]
    if stray:
        raise UserError(f"{key} has no wrap that reads {', '.join(stray)}; name the loss {key}+lc, +lc-released or +sr")
    unused = registry.not_read(key, given)
    if unused:
        raise UserError(unused)
    if setting is None:
        paper = default_hp(key)
        v = {**registry.EVERY_LOSS, **paper, **given}
        sources = {k: "given" if k in given else registry.source_of(key, "cifar10") if k in paper else "registry.py"
                   for k in v}
    else:
        v, sources = config.loss_settings(key, setting["dataset"], setting["noise"], setting["rate"],
                                          setting["preset"], given, given_as="given")
        v = {k: x for k, x in v.items() if x is not None and k in keys.LOSS_VALUES}  # not its weight decay
    bad = registry.out_of_domain(key, v, paper=True)  # as train.py's config.check: get_loss("gce", q=2) is refused
    if bad:
        raise UserError(bad)
    clip = (v["logit_clip"], "released" if "lc-released" in wraps else "paper") if {"lc", "lc-released"} & set(wraps) \
        else None
    sr = tuple(v["sr"]) + (1,) * (5 - len(v["sr"])) if "sr" in wraps else None  # freq 1 where not given
    sr_normalise = v.get("sr_normalise", True) is not False
    hp = {k: x for k, x in v.items() if k not in registry.WRAP_KEYS}
    if base in SINGLE:
        parts_ = [(v["scale"], BASE[base])]
    else:
        first, second = parts(base)
        parts_ = [(v["alpha"], BASE[first]), (v["beta"], BASE[second])]
    er = v.get("lamb", 0.0) if base == "anl-ce-er" else 0.0  # the others' lamb is their formula's own
    reads = uses(key)
    read = {k: sr if k == "sr" else v[k] for k in keys.LOSS_VALUES if k in reads and k in v}  # sr: with its freq
    loss = Loss(key, num_classes, parts_, hp, v.get("delta", 0.0), er, int(v["M"]) - 1 if base == "gjs" else 1, clip,
                sr, transition, sr_normalise, read, setting, {k: sources[k] for k in read})
    if n_train is not None:
        loss.bind(n_train)
    return loss


def list_losses():
    """Every loss name get_loss and train.py's --loss take, as dicts: name, kind (active, passive, single, pair,
    active+passive, alias or wrap), parts, values (the papers' values, CIFAR-10 clean: what get_loss(name) takes)
    and paper. The wraps are listed as suffixes (LOSS+lc). Reads the registry only: no tensor is made."""
    out = []
    for name in SINGLE + list(PAIRS) + APL + list(ALIASES):
        key = canonical(name)
        row = registry.LOSSES.get(key)
        values = {k: x for k, x in {**registry.EVERY_LOSS, **default_hp(key)}.items() if k in uses(key)}
        ordered = {k: values[k] for k in keys.LOSS_VALUES if k in values}
        if name in ALIASES:
            kind, paper = "alias", f"the same loss as {key}"
        elif row is not None:
            kind, paper = row.kind, row.paper
        else:  # active+passive: Ma et al. 2020's combination, with the values of its own paper where it has one
            kind, (a, p) = "active+passive", parts(key)
            paper = registry.LOSSES[p].paper if key in registry.COMBINED else \
                f"Ma et al. 2020's active+passive combination of {a} ({registry.LOSSES[a].paper}) and {p} " \
                f"({registry.LOSSES[p].paper})"
        out.append({"name": name, "kind": kind, "parts": list(parts(key)), "values": ordered, "paper": paper})
    for wrap in registry.WRAPS:
        row = registry.LOSSES[wrap]
        values = registry.for_setting(row.values, None)
        out.append({"name": f"LOSS+{wrap}", "kind": "wrap", "parts": [], "values": values, "paper": row.paper})
    return out
