"""The figures of a results folder's training, one function per figure: plot.py finds the runs and calls these.

Every function takes the runs of one data set, grouped {setting: {loss: [runs]}}, and `ds`, the
data set it draws (its name, title and class names), so every figure names its data set. They read the
logs alone; the figures of the noise itself (transition matrices, images, IDN's spread) are noisefigures.py's.
"""
import math

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

import noise  # noqa: E402  (numpy only: no torch)
from data import DATASETS  # noqa: E402

REPORT_LOSSES = ["ce", "fl", "nce", "nfl", "nce+mae", "nfl+mae"]
CURVE_SETTINGS = ["sym-0.5", "asym-0.25"]  # the report's Figures 3 and 4
PAPER_CURVES = ["sym-0.4", "asym-0.4"]  # where a study has none of the report's: the papers' middle columns
KIND_NAMES = noise.KIND_NAMES
TITLES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "mnist": "MNIST"}
HUMAN_ORDER = [k for sets in noise.HUMAN_LABELS.values() for k in sets]
ORDER = ("none",) + noise.RATED + ("human", "human-matched", "file")  # of the settings in tables and figures


def setting_key(setting):
    """Sort order: clean first, then each noise model with a rate by rate, then the human label sets, then files."""
    kind, rate = setting.rsplit("-", 1)
    order = ORDER.index(kind) if kind in ORDER else len(ORDER)
    if kind in ("human", "human-matched"):
        return (order, HUMAN_ORDER.index(rate) if rate in HUMAN_ORDER else len(HUMAN_ORDER))
    return (order, float(rate) if kind in ORDER[:-3] else 0.0, rate)


def title_of(setting, dataset="cifar10"):
    """A setting in words; where the fraction of labels changed is not the rate (uniform, idn), it says it."""
    kind, rate = setting.rsplit("-", 1)
    if kind in ("human", "human-matched"):
        return f"{kind} noise ({TITLES.get(dataset, dataset)}N {rate}{' counts' if kind != 'human' else ''})"
    if kind == "file":
        return f"labels from file {rate}"
    if kind == "none":
        return "no noise"
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


def mean_std(values):
    """Mean and sample standard deviation (0 for a single value), in %."""
    v = np.asarray(values) * 100
    return v.mean(), v.std(ddof=1) if len(v) > 1 else 0.0


def mean_curve(runs, column):
    """Mean over seeds of one log column at each epoch, over the seeds that have reached it."""
    n = max(len(r["log"][column]) for r in runs)
    padded = np.full((len(runs), n), np.nan)  # [seeds, epochs]; a run in progress is NaN past its last epoch
    for i, r in enumerate(runs):
        padded[i, : len(r["log"][column])] = r["log"][column]
    with np.errstate(all="ignore"):
        return np.arange(1, n + 1), np.nanmean(padded, axis=0), len(runs)


def accuracy_cells(by_setting, key):
    """{(setting, loss): [test accuracy of each finished seed]} for result key test_acc_best/last."""
    cells = {}
    for setting, by_loss in by_setting.items():
        for loss, runs in by_loss.items():
            cells.setdefault((setting, loss), []).extend(r["result"][key] for r in runs if r["result"])
    return cells


def arch_of(runs):
    return "/".join(sorted({r["config"].get("arch", "?") for r in runs if r["config"]})) or "?"


def plain_log_labels(ax):
    """Label a log y axis 0.8, 2 rather than 8 x 10^-1, with fewer minor labels the more decades it spans."""
    lo, hi = ax.get_ylim()
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
    """Validation loss and accuracy against epoch, one line per loss (report Figures 3 and 4; and human noise).

    Runs without a validation split (the papers' protocol) draw their test curves instead: nothing is
    selected on them, so they are the papers' own figures of test accuracy over training.
    """
    chosen = [s for s in by_setting if s in CURVE_SETTINGS] or [s for s in by_setting if s in PAPER_CURVES]
    # sym and asym: the report's settings; every setting of the other noise models (a study has few of each).
    for setting in chosen + sorted((s for s in by_setting if s.split("-")[0] not in ("none", "sym", "asym")),
                                   key=setting_key):
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
        split = "val" if selects(sum(by_setting[setting].values(), [])) else "test"
        name = {"val": "validation", "test": "test"}[split]
        for loss, runs in sorted(by_setting[setting].items()):
            for ax, col in zip(axes, [f"{split}_loss", f"{split}_acc"]):
                x, y, n = mean_curve(runs, col)
                ax.plot(x, y * (100 if col.endswith("acc") else 1), **colours[loss], marker=".",
                        label=f"{loss}" + (f" (mean of {n})" if n > 1 else ""))
        for ax in axes:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        # Log scale: bounded losses (<= 1) and unbounded ones (CE, RCE) share the panel.
        axes[0].set(xlabel="epoch", ylabel=f"{name} loss (the run's own loss, log scale)", yscale="log",
                    title=f"{name.capitalize()} loss")
        plain_log_labels(axes[0])
        axes[1].set(xlabel="epoch", ylabel=f"{name} accuracy (%)", title=f"{name.capitalize()} accuracy")
        axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, ncol=1 + len(by_setting[setting]) // 16)
        runs = sum(by_setting[setting].values(), [])
        fig.suptitle(f"{ds['title']}: {name} curves, {title_of(setting, ds['name'])}, {arch_of(runs)}"
                     + ("" if split == "val" else " (no validation split)"))
        save(fig, f"curves_{setting}")


def accuracy_vs_rate(by_setting, ds, colours, save):
    """Test accuracy against noise rate per loss, best-validation model and last epoch (Figures 5, 6)."""
    for kind in noise.RATED:
        settings = sorted([s for s in by_setting if s.rsplit("-", 1)[0] == kind or s == "none-0.0"], key=setting_key)
        if not any(s.startswith(kind + "-") for s in settings):
            continue
        panels = [("test_acc_best", "best-validation model"), ("test_acc_last", "last epoch")]
        if not selects([r for s in settings for rs in by_setting[s].values() for r in rs]):
            panels = panels[1:]  # without a validation split the "best" model is the last epoch's
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), sharey=True, squeeze=False)
        axes = axes[0]
        for ax, (key, name) in zip(axes, panels):
            cells = accuracy_cells(by_setting, key)
            for loss in colours:
                pts = [(setting_key(s)[1], *mean_std(cells[s, loss])) for s in settings if cells.get((s, loss))]
                if not pts:
                    continue
                x, m, sd = map(np.array, zip(*pts))
                ax.plot(x, m, marker="o", **colours[loss], label=loss)
                ax.fill_between(x, m - sd, m + sd, color=colours[loss]["color"], alpha=0.15, linewidth=0)
            ax.set(xlabel="noise rate", title=f"Test accuracy, {name}")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("clean test accuracy (%)")
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False, ncol=1 + len(colours) // 16)
        fig.suptitle(f"{ds['title']}: test accuracy against {KIND_NAMES[kind]} noise rate "
                     f"(mean, band ±1 std over seeds)")
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
    axes[1].plot(p, 1 - p, label="1 − e^(−CE) = 1 − p_y (the report's NCE, = MAE)")
    axes[1].plot(p, -np.log(p) / np.log(1e4), ":", color="gray", label="CE / log 1e4 (for scale)")
    axes[1].set(xlabel="p_y, the probability of the label", ylabel="loss", ylim=(0, 1.05),
                title=f"As a function of p_y (C = {C}, rest uniform)")
    for ax in axes:  # below the panels, where no curve runs
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    fig.suptitle(f"Two definitions of a normalised cross-entropy ({ds['title']}'s {C} classes)")
    save(fig, "normalisation")


def memorisation(by_setting, setting, ds, colours, save):
    """On the flipped training samples: predicted as their noisy label, and as their true label."""
    if not any("train_flipped_as_noisy" in r["log"] for rs in by_setting.get(setting, {}).values() for r in rs):
        print(f"no memorisation figure for {ds['name']}: no run at {setting} logged the flipped-sample columns")
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for loss, runs in sorted(by_setting[setting].items()):
        if "train_flipped_as_noisy" not in runs[0]["log"]:
            continue  # a run from before these columns were logged
        for ax, col in zip(axes, ["train_flipped_as_noisy", "train_flipped_as_true"]):
            x, y, _ = mean_curve(runs, col)
            ax.plot(x, y * 100, **colours[loss], marker=".", label=loss)
    axes[0].set(xlabel="epoch", ylabel="% of the flipped training samples",
                title="Predicted as their noisy label (memorised)")
    axes[1].set(xlabel="epoch", title="Predicted as their true label (corrected)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    fig.suptitle(f"{ds['title']}: memorisation of the noisy labels, {title_of(setting, ds['name'])} "
                 f"(from the training steps' own logits)")
    save(fig, f"memorisation_{setting}")
