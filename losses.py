"""Loss functions for learning with noisy labels.

Every loss maps logits [B, C] (any float dtype) and int64 labels [B] to the
batch mean, computed in float32 even under autocast. Each base loss is written
once as a per-sample function of the log-probabilities; `get_loss` builds the
named loss, including Active-Passive combinations written `active+passive`.
"""
import functools

import torch
import torch.nn.functional as F


def _pick(t, y):
    # t: [B, C], y: [B] -> [B], the entry at each sample's label
    return t.gather(1, y[:, None]).squeeze(1)


def _focal_terms(log_p, gamma):
    # (1 - p)^gamma * -log p for every class, [B, C]. 1 - p is taken as -expm1(log p)
    # so it stays accurate when p is close to 1; the floor keeps the gradient of
    # (1 - p)^gamma finite for gamma < 1 at p == 1, where the term is 0 anyway.
    one_minus_p = (-torch.expm1(log_p)).clamp_min(1e-12)
    return one_minus_p.pow(gamma) * -log_p


# Cross-entropy.
def ce(log_p, y, **_):
    return -_pick(log_p, y)


# Focal loss, Lin et al. 2017, "Focal Loss for Dense Object Detection" (alpha = 1).
def fl(log_p, y, gamma=2.0, **_):
    return _pick(_focal_terms(log_p, gamma), y)


# Normalized CE, Ma et al. 2020, "Normalized Loss Functions for Deep Learning with Noisy Labels".
def nce(log_p, y, **_):
    # log p_y / sum_k log p_k; the denominator is >= C log C > 0 and is not detached.
    return _pick(log_p, y) / log_p.sum(1)


# Normalized focal loss, Ma et al. 2020: FL at the label over FL summed over all labels.
def nfl(log_p, y, gamma=2.0, **_):
    terms = _focal_terms(log_p, gamma)
    return _pick(terms, y) / terms.sum(1)


# Mean absolute error, Ghosh et al. 2017, "Robust Loss Functions under Label Noise for DNNs";
# 1 - p_y is half the L1 distance between one-hot and p, the scale Ma et al. 2020 used.
def mae(log_p, y, **_):
    return 1.0 - _pick(log_p, y).exp()


# The report's "normalised" CE: 1 - exp(-CE / T). At T = 1 this is 1 - p_y, i.e. MAE.
def nce_exp(log_p, y, temperature=1.0, **_):
    return -torch.expm1(-ce(log_p, y) / temperature)


# The report's "normalised" focal loss: 1 - exp(-FL / T).
def nfl_exp(log_p, y, gamma=2.0, temperature=1.0, **_):
    return -torch.expm1(-fl(log_p, y, gamma=gamma) / temperature)


ACTIVE = {"ce": ce, "fl": fl, "nce": nce, "nfl": nfl, "nce-exp": nce_exp, "nfl-exp": nfl_exp}
PASSIVE = {"mae": mae}
SINGLE = ["ce", "fl", "nce", "nfl", "nce-exp", "nfl-exp"]
ALIASES = {"apl-nce-mae": "nce+mae", "apl-nfl-mae": "nfl+mae"}
APL = ["nce+mae", "nfl+mae", "nce-exp+mae", "nfl-exp+mae"]
NAMES = SINGLE + APL + list(ALIASES)


def _batch_mean(per_sample, logits, labels, num_classes, hp):
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise ValueError(f"logits must have shape [B, {num_classes}], got {list(logits.shape)}")
    # Autocast off: the loss is computed in float32 (float64 stays float64, for gradcheck)
    # whatever precision the model ran in.
    with torch.autocast(logits.device.type, enabled=False):
        x = logits if logits.dtype == torch.float64 else logits.float()
        log_p = F.log_softmax(x, dim=1)  # [B, C]
        return per_sample(log_p, labels, **hp).mean()


def _apl(log_p, y, active, passive, alpha, beta, **hp):
    # Active-Passive Loss, Ma et al. 2020: alpha * active + beta * passive.
    return alpha * active(log_p, y, **hp) + beta * passive(log_p, y, **hp)


def get_loss(name, num_classes=10, gamma=2.0, alpha=1.0, beta=1.0, temperature=1.0):
    """Return the loss called `name` as a callable (logits, labels) -> scalar mean.

    gamma: focal exponent; alpha, beta: APL weights of the active and passive
    parts; temperature: T of the report's nce-exp / nfl-exp.
    """
    key = ALIASES.get(name, name)
    hp = {"gamma": gamma, "temperature": temperature}
    if key in SINGLE:
        per_sample = ACTIVE[key]
    elif key in APL:
        a, p = key.split("+")
        per_sample = functools.partial(_apl, active=ACTIVE[a], passive=PASSIVE[p], alpha=alpha, beta=beta)
    else:
        raise ValueError(f"unknown loss '{name}'; choose one of: {', '.join(NAMES)}")
    return functools.partial(_batch_mean, per_sample, num_classes=num_classes, hp=hp)
