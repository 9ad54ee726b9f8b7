"""Loss functions for learning with noisy labels.

Every loss maps logits [B, C] (any float dtype) and int64 labels [B] to the
batch mean, computed in float32 even under autocast (float64 stays float64).
Each base loss is written once, as a per-sample function of the log-probabilities
log_p [B, C]; `get_loss` builds a named loss from them, including every
Active-Passive combination written `active+passive`.
"""
import math

import torch
import torch.nn.functional as F

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


# The report's "normalised" CE: 1 - exp(-CE / T). At T = 1 this is 1 - p_y, i.e. MAE.
def nce_exp(log_p, y, temperature, **_):
    return -torch.expm1(-ce(log_p, y) / temperature)


# The report's "normalised" focal loss: 1 - exp(-FL / T).
def nfl_exp(log_p, y, gamma, temperature, **_):
    return -torch.expm1(-fl(log_p, y, gamma=gamma) / temperature)


ACTIVE = {"ce": ce, "fl": fl, "nce": nce, "nfl": nfl, "gce": gce, "ngce": ngce,
          "nce-exp": nce_exp, "nfl-exp": nfl_exp}  # the last two: the report's definitions
PASSIVE = {"mae": mae, "rce": rce, "nmae": nmae, "nrce": nrce}
# Losses that are a weighted pair of parts under their own name: (first, second, alpha, beta).
PAIRS = {"sce": ("ce", "rce", 0.1, 1.0),  # Wang et al. 2019
         "anl-ce": ("nce", "nnce", 5.0, 5.0), "anl-fl": ("nfl", "nnfl", 5.0, 5.0)}  # Ye et al. 2023
ANL_DELTA = 5e-5  # ANL's L1 weight on the model's parameters, CIFAR-10
ALIASES = {"apl-nce-mae": "nce+mae", "apl-nfl-mae": "nfl+mae"}
BASE = {**ACTIVE, **PASSIVE, "nnce": nnce, "nnfl": nnfl}
SINGLE = list(ACTIVE) + list(PASSIVE)
APL = [f"{a}+{p}" for a in ACTIVE for p in PASSIVE]
NAMES = SINGLE + list(PAIRS) + APL + list(ALIASES)


def canonical(name):
    """The loss's canonical name, or ValueError listing the valid names."""
    key = ALIASES.get(name, name)
    if key not in NAMES:
        raise ValueError(f"unknown loss '{name}'; choose one of: {', '.join(SINGLE + list(PAIRS))}, "
                         f"or active+passive with active in {{{', '.join(ACTIVE)}}} and passive in "
                         f"{{{', '.join(PASSIVE)}}}, e.g. nce+rce")
    return key


def default_weights(name):
    """(alpha, beta) used when none are given: the paper's values for sce and anl, else 1 and 1."""
    key = canonical(name)
    return PAIRS[key][2:] if key in PAIRS else (1.0, 1.0)


class Loss:
    """A named loss: loss(logits [B, C], labels [B]) -> scalar batch mean, in float32.

    `l1` is the weight of an L1 penalty on the model's parameters that the loss asks
    the training loop to add (ANL's delta); it is 0 for every other loss.
    """

    def __init__(self, name, num_classes, parts, hp, l1=0.0):
        self.name, self.num_classes, self.parts, self.hp, self.l1 = name, num_classes, parts, hp, l1

    def per_sample(self, logits, labels):
        if logits.ndim != 2 or logits.shape[1] != self.num_classes or not logits.is_floating_point():
            raise ValueError(f"logits must be floating point of shape [B, {self.num_classes}], got "
                             f"{logits.dtype} {list(logits.shape)}")
        if len(logits) == 0:
            raise ValueError("the batch is empty: a loss needs at least one sample")
        if labels.shape != logits.shape[:1] or labels.dtype not in (torch.int64, torch.int32, torch.uint8):
            raise ValueError(f"labels must be integers of shape [{len(logits)}], got {labels.dtype} "
                             f"{list(labels.shape)}")
        # The range check reads the labels: on a GPU that is a sync per batch, so it is made on the CPU only
        # (train.py's labels come from the data files, whose range is checked when they are read).
        if labels.device.type == "cpu" and len(labels):
            lo, hi = int(labels.min()), int(labels.max())
            if lo < 0 or hi >= self.num_classes:
                raise ValueError(f"labels must lie in [0, {self.num_classes}), got {lo}..{hi}")
        # Autocast off: the loss is computed in float32 (float64 stays float64, for gradcheck)
        # whatever precision the model ran in.
        with torch.autocast(logits.device.type, enabled=False):
            x = logits if logits.dtype == torch.float64 else logits.float()
            labels = labels.long()  # gather's index must be int64
            log_p = F.log_softmax(x, dim=1)  # [B, C]
            return sum(w * f(log_p, labels, **self.hp) for w, f in self.parts)  # [B]

    def __call__(self, logits, labels):
        return self.per_sample(logits, labels).mean()


def get_loss(name, num_classes=10, gamma=2.0, q=0.7, alpha=None, beta=None, temperature=1.0, delta=None):
    """Return the loss called `name` as a `Loss`, callable as (logits, labels) -> scalar mean.

    gamma: focal exponent; q: GCE exponent; temperature: T of the report's nce-exp and
    nfl-exp; alpha, beta: weights of the two parts of an APL, sce or anl loss (None: the
    paper's defaults, see `default_weights`); delta: ANL's L1 weight (None: 5e-5).
    """
    key = canonical(name)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"a loss needs num_classes >= 2, got {num_classes}")
    hp = {"gamma": gamma, "q": q, "temperature": temperature}
    a, b = default_weights(key)
    alpha, beta = a if alpha is None else alpha, b if beta is None else beta
    if key in SINGLE:
        return Loss(key, num_classes, [(1.0, BASE[key])], hp)
    first, second = PAIRS[key][:2] if key in PAIRS else key.split("+")
    l1 = (ANL_DELTA if delta is None else delta) if key.startswith("anl") else 0.0
    return Loss(key, num_classes, [(alpha, BASE[first]), (beta, BASE[second])], hp, l1)
