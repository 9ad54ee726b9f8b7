"""The formulas of the robust-loss family, each written once as a per-sample function of the log-probabilities
log_p [B, C] and the labels y [B]: CE, FL, GCE, MAE, RCE, their normalised forms (Ma et al. 2020), ANL's negative
losses (Ye et al. 2023), Zhou et al.'s asymmetric losses and the report's nce-exp / nfl-exp; BASE maps every base
loss of the registry to its formula, these and modern.py's. losses.py's Loss builds a named loss from them.
"""
import math

import torch

from . import modern

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
