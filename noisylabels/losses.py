"""Loss functions for learning with noisy labels.

Every loss maps logits [B, C] (any float dtype) and int64 labels [B] to the
batch mean, computed in float32 even under autocast (float64 stays float64).
Each base loss is written once, as a per-sample function of the log-probabilities
log_p [B, C]; `get_loss` builds a named loss from them, including every
Active-Passive combination written `active+passive`. The names, parts, hyperparameters
and paper values of every loss are registry.py's; this file maps each name to its formula.
"""
import math

import torch
import torch.nn.functional as F

from . import modern
from . import registry
from .errors import UserError
from .registry import ACTIVE, ALIASES, APL, NAMES, PAIRS, PASSIVE, SINGLE, canonical, default_hp, parts, uses  # noqa: F401

P_MIN = 1e-7  # probability floor of the negative losses (Ye et al. 2023)
RCE_A = -math.log(1e-4)  # RCE's log 0, clamped to log 1e-4 (Wang et al. 2019): about 9.21


def _pick(t, y):
    # t: [B, C], y: [B] -> [B], the entry at each sample's label
    return t.gather(1, y[:, None]).squeeze(1)


def _focal_terms(log_p, gamma):
    # (1 - p)^gamma * -log p for every class, [B, C]. 1 - p is taken as -expm1(log p)
    # so it stays accurate when p is close to 1; the floor keeps the gradient of
    # (1 - p)^gamma finite for gamma < 1 at p == 1, where the term is 0 anyway.
    one_minus_p = (-torch.expm1(log_p)).clamp_min(1e-12)
    return one_minus_p.pow(gamma) * -log_p


def _one_minus_p(log_p, y):
    return -torch.expm1(_pick(log_p, y))  # 1 - p_y, exact also when p_y is close to 1


# Cross-entropy.
def ce(log_p, y, **_):
    return -_pick(log_p, y)


# Focal loss, Lin et al. 2017, "Focal Loss for Dense Object Detection" (focal alpha = 1).
def fl(log_p, y, gamma, **_):
    return _pick(_focal_terms(log_p, gamma), y)


# Normalized CE, Ma et al. 2020, "Normalized Loss Functions for Deep Learning with Noisy Labels".
def nce(log_p, y, **_):
    # log p_y / sum_k log p_k; the denominator is >= C log C > 0 and is not detached.
    return _pick(log_p, y) / log_p.sum(1)


# Normalized focal loss, Ma et al. 2020: FL at the label over FL summed over all labels.
def nfl(log_p, y, gamma, **_):
    terms = _focal_terms(log_p, gamma)
    return _pick(terms, y) / terms.sum(1)


# MAE, Ghosh et al. 2017, "Robust Loss Functions under Label Noise for Deep Neural Networks";
# 1 - p_y is half the L1 distance between one-hot and p, the scale Ma et al. 2020 used.
def mae(log_p, y, **_):
    return _one_minus_p(log_p, y)


# Reverse CE, Wang et al. 2019, "Symmetric Cross Entropy for Robust Learning with Noisy Labels":
# -sum_k p_k log q_k with q the one-hot label and log 0 := log 1e-4, i.e. RCE_A * (1 - p_y).
def rce(log_p, y, **_):
    return RCE_A * _one_minus_p(log_p, y)


# Generalized CE, Zhang & Sabuncu 2018, "Generalized Cross Entropy Loss for Training DNNs with Noisy Labels".
def gce(log_p, y, q, **_):
    # (1 - p_y^q) / q, written with expm1 so that q -> 0 tends smoothly to CE.
    return -torch.expm1(q * _pick(log_p, y)) / q


# Normalized GCE, Ma et al. 2020: (1 - p_y^q) / sum_k (1 - p_k^q).
def ngce(log_p, y, q, **_):
    terms = -torch.expm1(q * log_p)  # [B, C]
    return _pick(terms, y) / terms.sum(1)


# Normalized MAE, Ma et al. 2020: sum_k (1 - p_k) = C - 1, so NMAE = (1 - p_y) / (C - 1).
def nmae(log_p, y, **_):
    return _one_minus_p(log_p, y) / (log_p.shape[1] - 1)


# Normalized RCE, Ma et al. 2020: RCE_y / sum_k RCE_k = A(1 - p_y) / (A(C - 1)), the same value as
# NMAE. The official code's 1/4*(C-1) means 1/(4(C-1)); this is the correct constant.
def nrce(log_p, y, **_):
    return rce(log_p, y) / (RCE_A * (log_p.shape[1] - 1))


# Normalized negative CE of ANL, Ye et al. 2023, "Active Negative Loss Functions for Learning with
# Noisy Labels": 1 - (A + log p_y) / sum_k (A + log p_k), with p floored at P_MIN and A = -log P_MIN.
def nnce(log_p, y, **_):
    A = -math.log(P_MIN)
    terms = A + log_p.clamp_min(math.log(P_MIN))  # [B, C], each in [0, A]
    return 1 - _pick(terms, y) / terms.sum(1)


# Normalized negative focal loss of ANL, Ye et al. 2023: 1 - (A - FL_y) / (C A - sum_k FL_k),
# with A = FL at p = P_MIN. Unlike the official code, the denominator is not detached.
def nnfl(log_p, y, gamma, **_):
    A = (1 - P_MIN) ** gamma * -math.log(P_MIN)
    terms = A - _focal_terms(log_p.clamp_min(math.log(P_MIN)), gamma)  # [B, C], each in [0, A]
    return 1 - _pick(terms, y) / terms.sum(1)


# The asymmetric losses of Zhou et al. 2021, "Asymmetric Loss Functions for Learning with Noisy Labels":
# functions of p_y alone, decreasing in it, with a > 0 (a > 1 for AUL) and q > 0. They are passive losses
# here, as in that paper's NCE+AGCE, NCE+AUL and NCE+AEL.
def agce(log_p, y, a, q, **_):
    # ((a + 1)^q - (a + p_y)^q) / q: 0 at p_y = 1
    return ((a + 1) ** q - (a + _pick(log_p, y).exp()) ** q) / q


def aul(log_p, y, a, q, **_):
    # ((a - p_y)^q - (a - 1)^q) / q: 0 at p_y = 1
    return ((a - _pick(log_p, y).exp()) ** q - (a - 1) ** q) / q


def ael(log_p, y, a, **_):
    # exp(-p_y / a): exp(-1/a) at p_y = 1, not 0; only its differences matter
    return torch.exp(-_pick(log_p, y).exp() / a)


# The entropy regulariser of ANL-CE-ER (Ye et al. 2023's code): KL(p_bar || uniform) = log C + sum_k p_bar_k
# log p_bar_k, with p_bar the batch's mean predicted distribution. One number per batch, not per sample.
def entropy_reg(log_p):
    p = log_p.exp().clamp(P_MIN, 1 - P_MIN)  # [B, C]
    p_bar = (p.sum(0) / p.sum()).clamp(P_MIN, 1 - P_MIN)  # [C]
    return math.log(log_p.shape[1]) + (p_bar * p_bar.log()).sum()


# The report's "normalised" CE: 1 - exp(-CE / T). At T = 1 this is 1 - p_y, i.e. MAE.
def nce_exp(log_p, y, temperature, **_):
    return -torch.expm1(-ce(log_p, y) / temperature)


# The report's "normalised" focal loss: 1 - exp(-FL / T).
def nfl_exp(log_p, y, gamma, temperature, **_):
    return -torch.expm1(-fl(log_p, y, gamma=gamma) / temperature)


# The formula of every base loss in the registry, by name: those above, and modern.py's.
BASE = {"ce": ce, "fl": fl, "nce": nce, "nfl": nfl, "gce": gce, "ngce": ngce, "nce-exp": nce_exp, "nfl-exp": nfl_exp,
        "mae": mae, "rce": rce, "nmae": nmae, "nrce": nrce, "agce": agce, "aul": aul, "ael": ael,
        "nnce": nnce, "nnfl": nnfl, **modern.FORMULAS}
# bwd's T^-1 multiplies the loss by up to T's condition number: beyond this, training only amplifies noise
# (asymmetric noise near 0.5). Symmetric 0.8 on 10 classes has 9, asymmetric 0.45 has 10.
BWD_COND = 1e3
ANL_DELTA = registry.LOSSES["anl-ce"].values["delta"]  # ANL's L1 weight on the model's parameters, CIFAR-10


class Loss:
    """A named loss: loss(logits, labels, idx=None) -> scalar batch mean, in float32.

    logits are [B, C], or [V, B, C] for a loss that reads V views of each image (`views` > 1: GJS's M - 1
    augmented views); idx [B] are the samples' positions in the training split (ELR reads them; evaluation
    passes none). What a loss needs of the run comes through `bind` (the split's size, the noise's transition
    matrix) and `start_epoch`; what it learns during training, through `state_dict`, into the checkpoint.
    `l1` is the weight of an L1 penalty on the model's parameters that the loss asks the training step to add
    (ANL's delta), 0 for every other loss. `lamb` weighs ANL-CE-ER's entropy regulariser, a term of the whole
    batch: per_sample leaves it out. clip: (delta, form) of logit clipping; sr: (tau, p, lamb, rho) of sparse
    regularisation, both applied to the logits before the loss sees them (sr_normalise: whether SR's logits are
    normalised).
    """

    def __init__(self, name, num_classes, parts, hp, l1=0.0, lamb=0.0, views=1, clip=None, sr=None, transition=None,
                 sr_normalise=True):
        self.name, self.num_classes, self.parts, self.hp, self.l1, self.lamb = name, num_classes, parts, hp, l1, lamb
        self.views, self.clip, self.sr, self.epoch = views, clip, sr, 1
        self.sr_normalise = sr_normalise  # SR's z / (tau ||z||); False: the released MNIST code's z / tau
        self.ctx = {"T": None, "T_inv": None, "targets": None}
        if transition is not None:
            self._set_transition(torch.as_tensor(transition))

    def _set_transition(self, T):
        # T^-1 once, not per batch (on a GPU, inv also checks its result on the host: a sync)
        self.ctx["T"] = T
        self.ctx["T_inv"] = torch.linalg.inv(T) if any(f is modern.bwd for _, f in self.parts) else None

    def bind(self, n_train, transition=None, device="cpu", dtype=torch.float32):
        """Give the loss what the run knows before training: the training split's size (ELR keeps a target per
        sample) and the realised transition matrix [C, C] of its noise (forward and backward correction)."""
        if transition is not None:
            T = torch.as_tensor(transition, dtype=dtype, device=device)
            cond = torch.linalg.cond(T.double()).item()
            if any(f is modern.bwd for _, f in self.parts) and not cond < BWD_COND:
                raise UserError(f"bwd needs an invertible transition matrix, and this noise's is (nearly) singular "
                                f"(condition number {cond:.3g}: a class is flipped about as often as it is kept); use "
                                f"fwd, or a lower --rate")
            self._set_transition(T)
        if any(f is modern.elr for _, f in self.parts):
            self.ctx["targets"] = torch.zeros(n_train, self.num_classes, dtype=dtype, device=device)
        return self

    def start_epoch(self, epoch):
        """Epoch e starts (from 1): sparse regularisation's weight grows by rho every freq epochs."""
        self.epoch = epoch

    def state_dict(self):
        return {k: v for k, v in self.ctx.items() if k == "targets" and v is not None}

    def load_state_dict(self, state):
        if self.ctx["targets"] is not None and "targets" in state:
            self.ctx["targets"].copy_(state["targets"])

    def per_sample(self, logits, labels, idx=None):
        """The per-sample terms [B]; the loss is their mean, plus lamb * entropy_reg of the batch."""
        with torch.autocast(logits.device.type, enabled=False):
            return self._terms(*self._log_p(logits, labels), idx)

    def _terms(self, log_p, labels, views, z, idx):
        ctx = {**self.ctx, "views": views, "idx": idx, "z": z}
        terms = sum(w * f(log_p, labels, **self.hp, **ctx) for w, f in self.parts)  # [B]
        if self.sr:  # lamb rho^floor((e - 1) / freq) sum_k p_k^p, Zhou et al. 2021's regulariser, in epoch e
            tau, p, lamb, rho, freq = self.sr
            terms = terms + lamb * rho ** ((self.epoch - 1) // int(freq)) * modern.p_norm(log_p, p)
        return terms

    def _log_p(self, logits, labels):
        # [B, C], or [V, B, C] with the V views of each image a loss with views > 1 reads in training
        shape = f"[B, {self.num_classes}]" + (f" or [{self.views}, B, {self.num_classes}]" if self.views > 1 else "")
        if logits.ndim not in ((2, 3) if self.views > 1 else (2,)) or logits.shape[-1] != self.num_classes \
                or not logits.is_floating_point() or (logits.ndim == 3 and len(logits) != self.views):
            raise ValueError(f"logits must be floating point of shape {shape}, got {logits.dtype} {list(logits.shape)}")
        B = logits.shape[-2]
        if B == 0:
            raise ValueError("the batch is empty: a loss needs at least one sample")
        if labels.shape != (B,) or labels.dtype not in (torch.int64, torch.int32, torch.uint8):
            raise ValueError(f"labels must be integers of shape [{B}], got {labels.dtype} {list(labels.shape)}")
        # The range check reads the labels: on a GPU that is a sync per batch, so it is made on the CPU only
        # (train.py's labels come from the data files, whose range is checked when they are read).
        if labels.device.type == "cpu":
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= self.num_classes:
                raise ValueError(f"labels must lie in [0, {self.num_classes}), got {lo}..{hi}")
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

    def __call__(self, logits, labels, idx=None):
        with torch.autocast(logits.device.type, enabled=False):
            log_p, labels, views, z = self._log_p(logits, labels)
            mean = self._terms(log_p, labels, views, z, idx).mean()
            return mean + self.lamb * entropy_reg(log_p) if self.lamb else mean


def get_loss(name, num_classes=10, transition=None, **values):
    """Return the loss called `name` as a `Loss`, callable as (logits, labels) -> scalar mean.

    values: the hyperparameters by name (registry.KEYS says what each is, registry.py which loss reads it);
    a value left out or None takes the paper's (registry.default_hp). logit_clip (delta), logit_clip_form and
    sr ((tau, p, lamb, rho)) wrap the loss where its name ends in +lc, +lc-released or +sr. transition: the
    noise's transition matrix [C, C] fwd and bwd correct with (train.py binds the run's own).
    """
    key = canonical(name)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"a loss needs num_classes >= 2, got {num_classes}")
    known = set(registry.OWN_KEYS) | set(registry.EVERY_LOSS) | set(registry.WRAP_KEYS) | {"q"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"get_loss takes no value {', '.join(unknown)}; it takes {', '.join(sorted(known))}")
    v = {**registry.EVERY_LOSS, **default_hp(key), **{k: x for k, x in values.items() if x is not None}}
    base, wraps = registry.unwrap(key)
    stray = [k for k in registry.WRAP_KEYS if values.get(k) is not None and not any(
        k in registry.LOSSES[w].reads for w in wraps)]
    if stray:
        raise ValueError(f"{key} has no wrap that reads {', '.join(stray)}; name the loss {key}+lc, +lc-released or +sr")
    bad = registry.out_of_domain(key, v, paper=False)
    if bad:
        raise ValueError(bad)
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
    return Loss(key, num_classes, parts_, hp, v.get("delta", 0.0), er, int(v["M"]) - 1 if base == "gjs" else 1, clip,
                sr, transition, sr_normalise)
