"""The figures of the diagnostics every run writes (diagnose.py): how its loss separates flipped from clean
training samples, and how well calibrated its selected model is. plot.py calls these for one setting; they read
sample_loss.npz and result.json, and draw one panel per loss.
"""
import math
import os
import sys
import zipfile

import numpy as np

from matplotlib.ticker import FixedLocator, LogFormatterSciNotation, NullFormatter

from .figures import footer, loss_order, mean_std, plt, title_of, unknown_clean


def panels(n):
    """A figure of n panels, up to 5 a row, the unused ones hidden: the canvas is sized by the panels (each 3.9 x 3.4
    inches) and the legend beside them, so one panel is as large as one of ten."""
    cols = min(n, 5)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.9 * cols + 2.0, 3.4 * rows + 1.0), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def said(values, digits, scale=1.0):
    """'0.912' or '0.912 ± 0.004' (mean ± sample std over seeds) of the values that are known, times scale;
    None where none is."""
    v = [x for x in values if x is not None and not math.isnan(x)]
    if not v:
        return None
    m, sd = mean_std(v, scale)
    return f"{m:.{digits}f}" + (f" ± {sd:.{digits}f}" if len(v) > 1 else "")


def read_npz(path):
    """sample_loss.npz's arrays; None, said in one line, where it cannot be read (half-written, not an npz)."""
    try:
        with np.load(path) as z:
            return {k: z[k] for k in ("flipped", "last", "best")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        print(f"note: cannot read {path} ({e}); its run is left out of the sample-loss figure", file=sys.stderr)
        return None


def sample_losses(by_setting, setting, ds, colours, save):
    """Histograms of the per-sample loss -log p_y~ of flipped and clean training samples, one panel per loss,
    at the last epoch (filled) and at the selected model's (lines), the seeds pooled."""
    if not ds.get("clean_known", True):
        return unknown_clean(ds, setting, "losses of flipped and clean samples", save, "sample_loss")
    found = {}
    for loss, runs in by_setting.get(setting, {}).items():
        files = [os.path.join(r["dir"], "sample_loss.npz") for r in runs]
        loaded = [z for z in (read_npz(f) for f in files if os.path.isfile(f)) if z is not None]
        if loaded and any(z["flipped"].any() for z in loaded):
            found[loss] = (loaded, {when: [r["result"].get(f"train_flip_auroc_{when}") for r in runs if r["result"]]
                                    for when in ("last", "best")})
    if not found:
        print(f"no sample-loss figure for {ds['name']}: no finished run at {setting} wrote sample_loss.npz")
        return
    losses = sorted(found, key=loss_order)
    fig, axes = panels(len(losses))
    edges = np.logspace(-6, 2, 57)  # -log p from p = 1 - 1e-6 to e^-100; values outside land in the end bins
    for ax, loss in zip(axes, losses):
        loaded, aurocs = found[loss]
        flipped = np.concatenate([z["flipped"] for z in loaded])
        for when, kind in (("last", "stepfilled"), ("best", "step")):  # filled: the final model; lines: the selected
            v = np.concatenate([z[when] for z in loaded])
            known = ~np.isnan(v)
            v, f = np.clip(v[known], edges[0], edges[-1]), flipped[known]
            for part, name, colour in ((~f, "clean", "tab:blue"), (f, "flipped", "tab:red")):
                ax.hist(v[part], bins=edges, weights=np.full(part.sum(), 100 / max(part.sum(), 1)), histtype=kind,
                        alpha=0.45 if kind == "stepfilled" else 0.9, color=colour,
                        linestyle="-" if kind == "stepfilled" else "--",
                        label=f"{name}, {'last epoch' if when == 'last' else 'selected model'}")
        ax.set_xscale("log")
        ax.set_xlim(edges[0], edges[-1])
        ax.xaxis.set_major_locator(FixedLocator(10.0 ** np.arange(-6, 3, 2)))  # a labelled tick every other decade
        ax.xaxis.set_minor_locator(FixedLocator(10.0 ** np.arange(-6, 3)))  # and a tick at each
        ax.xaxis.set_major_formatter(LogFormatterSciNotation())
        ax.xaxis.set_minor_formatter(NullFormatter())
        last, best = said(aurocs["last"], 3), said(aurocs["best"], 3)
        ax.set_title(f"{loss}\nAUROC: last {last or '?'}\nselected {best or '?'}", fontsize=9,
                     color=colours[loss]["color"])
        ax.set_xlabel("−log p(noisy label)", fontsize=9)
        ax.grid(alpha=0.3)
    axes[min(len(axes), 5) - 1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)  # top right
    for ax in axes[::5]:  # the first panel of each row
        ax.set_ylabel("% of the group")
    fig.suptitle(f"{ds['title']}: per-sample training loss of flipped and clean labels, {title_of(setting, ds['name'])}",
                 wrap=True)
    runs = [r for loss in losses for r in by_setting[setting][loss]]
    footer(fig, runs, "Losses as the training steps of that epoch computed them; seeds pooled; the end bins hold "
                      "every loss beyond them.\n"
                      "AUROC: how often a flipped sample's loss is above a clean one's (1: always, 0.5: chance), "
                      "the small-loss criterion of Co-teaching and DivideMix.")
    fig.tight_layout()
    save(fig, f"sample_loss_{setting}")


def reliability(by_setting, setting, ds, colours, save):
    """Reliability diagrams of the selected models on the clean test set, one panel per loss, seeds' bins pooled."""
    found = {loss: [r["result"] for r in runs if r["result"] and r["result"].get("reliability_best")]
             for loss, runs in by_setting.get(setting, {}).items()}
    losses = sorted((loss for loss, res in found.items() if res), key=loss_order)
    if not losses:
        print(f"no reliability figure for {ds['name']}: no finished run at {setting} recorded its calibration")
        return
    fig, axes = panels(len(losses))
    for ax, loss in zip(axes, losses):
        bins = [r["reliability_best"] for r in found[loss]]
        count = np.sum([b["count"] for b in bins], axis=0)  # [bins]
        acc = np.sum([np.multiply(b["accuracy"], b["count"]) for b in bins], axis=0) / np.maximum(count, 1)
        conf = np.sum([np.multiply(b["confidence"], b["count"]) for b in bins], axis=0) / np.maximum(count, 1)
        lo = np.linspace(0, 1, len(count) + 1)[:-1]
        width, full = 1 / len(count), count > 0
        ax.bar(lo[full], acc[full], width, align="edge", color=colours[loss]["color"], alpha=0.75, label="accuracy")
        ax.bar(lo[full], conf[full] - acc[full], width, bottom=acc[full], align="edge", fill=False, hatch="//",
               edgecolor="tab:red", linewidth=0.5, label="gap to confidence")
        ax.plot([0, 1], [0, 1], ":", color="gray", linewidth=1)
        ax.set(xlim=(0, 1), ylim=(0, 1))
        ax.set_title(f"{loss}\nECE {said([r['test_ece_best'] for r in found[loss]], 2, scale=100)} %",
                     fontsize=10, color=colours[loss]["color"])
        ax.set_xlabel("confidence (top softmax probability)", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[::5]:
        ax.set_ylabel("accuracy on the clean test set")
    axes[min(len(axes), 5) - 1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)  # top right
    fig.suptitle(f"{ds['title']}: calibration of the selected models, {title_of(setting, ds['name'])}", wrap=True)
    runs = [r for loss in losses for r in by_setting[setting][loss]]
    footer(fig, runs, "15 equal confidence bins, seeds pooled; the diagonal is perfect calibration. "
                      "ECE: mean over seeds ± std, in % points.")
    fig.tight_layout()
    save(fig, f"reliability_{setting}")
