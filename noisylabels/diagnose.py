"""The diagnostics papers report beside accuracy, computed on the device from logits training already has.

- flip_auroc: how well a sample's loss tells a flipped label from a clean one (the small-loss criterion that
  Co-teaching, Han et al. 2018, and DivideMix, Li et al. 2020, select clean samples by). The loss ranked is the
  cross-entropy -log p_y~ of the noisy label, whatever loss trained the model: it is a property of the fit, the
  same for every loss, and ranks samples as every loss that is a function of p_y~ alone does (CE, FL, MAE, GCE,
  RCE, SCE, ...). train.py takes it from the training steps' own logits: no second pass over the data.
- calibration: expected calibration error over 15 equal-width confidence bins (Guo et al. 2017, "On Calibration
  of Modern Neural Networks"), with the bins of a reliability diagram.
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from .atomic import save_atomic

ECE_BINS = 15


def sample_loss(logits, y):
    """-log p_y for each sample, float32 whatever precision the logits are in: logits [B, C], y [B] -> [B]."""
    return F.cross_entropy(logits.detach().float(), y, reduction="none")


def flip_auroc(loss, flipped):
    """AUROC of telling flipped (positive) from clean samples by their loss, higher loss = flipped.

    loss [N] float, flipped [N] bool; NaN losses (samples no step saw) are left out. Ties count one half
    (the Mann-Whitney statistic with average ranks), so constant losses give 0.5. A 0-dim tensor, NaN where
    either group is empty.
    """
    seen = ~torch.isnan(loss)
    s, pos = loss[seen].double(), flipped[seen]
    n_pos, n_neg = pos.sum(), (~pos).sum()
    if n_pos == 0 or n_neg == 0:
        return torch.tensor(float("nan"), device=loss.device)
    sorted_s, order = s.sort()
    _, inverse, counts = torch.unique_consecutive(sorted_s, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()  # 1-based rank of each tie group's last member
    avg_rank = (ends - (counts.double() - 1) / 2)[inverse]  # [N_seen], in sorted order
    rank_pos = avg_rank[pos[order]].sum()
    return (rank_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def calibration(logits, y, bins=ECE_BINS):
    """ECE of softmax(logits) against y, and the reliability diagram's bins; logits [N, C], y [N].

    Bin b holds the samples whose confidence (the top softmax probability) lies in (b/bins, (b+1)/bins].
    Returns {"ece": float, "count": [bins], "confidence": [bins], "accuracy": [bins]} (mean confidence and
    accuracy of each bin, 0 where it is empty), read from the device in one transfer.
    """
    p = logits.detach().float().softmax(1)
    conf, pred = p.max(1)
    b = torch.bucketize(conf, torch.linspace(0, 1, bins + 1, device=conf.device)[1:-1])  # (lo, hi] -> 0..bins-1
    sums = torch.zeros(3, bins, device=conf.device, dtype=torch.float64)
    sums[0].index_add_(0, b, torch.ones_like(conf, dtype=torch.float64))
    sums[1].index_add_(0, b, conf.double())
    sums[2].index_add_(0, b, (pred == y).double())
    count, conf_sum, hit = sums.cpu().tolist()
    ece = sum(abs(h - c) for h, c in zip(hit, conf_sum)) / max(len(y), 1)  # sum_b |B_b|/n |acc_b - conf_b|
    mean = lambda v: [round(a / n, 6) if n else 0.0 for a, n in zip(v, count)]  # noqa: E731
    return {"ece": ece, "count": [int(n) for n in count], "confidence": mean(conf_sum), "accuracy": mean(hit)}


def save_sample_loss(run_dir, losses, flipped, index, best_epoch, last_epoch, clean_known=True):
    """sample_loss.npz: each training sample's -log p_y~ at the last and the selected (best) epoch, as their steps
    computed it (NaN where no batch held the sample, or the epoch is from before a --resume of an older run).

    losses: {"last": [N], "best": [N]} tensors; flipped [N] bool and index [N] (the samples' positions in
    labels.npy) of the training split. clean_known False (own data without --clean-labels): flipped is not known,
    and saved as all False beside clean_known.
    """
    nan = np.full(len(index), np.nan, dtype=np.float32)
    arrays = {k: losses[k].float().cpu().numpy() if losses.get(k) is not None else nan for k in ("last", "best")}
    save_atomic(os.path.join(run_dir, "sample_loss.npz"), lambda f: np.savez(
        f, **arrays, flipped=np.asarray(flipped, bool) & clean_known, index=np.asarray(index, np.int64),
        best_epoch=best_epoch, last_epoch=last_epoch, clean_known=clean_known))


def result_fields(rows, best_epoch, calibration):
    """result.json's diagnostics: the selected model's ECE and reliability bins (calibration), and from log.csv's
    rows the last epoch's ECE and the flip AUROC at the selected and the last epoch (None for a row without it)."""
    def col(epoch, name):
        value = float(rows[epoch - 1].get(name) or "nan")
        return None if math.isnan(value) else value  # unknown (no clean labels, or no flip): null in JSON, not NaN
    return {"test_ece_best": calibration["ece"], "test_ece_last": col(len(rows), "test_ece"),
            "reliability_best": {k: calibration[k] for k in ("count", "confidence", "accuracy")},
            "train_flip_auroc_best": col(best_epoch, "train_flip_auroc"),
            "train_flip_auroc_last": col(len(rows), "train_flip_auroc")}
