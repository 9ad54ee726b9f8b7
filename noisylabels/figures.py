"""The figures of a results folder's training, one function per figure: plot.py finds the runs and calls these.

Every function takes the runs of one data set, grouped {setting: {loss: [runs]}}, and `ds`, the
data set it draws (its name, title and class names), so every figure names its data set. They read the
logs alone; the figures of the noise itself (transition matrices, images, IDN's spread) are noisefigures.py's.
"""
import math
import os
import warnings

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

from . import keys  # noqa: E402  (no torch)
from . import noise  # noqa: E402  (numpy only: no torch)
from .data import DATASETS  # noqa: E402
from .presets import REAL_SETS  # noqa: E402

REPORT_LOSSES = ["ce", "fl", "nce", "nfl", "nce+mae", "nfl+mae"]
KIND_NAMES = noise.KIND_NAMES
HUMAN_ORDER = [k for sets in noise.HUMAN_LABELS.values() for k in sets]
ORDER = ("none",) + noise.RATED + ("human", "human-matched", "file")  # of the settings in tables and figures


def setting_key(setting):
    """Sort order: clean first, then each noise model with a rate by rate, then the human label sets, then files."""
    kind, rate = noise.parse_setting(setting)
    order = ORDER.index(kind) if kind in ORDER else len(ORDER)
    if kind in ("human", "human-matched"):
        return (order, HUMAN_ORDER.index(rate) if rate in HUMAN_ORDER else len(HUMAN_ORDER))
    return (order, rate, "") if isinstance(rate, float) else (order, 0.0, rate)


def title(dataset):
    """A data set's name in words: a named data set's title (data.DATASETS), else its name (own data)."""
    return DATASETS[dataset].title if dataset in DATASETS else dataset


def title_of(setting, dataset="cifar10"):
    """A setting in words; where the fraction of labels changed is not the rate (uniform, idn), it says it."""
    kind, rate = noise.parse_setting(setting)
    if kind in ("human", "human-matched"):
        return f"{kind} noise ({title(dataset)}N {rate}{' counts' if kind != 'human' else ''})"
    if kind == "file":
        return f"labels from file {rate}"
    if kind == "none":
        return "its own noisy labels" if dataset in REAL_SETS else "no noise"
    C = DATASETS[dataset].num_classes if dataset in DATASETS else 10
    said = noise.expected_rate(kind, float(rate), C)
    return f"{KIND_NAMES.get(kind, kind)} noise {float(rate):g}" + (f" (~{said * 100:.1f} % changed)" if said else "")


def loss_order(name):
    return (REPORT_LOSSES.index(name) if name in REPORT_LOSSES else len(REPORT_LOSSES), name)


def loss_styles(losses):
    """One colour (and, past 20 losses, line style) per loss for every figure: the report's six first."""
    cmap = plt.get_cmap("tab10" if len(losses) <= 10 else "tab20")
    return {name: {"color": cmap(i % cmap.N), "linestyle": ["-", "--", ":", "-."][i // cmap.N % 4]}
            for i, name in enumerate(sorted(losses, key=loss_order))}


def mean_std(values, scale=100):
    """Mean and sample standard deviation (0 for a single value) of values times scale (100: in %)."""
    v = np.asarray(values, dtype=float) * scale
    return v.mean(), v.std(ddof=1) if len(v) > 1 else 0.0


def mean_curve(runs, column, relative=False):
    """(epochs, mean, sample std, n) over seeds of one log column, at each epoch over the seeds that reached it.

    relative: each run's column divided by its own first-epoch value, so losses of different scales compare.
    The std is 0 where one seed has reached the epoch. Runs from before a column was logged are left out.
    """
    runs = [r for r in runs if column in r["log"]]
    n = max(len(r["log"][column]) for r in runs)
    padded = np.full((len(runs), n), np.nan)  # [seeds, epochs]; a run in progress is NaN past its last epoch
    for i, r in enumerate(runs):
        v = r["log"][column]
        padded[i, : len(v)] = v / v[0] if relative else v
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an epoch no seed has a value at is NaN, not a warning
        sd = np.nan_to_num(np.nanstd(padded, axis=0, ddof=1)) if len(runs) > 1 else np.zeros(n)
        return np.arange(1, n + 1), np.nanmean(padded, axis=0), sd, len(runs)


def banded(ax, runs, column, style, label, scale=1.0, relative=False):
    """One loss's mean curve over its seeds, with a band of ± 1 sample std where there are two or more."""
    x, m, sd, n = mean_curve(runs, column, relative)
    ax.plot(x, m * scale, **style, marker="." if len(x) < 40 else None, label=f"{label} (n={n})" if n > 1 else label)
    if n > 1:
        ax.fill_between(x, (m - sd) * scale, (m + sd) * scale, color=style["color"], alpha=0.18, linewidth=0)
    return n


def provenance(runs):
    """The footer of a figure drawn from runs: what they were trained with (several values joined by /)."""
    def values(get):
        return "/".join(sorted({str(v) for r in runs if r["config"] for v in [get(r)] if v is not None})) or "?"
    seeds = sorted({int(r["seed"]) for r in runs if r["seed"].isdigit()})
    epochs = values(lambda r: r['config'].get('epochs'))
    data = values(lambda r: os.path.basename(str(r["config"].get("data_dir", "")).rstrip("/")) or None)
    return (f"{values(lambda r: r['config'].get('arch'))}, --preset {values(lambda r: r['config'].get('preset'))}, "
            f"{epochs} epoch{'' if epochs == '1' else 's'}, seed{'s' if len(seeds) > 1 else ''} "
            f"{', '.join(map(str, seeds)) or '?'}, {values(lambda r: keys.facts_of(r['config'])['precision_used'])}"
            + (f", data {data}" if data != "?" else ""))


def footer(fig, runs, note=""):
    """Under the figure, wrapped to its width: a long footer never widens the canvas."""
    fig.text(0.01, -0.01, f"Runs: {provenance(runs)}.{' ' + note if note else ''}", fontsize=8, color="dimgray",
             ha="left", va="top", wrap=True)


def accuracy_cells(by_setting, key):
    """{(setting, loss): [value of each finished seed]} for a result.json key (test_acc_best, test_ece_last, ...);
    a run from before the key was recorded is left out."""
    cells = {}
    for setting, by_loss in by_setting.items():
        for loss, runs in by_loss.items():
            cells.setdefault((setting, loss), []).extend(
                r["result"][key] for r in runs if r["result"] and r["result"].get(key) is not None)
    return cells


def plain_log_labels(ax):
    """Label a log y axis 0.8, 2 rather than 8 x 10^-1, with fewer minor labels the more decades it spans."""
    lo, hi = ax.get_ylim()
    if hi / lo < 2:  # less than an octave: a major tick may not fall inside, so label every minor tick
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
    decades = math.log10(hi / lo)
    keep = range(1, 10) if decades < 1 else (2, 5) if decades < 2.5 else ()

    def minor(v, _):
        return f"{v:g}" if round(v / 10 ** math.floor(math.log10(v))) in keep else ""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(minor))


def selects(runs):
    """Did any of these runs select a model on a validation split? Runs with --val-fraction 0 did not."""
    return any(r["result"].get("selection", "best validation") == "best validation" for r in runs if r["result"])


def curves(by_setting, ds, colours, save):
    """Training loss, validation accuracy and clean test accuracy against epoch, one line per loss, mean ± std over
    seeds: one figure per setting found, clean included, each named by its setting (curves_sym-0.5 and
    curves_asym-0.25 are the report's Figures 3 and 4); --only picks the settings.

    Each loss's training loss is divided by its own first-epoch value: CE and NCE+RCE have no common scale.
    The validation split carries the noisy labels unless --clean-val; the test set's are clean. Runs without
    a validation split (the papers' protocol) have the training loss and test panels only.
    """
    # One figure a setting, not a grid of them: each keeps three readable panels and a legend of up to 20 losses.
    for setting in sorted(by_setting, key=setting_key):
        runs = sum(by_setting[setting].values(), [])
        val = selects(runs)
        real = ds["name"] in REAL_SETS  # its own noisy labels; Clothing1M validates on its clean list
        clean = {bool(r["config"].get("clean_val")) for r in runs if r["config"]} == {True} \
            or (noise.parse_setting(setting)[0] == "none" if not real else ds["name"] == "clothing1m")
        panels = [("train_loss", "Training loss, relative to epoch 1", "training loss ÷ its epoch-1 value (log scale)")]
        if val:
            labels = "clean" if clean else "noisy"
            panels.append(("val_acc", f"Validation accuracy ({labels} labels)",
                           f"accuracy on the validation split's {labels} labels (%)"))
        first = next((r["result"]["test_set"] for r in runs if r["result"] and r["result"].get("test_set")), "test")
        panels.append(("test_acc", "Test accuracy (clean labels)", "accuracy on the clean test set (%)") if
                      ds.get("named", True) else ("test_acc", f"Test accuracy ({first})", f"accuracy on {first}'s "
                                                  "labels (%)") if real else ("test_acc", "Test accuracy (its labels as given)", "accuracy on "
                                                  "the test folder's labels (%)"))
        fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2))
        fig.subplots_adjust(wspace=0.3)  # room for each panel's y label beside its neighbour's
        for loss, rs in sorted(by_setting[setting].items(), key=lambda kv: loss_order(kv[0])):
            for ax, (col, _, _) in zip(axes, panels):
                banded(ax, rs, col, colours[loss], loss, 1 if col == "train_loss" else 100, col == "train_loss")
        for ax, (col, title, ylabel) in zip(axes, panels):
            ax.set(xlabel="epoch", ylabel=ylabel, title=title)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        lows = [ln.get_ydata().min() for ln in axes[0].get_lines()]
        if lows and min(lows) > 0:  # a loss with a negative floor (NLS, LDR-KL) keeps a linear axis
            axes[0].set_yscale("log")
            plain_log_labels(axes[0])
        else:
            axes[0].set_ylabel("training loss ÷ its epoch-1 value")
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, ncol=1 + len(by_setting[setting]) // 16)
        fig.suptitle(f"{ds['title']}: training curves, {title_of(setting, ds['name'])}"
                     + ("" if val else " (no validation split)"), y=1.02)
        footer(fig, runs, "Lines: mean over seeds; bands: ± 1 standard deviation; n: seeds.")
        save(fig, f"curves_{setting}")


def accuracy_vs_rate(by_setting, ds, colours, save):
    """Test accuracy against noise rate per loss, best-validation model and last epoch (Figures 5, 6).

    Rates in percent, ticked at the rates that were run; mean ± std over seeds as a band and error bars.
    A loss run at one rate only is a hollow marker, said in the legend: one point is not a trend.
    """
    for kind in noise.RATED:
        settings = sorted([s for s in by_setting if noise.parse_setting(s)[0] == kind or s == "none-0.0"],
                          key=setting_key)
        if not any(noise.parse_setting(s)[0] == kind for s in settings):
            continue
        runs = [r for s in settings for rs in by_setting[s].values() for r in rs]
        if not any(r["result"] for r in runs):
            print(f"no accuracy_vs_rate_{kind} for {ds['name']}: no run of it has finished (result.json)")
            continue
        panels = [("test_acc_best", "best-validation model"), ("test_acc_last", "last epoch")]
        if not selects(runs):
            panels = panels[1:]  # without a validation split the "best" model is the last epoch's
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), sharey=True, squeeze=False)
        axes, rates = axes[0], sorted({setting_key(s)[1] * 100 for s in settings})
        for ax, (key, name) in zip(axes, panels):
            cells = accuracy_cells(by_setting, key)
            for loss in colours:
                pts = [(setting_key(s)[1] * 100, *mean_std(cells[s, loss]), len(cells[s, loss]))
                       for s in settings if cells.get((s, loss))]
                if not pts:
                    continue
                x, m, sd, n = map(np.array, zip(*pts))
                one = len(x) == 1
                ax.errorbar(x, m, yerr=np.where(n > 1, sd, 0), color=colours[loss]["color"],
                            linestyle="none" if one else colours[loss]["linestyle"], marker="D" if one else "o",
                            markersize=9 if one else 5, markerfacecolor="none" if one else colours[loss]["color"],
                            capsize=3, label=f"{loss} (one rate only)" if one else loss)
                if not one and (n > 1).any():
                    ax.fill_between(x, m - sd, m + sd, color=colours[loss]["color"], alpha=0.15, linewidth=0)
            ax.set(xlabel=f"{KIND_NAMES[kind]} noise rate (%)", title=f"Test accuracy, {name}")
            ax.set_xticks(rates, [f"{r:g}" for r in rates])
            if len(rates) == 1:
                ax.set_xlim(rates[0] - 10, rates[0] + 10)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("accuracy on the clean test set (%)")
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, ncol=1 + len(colours) // 16)
        fig.suptitle(f"{ds['title']}: test accuracy against {KIND_NAMES[kind]} noise rate")
        footer(fig, runs, "Mean over seeds; bars and bands: ± 1 standard deviation.")
        save(fig, f"accuracy_vs_rate_{kind}")


def normalisation(ds, save):
    """The report's 1 - e^-x against the identity, and Ma et al.'s ratio normalisation of CE, at C classes."""
    C = len(ds["classes"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    x = np.linspace(0, 5, 200)
    axes[0].plot(x, 1 - np.exp(-x), label="1 − e^(−x) (the report's 'normalisation')")
    axes[0].plot(x, x, "--", color="gray", label="identity")
    axes[0].set(xlabel="x (a loss value, e.g. CE)", ylabel="normalised value", ylim=(0, 2),
                title="The report: 1 − e^(−x) squashes the loss")
    p = np.linspace(1e-4, 1 - 1e-4, 400)
    rest = np.log((1 - p) / (C - 1))  # the other C - 1 classes share the remaining mass equally
    axes[1].plot(p, np.log(p) / (np.log(p) + (C - 1) * rest), label="NCE = log p_y / Σ_k log p_k (Ma et al.)")
    axes[1].plot(p, 1 - p, label="1 − e^(−CE) = 1 − p_y (the report's NCE; MAE up to a factor 2)")
    axes[1].plot(p, -np.log(p) / np.log(1e4), ":", color="gray",
                 label="cross-entropy −log p_y, scaled to reach 1 at p_y = 0.0001")
    axes[1].set(xlabel="p_y, the probability of the label", ylabel="loss", ylim=(0, 1.05),
                title=f"As a function of p_y (C = {C}, rest uniform)")
    for ax in axes:  # below the panels, where no curve runs
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    fig.suptitle(f"Two definitions of a normalised cross-entropy ({ds['title']}'s {C} classes)")
    save(fig, "normalisation")


def unknown_clean(ds, setting, what, save, name):
    """In place of a figure that needs the clean training labels: a figure saying that none are known."""
    fig = plt.figure(figsize=(7.5, 1.6))
    fig.text(0.5, 0.5, f"{ds['title']}, {title_of(setting, ds['name'])}: no {what}.\nNo clean labels are known "
                       f"for these training images, so no label is known to be flipped:\ntrain.py --clean-labels "
                       f"FILE measures it against the labels in FILE.", ha="center", va="center", fontsize=11)
    save(fig, f"{name}_{setting}")
    print(f"{name}_{setting}: no clean labels are known for {ds['name']}; the figure says so")


def memorisation(by_setting, setting, ds, colours, save):
    """On the flipped training samples: predicted as their noisy label, and as their true label; and how well
    the loss tells them from the clean ones (diagnose.flip_auroc), mean ± std over seeds."""
    if not ds.get("clean_known", True):
        return unknown_clean(ds, setting, "memorisation of the noisy labels", save, "memorisation")
    if not any("train_flipped_as_noisy" in r["log"] for rs in by_setting.get(setting, {}).values() for r in rs):
        print(f"no memorisation figure for {ds['name']}: no run at {setting} logged the flipped-sample columns")
        return
    runs = sum(by_setting[setting].values(), [])
    auroc = any("train_flip_auroc" in r["log"] for r in runs)
    fig, axes = plt.subplots(1, 2 + auroc, figsize=(5.2 * (2 + auroc), 4.2))
    cols = ["train_flipped_as_noisy", "train_flipped_as_true"] + ["train_flip_auroc"] * auroc
    for loss, rs in sorted(by_setting[setting].items(), key=lambda kv: loss_order(kv[0])):
        if "train_flipped_as_noisy" not in rs[0]["log"]:
            continue  # a run from before these columns were logged
        for ax, col in zip(axes, cols):
            if any(col in r["log"] for r in rs):
                banded(ax, rs, col, colours[loss], loss, 1 if col == "train_flip_auroc" else 100)
    axes[0].set(ylabel="% of the flipped training samples", title="Predicted as their noisy label (memorised)")
    axes[1].set(ylabel="% of the flipped training samples", title="Predicted as their true label (corrected)")
    if auroc:
        axes[2].axhline(0.5, color="gray", linestyle=":", linewidth=1)
        axes[2].set(ylabel="AUROC (0.5: no better than chance)", ylim=(0.4, 1.01),
                    title="Flipped told from clean by their loss")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    fig.suptitle(f"{ds['title']}: memorisation of the noisy labels, {title_of(setting, ds['name'])}", y=1.02)
    footer(fig, runs, "Predictions and losses as each training step made them during the epoch (on augmented "
                      "images where augmentation is on).\nAUROC: how often a flipped sample's −log p(noisy label) is "
                      "above a clean one's.")
    save(fig, f"memorisation_{setting}")
