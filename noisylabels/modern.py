"""The formulas of the 2017-2025 baselines of today's comparison tables, and the two wrappers that act on logits.

Each formula takes the log-probabilities log_p [B, C] and the labels y [B] and returns the per-sample terms [B],
as those of losses.py do; the few that need more read it from the batch context a Loss passes them by keyword:
`views` (the log-probabilities of the other augmented views, [V - 1, B, C], for GJS), `idx` (the samples'
positions in the training split, for ELR), `targets` (ELR's running targets [N, C]) and `T` (the noise's
transition matrix [C, C], for forward and backward correction): the buffers of a losses.Loss, which checks, before a
formula runs, that what its mode needs is there. Where a released code base scales a loss
differently from its paper's formula, the formula here computes what that code computes (docs/losses.md).
logit_clip and sparse_logits change the logits before any loss sees them.
"""
import math

import torch
import torch.nn.functional as F

from .errors import UserError

P_FLOOR = 1e-7  # NLS's floor of p: what keeps it bounded below
EPS_FLOOR = 1e-8  # the eps-softmax code's floor of its p


def _pick(t, y):
    # t: [B, C], y: [B] -> [B]
    return t.gather(1, y[:, None]).squeeze(1)


def _onehot(y, like):
    return torch.zeros_like(like).scatter_(1, y[:, None], 1.0)  # [B, C]


# MSE between p and the one-hot label, averaged over the C classes as the eps-softmax and JAL code average it.
def mse(log_p, y, **_):
    p = log_p.exp()
    return (p - _onehot(y, p)).pow(2).mean(1)


# Label smoothing (Szegedy et al. 2016) as Wei et al. 2022 write it, CE with the target (1 - t) e_y + t / C.
def ls(log_p, y, t, **_):
    return -(1 - t) * _pick(log_p, y) - t * log_p.mean(1)


# Negative label smoothing, Wei et al. 2022, "To Smooth or Not? When Label Smoothing Meets Noisy Labels": ls with
# t < 0. The target's negative entries reward pushing p_k to 0 without end (the released code has no floor), so
# here log p is floored at log P_FLOOR: the loss is then bounded below, by |t| (C - 1) / C log P_FLOOR.
def nls(log_p, y, t, **_):
    return ls(log_p.clamp_min(math.log(P_FLOOR)), y, t)


# Bootstrapping, Reed et al. 2015, "Training Deep Neural Networks on Noisy Labels with Bootstrapping".
# Soft: CE with the target beta e_y + (1 - beta) p, p not detached (an entropy term, as the paper's objective), p
# clamped to [P_FLOOR, 1] in both places as both released codes do (Patrini et al.'s boot_soft, GJS's
# Bootstrapping): at a confident wrong prediction -log p_y is then at most -log 1e-7, and its gradient 0 there.
def boot_soft(log_p, y, beta, **_):
    lp = log_p.clamp_min(math.log(P_FLOOR))  # also keeps a -inf logit out: 0 * -inf would be NaN
    return -beta * _pick(lp, y) - (1 - beta) * (lp.exp() * lp).sum(1)


# Hard: the target beta e_y + (1 - beta) e_z, z the predicted class (no gradient through the argmax).
def boot_hard(log_p, y, beta, **_):
    z = log_p.detach().argmax(1)
    return -beta * _pick(log_p, y) - (1 - beta) * _pick(log_p, z)


# Taylor cross entropy, Feng et al. 2020, "Can Cross Entropy Loss Be Robust to Label Noise?": the first n terms
# of CE's Taylor series around p_y = 1, sum_{k=1}^n (1 - p_y)^k / k.
def taylor_ce(log_p, y, order, **_):
    u = -torch.expm1(_pick(log_p, y))  # 1 - p_y
    return sum(u.pow(k) / k for k in range(1, int(order) + 1))


# Partially Huberised CE, Menon et al. 2020, "Can Gradient Clipping Mitigate Label Noise?": -log p_y above 1/tau,
# its tangent line -tau p_y + log tau + 1 below, so the gradient in p_y is at most tau.
def phuber_ce(log_p, y, tau, **_):
    lp = _pick(log_p, y)
    linear = -tau * lp.exp() + math.log(tau) + 1
    return torch.where(lp <= -math.log(tau), linear, -lp)


def _gjs(log_p, y, pi, views=None):
    # GJS of Englesson & Azizpour 2021, "Generalized Jensen-Shannon Divergence Loss for Learning with Noisy
    # Labels": sum_j pi_j KL(d_j || m), m = sum_j pi_j d_j, with d_1 = e_y weighted pi and the M - 1 predictions
    # d_j sharing 1 - pi equally; divided by Z = -(1 - pi) log(1 - pi), as the paper and its code scale it.
    lps = log_p[None] if views is None else torch.cat([log_p[None], views])  # [M - 1, B, C]
    w = (1 - pi) / len(lps)
    log_w = torch.full_like(log_p, math.log(pi)).masked_fill(_onehot(y, log_p) == 0, -math.inf)  # log(pi e_y)
    log_m = torch.logsumexp(torch.cat([log_w[None], lps + math.log(w)]), 0)  # [B, C]
    kl_label = -_pick(log_m, y)  # KL(e_y || m)
    kl_views = (lps.exp() * (lps - log_m)).sum(2).sum(0)  # sum_j KL(p_j || m), [B]
    return (pi * kl_label + w * kl_views) / (-(1 - pi) * math.log(1 - pi))


# JS, the GJS paper's M = 2: the label and one prediction, weighted pi and 1 - pi.
def js(log_p, y, pi, **_):
    return _gjs(log_p, y, pi)


# GJS with M - 1 predictions of augmented views of each image (`views`); without them it is JS: a Loss passes none
# only in evaluation (loss.eval()), and refuses a training batch of one view where M > 2 (losses.Loss).
def gjs(log_p, y, pi, views=None, **_):
    return _gjs(log_p, y, pi, views)


# LDR-KL, Zhu et al. 2023, "Label Distributionally Robust Losses for Multi-class Classification": the KL-
# regularised worst case over label distributions, lamb log (1/C) sum_k exp((s_k - s_y + margin [k != y]) / lamb).
# s is the released code's (DixianZhu/LDR, copied by the eps-softmax and JAL code): softplus(z) over its mean
# over the classes, not z itself, so it needs the logits z [B, C].
def ldr_kl(log_p, y, lamb, margin, z, **_):
    s = F.softplus(z)
    s = s / s.mean(1, keepdim=True).clamp_min(1e-12)  # all logits far below 0: s = 0, not 0 / 0
    d = s - _pick(s, y)[:, None] + margin * (1 - _onehot(y, s))  # [B, C]
    return lamb * (torch.logsumexp(d / lamb, 1) - math.log(s.shape[1]))


def _eps_log_p_y(log_p, y, m):
    # The eps-softmax of Wang et al. 2024, "eps-Softmax: Approximating One-Hot Vectors for Mitigating Label Noise":
    # (p + m e_z) / (1 + m), z the predicted class, at the label, floored at 1e-8 as the released code floors
    # it: the floor is what stops the gradient of samples whose label the model finds unlikely. [B]
    z = log_p.detach().argmax(1)
    lp_y = _pick(log_p, y)
    boosted = torch.logaddexp(lp_y, torch.full_like(lp_y, math.log(m)))  # log(p_y + m)
    return (torch.where(z == y, boosted, lp_y) - math.log1p(m)).clamp_min(math.log(EPS_FLOOR))


# ECE, CE of the eps-softmax (Wang et al. 2024); an active loss, combined with MAE as ece+mae.
def ece(log_p, y, m, **_):
    return -_eps_log_p_y(log_p, y, m)


# EFL, the focal loss of the eps-softmax (Wang et al. 2024); combined with MAE as efl+mae.
def efl(log_p, y, m, gamma, **_):
    lq = _eps_log_p_y(log_p, y, m)
    return (-torch.expm1(lq)).clamp_min(1e-12).pow(gamma) * -lq


# The eps-softmax code's MAE, twice the MAE of losses.py: sum_k |p_k - e_y,k| = 2 (1 - p_y). ece+mae and efl+mae
# use it, so that their released beta means what it means there.
def mae_eps(log_p, y, **_):
    return -2 * torch.expm1(_pick(log_p, y))


# AMSE, the asymmetric MSE of the joint asymmetric losses (2025, cswjl/joint-asymmetric-loss): a passive loss.
def amse(log_p, y, a, **_):
    p = log_p.exp()
    return (a * _onehot(y, p) - p).pow(2).mean(1)


# ELR, Liu et al. 2020, "Early-Learning Regularization Prevents Memorization of Noisy Labels": CE plus
# lamb log(1 - <t_i, p_i>), t_i a running average of sample i's predictions (beta its momentum). The target
# update is the released code's: p clamped to [1e-4, 1 - 1e-4], renormalised, detached. Without idx it is CE alone:
# a Loss passes none in evaluation (loss.eval()), and refuses a training batch without them (losses.Loss).
def elr(log_p, y, beta, lamb, idx=None, targets=None, **_):
    ce = -_pick(log_p, y)
    if idx is None:
        return ce
    if targets is None:
        raise UserError("elr keeps a running target per training sample and has none: give get_loss('elr', ..., "
                        "n_train=N) or call loss.bind(N) first, N the training split's size")
    p = log_p.exp().clamp(1e-4, 1 - 1e-4)
    targets[idx] = beta * targets[idx] + (1 - beta) * (p / p.sum(1, keepdim=True)).detach().to(targets.dtype)
    return ce + lamb * torch.log1p(-(targets[idx] * p).sum(1))


def _transition(T, log_p):
    if T is None:
        raise UserError("fwd and bwd need the noise's transition matrix T [C, C]: get_loss(name, transition=T) or "
                        "loss.bind(n_train, transition=T)")
    return T.to(log_p.device, log_p.dtype)


# Forward correction, Patrini et al. 2017, "Making Deep Neural Networks Robust to Label Noise: a Loss Correction
# Approach": CE of the noisy-label distribution T^T p, T[i, j] = P(label j | true class i).
def fwd(log_p, y, T=None, **_):
    log_T = _transition(T, log_p).log()  # 0 entries: -inf, dropped by the logsumexp
    # only each label's column [B, C]: a column of zeros elsewhere (a label no sample carries) would be NaN's
    return -torch.logsumexp(log_p + log_T.T[y], 1)


# Backward correction, Patrini et al. 2017: (T^{-1} l)_y, l the CE of every class; unbiased, not bounded below.
def bwd(log_p, y, T=None, T_inv=None, **_):
    T_inv = torch.linalg.inv(_transition(T, log_p)) if T_inv is None else T_inv.to(log_p.device, log_p.dtype)
    return (T_inv[y] * -log_p).sum(1)


FORMULAS = {"mse": mse, "ls": ls, "nls": nls, "boot-soft": boot_soft, "boot-hard": boot_hard, "taylor-ce": taylor_ce,
            "phuber-ce": phuber_ce, "js": js, "gjs": gjs, "ldr-kl": ldr_kl, "ece": ece, "efl": efl, "mae-eps": mae_eps,
            "amse": amse, "elr": elr, "fwd": fwd, "bwd": bwd}


def logit_clip(z, delta, form="paper"):
    """LogitClip, Wei et al. 2023, "Mitigating Memorization of Noisy Labels by Clipping the Model Prediction".

    paper: z <- delta z / ||z||_2 where ||z||_2 > delta, so no logit vector is longer than delta. released: the
    released code's rule (hongxin001/LogitClip's with --temp 1/delta, the eps-softmax and JAL code's CEandLC):
    z <- delta z / ||z||_2 where ||z||_2 > 1/delta. The two agree at delta = 1; elsewhere the released rule
    leaves norms up to 1/delta alone and maps longer ones to delta, a jump at the threshold. z: [..., C] -> [..., C].
    """
    norm = torch.linalg.vector_norm(z, dim=-1, keepdim=True).clamp_min(1e-12)
    return torch.where(norm > (delta if form == "paper" else 1 / delta), z * (delta / norm), z)


def sparse_logits(z, tau):
    """Sparse regularisation's logits, Zhou et al. 2021, "Learning with Noisy Labels via Sparse Regularization":
    z / (tau ||z||_2), on the sphere of radius 1/tau."""
    return z / (tau * torch.linalg.vector_norm(z, dim=-1, keepdim=True).clamp_min(1e-12))


def p_norm(log_p, p):
    """Sparse regularisation's term sum_k p_k^p per sample [B], p clamped below at 1e-7 as the released code does."""
    return log_p.clamp_min(math.log(1e-7)).mul(p).exp().sum(1)
