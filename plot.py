"""Figures and tables from a results folder: `python plot.py results/` writes results/figures/.

Reads the run directories train.py writes (OUT/<noise>-<rate>/<loss>/seed<seed>/ with log.csv,
result.json, noise.json). Only the image grid needs the data set (and torch); every other
figure and the tables read the logs alone. A partial grid is normal: what is missing is left out.
"""
import argparse
import csv
import io
import json
import math
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

from noise import CLASSES, HUMAN_LABELS  # noqa: E402  (numpy only: no torch)

REPORT_LOSSES = ["ce", "fl", "nce", "nfl", "nce+mae", "nfl+mae"]
CURVE_SETTINGS = ["sym-0.5", "asym-0.25"]  # the report's Figures 3 and 4
KIND_NAMES = {"sym": "symmetric", "asym": "asymmetric", "none": "no"}
HUMAN_ORDER = list(HUMAN_LABELS)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="plot.py", description="Figures and tables from a results folder.")
    p.error = lambda msg: p.exit(2, f"error: {msg}; see plot.py --help\n")  # one line, not argparse's usage block
    p.add_argument("results", help="results root written by train.py / run_grid.sh")
    p.add_argument("--only", help="comma-separated settings to draw, e.g. sym-0.5,asym-0.25 (default: all)")
    p.add_argument("--losses", help="comma-separated losses to draw, e.g. ce,nce+mae (default: all)")
    p.add_argument("--format", default="png", help="comma-separated file formats, e.g. png,pdf (default: png)")
    p.add_argument("--seeds", type=int, help="seeds asked for per cell; fewer are marked n=k (default: the most found)")
    p.add_argument("--memorisation", help="setting of the memorisation figure and the image grid (default: "
                                          "sym-0.5, or the first noisy setting found when sym-0.5 has no runs)")
    p.add_argument("--data-dir", help="CIFAR-10 folder, for the grid of noisy training images (default: no grid)")
    return p.parse_args(argv)


def setting_key(setting):
    """Sort order: clean first, then symmetric, then asymmetric, each by rate, then human (CIFAR-10N) label sets."""
    kind, rate = setting.rsplit("-", 1)
    if kind == "human":
        return (3, HUMAN_ORDER.index(rate) if rate in HUMAN_ORDER else len(HUMAN_ORDER))
    return ({"none": 0, "sym": 1, "asym": 2}.get(kind, 4), float(rate))


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in rows[0]} \
        if rows else {}


def read_json(path):
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def find_runs(root):
    """Every run directory below root: a list of dicts with setting, loss, seed, log, result, noise."""
    runs = []
    for dirpath, _, files in os.walk(root):
        if "log.csv" not in files:
            continue
        parts = os.path.relpath(dirpath, root).split(os.sep)
        if len(parts) != 3 or not parts[2].startswith("seed") or "-" not in parts[0]:
            continue
        log = read_csv(os.path.join(dirpath, "log.csv"))
        if not log:
            continue  # a run that has not finished its first epoch
        runs.append({"setting": parts[0], "loss": parts[1], "seed": parts[2][4:], "log": log, "dir": dirpath,
                     "result": read_json(os.path.join(dirpath, "result.json")),
                     "noise": read_json(os.path.join(dirpath, "noise.json"))})
    return runs


def loss_styles(losses):
    """One colour (and, past 20 losses, line style) per loss for every figure: the report's six first."""
    cmap = plt.get_cmap("tab10" if len(losses) <= 10 else "tab20")
    return {name: {"color": cmap(i % cmap.N), "linestyle": ["-", "--", ":", "-."][i // cmap.N % 4]}
            for i, name in enumerate(sorted(losses, key=loss_order))}


def loss_order(name):
    return (REPORT_LOSSES.index(name) if name in REPORT_LOSSES else len(REPORT_LOSSES), name)


def write_atomic(path, write):
    """write(tmp_path), then rename: never a half-written figure or table under its real name."""
    write(f"{path}.tmp")
    os.replace(f"{path}.tmp", path)


def save(fig, out, name, formats):
    for fmt in formats:
        write_atomic(os.path.join(out, f"{name}.{fmt}"),
                     lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight"))
    plt.close(fig)


def write_text(path, text):
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            f.write(text)
    write_atomic(path, write)


def title_of(setting):
    kind, rate = setting.rsplit("-", 1)
    if kind == "human":
        return f"human noise (CIFAR-10N {rate})"
    return "no noise" if kind == "none" else f"{KIND_NAMES.get(kind, kind)} noise {float(rate):g}"


def arch_of(runs):
    archs = sorted({read_json(os.path.join(r["dir"], "config.json")).get("arch", "?") for r in runs
                    if os.path.isfile(os.path.join(r["dir"], "config.json"))})
    return "/".join(archs) or "?"


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


def plain_log_labels(ax):
    """Label a log y axis 0.8, 2 rather than 8 x 10^-1, with fewer minor labels the more decades it spans."""
    lo, hi = ax.get_ylim()
    decades = math.log10(hi / lo)
    keep = range(1, 10) if decades < 1 else (2, 5) if decades < 2.5 else ()

    def minor(v, _):
        return f"{v:g}" if round(v / 10 ** math.floor(math.log10(v))) in keep else ""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(minor))


def fig_curves(by_setting, colours, out, formats):
    """Validation loss and accuracy against epoch, one line per loss (report Figures 3 and 4; and human noise)."""
    for setting in [s for s in by_setting if s in CURVE_SETTINGS or s.startswith("human-")]:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
        for loss, runs in sorted(by_setting[setting].items()):
            for ax, col in zip(axes, ["val_loss", "val_acc"]):
                x, y, n = mean_curve(runs, col)
                ax.plot(x, y * (100 if col == "val_acc" else 1), **colours[loss], marker=".",
                        label=f"{loss}" + (f" (mean of {n})" if n > 1 else ""))
        for ax in axes:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        # Log scale: bounded losses (<= 1) and unbounded ones (CE, RCE) share the panel.
        axes[0].set(xlabel="epoch", ylabel="validation loss (the run's own loss, log scale)", yscale="log",
                    title="Validation loss")
        plain_log_labels(axes[0])
        axes[1].set(xlabel="epoch", ylabel="validation accuracy (%)", title="Validation accuracy")
        axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
        fig.suptitle(f"Validation curves, {title_of(setting)}, {arch_of(sum(by_setting[setting].values(), []))}")
        save(fig, out, f"curves_{setting}", formats)


def accuracy_cells(by_setting, key):
    """{(setting, loss): [test accuracy of each finished seed]} for result key test_acc_best/last."""
    cells = defaultdict(list)
    for setting, by_loss in by_setting.items():
        for loss, runs in by_loss.items():
            cells[setting, loss] += [r["result"][key] for r in runs if r["result"]]
    return cells


def fig_accuracy_vs_rate(by_setting, colours, out, formats):
    """Test accuracy against noise rate per loss, best-validation model and last epoch (Figures 5, 6)."""
    for kind in ("sym", "asym"):
        settings = sorted([s for s in by_setting if s.startswith(kind + "-") or s == "none-0.0"], key=setting_key)
        if not any(s.startswith(kind) for s in settings):
            continue
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
        for ax, key, name in zip(axes, ["test_acc_best", "test_acc_last"], ["best-validation model", "last epoch"]):
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
        axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
        fig.suptitle(f"Test accuracy against {KIND_NAMES[kind]} noise rate (mean, band ±1 std over seeds)")
        save(fig, out, f"accuracy_vs_rate_{kind}", formats)


def fig_normalisation(out, formats, C=10):
    """The report's 1 - e^-x against the identity, and Ma et al.'s ratio normalisation of CE."""
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
    fig.suptitle("Two definitions of a normalised cross-entropy")
    save(fig, out, "normalisation", formats)


def fig_transitions(by_setting, out, formats):
    """The realised noise transition matrix of each noise setting, annotated (report Figure 2)."""
    for setting in sorted(by_setting, key=setting_key):
        noise = next((r["noise"] for rs in by_setting[setting].values() for r in rs if r["noise"]), None)
        if noise is None or setting.startswith("none"):
            continue
        T = np.array(noise["transition_matrix"]) * 100
        fig, ax = plt.subplots(figsize=(7.5, 6.5))
        im = ax.imshow(T, cmap="Blues", vmin=0, vmax=100)
        for i in range(T.shape[0]):
            for j in range(T.shape[1]):
                if T[i, j] >= 0.05:
                    ax.text(j, i, f"{T[i, j]:.0f}" if T[i, j] >= 1 else "<1", ha="center", va="center",
                            fontsize=7, color="white" if T[i, j] > 50 else "black")
        names = CLASSES[: T.shape[0]]
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), names)
        ax.set(xlabel="label given (noisy)", ylabel="true class")
        fig.colorbar(im, ax=ax, label="% of the true class", fraction=0.046)
        ax.set_title(f"Realised transition matrix, {title_of(setting)}\n"
                     f"(realised rate {noise['realised_rate'] * 100:.1f} % of all training labels)")
        save(fig, out, f"transition_{setting}", formats)


def fig_memorisation(by_setting, setting, colours, out, formats):
    """On the flipped training samples: predicted as their noisy label, and as their true label."""
    if not any("train_flipped_as_noisy" in r["log"] for rs in by_setting.get(setting, {}).values() for r in rs):
        print(f"no memorisation figure: no run at {setting} logged the flipped-sample columns")
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
    fig.suptitle(f"Memorisation of the noisy labels, {title_of(setting)} (from the training steps' own logits)")
    save(fig, out, f"memorisation_{setting}", formats)


def fig_image_grid(data_dir, setting, seed, out, formats, n=24):
    """Real training images with their clean -> noisy labels (the report's Figure 1)."""
    import data
    import noise

    x, y, _, _ = data.load_cifar10(data_dir, fetch=False)  # plot.py never downloads
    kind, rate = setting.rsplit("-", 1)
    noisy, _ = noise.make_noisy_labels(y, kind, float(rate), seed)
    rng = np.random.default_rng(0)
    flipped, kept = np.flatnonzero(noisy != y), np.flatnonzero(noisy == y)
    k = min(len(flipped), 2 * n // 3)
    pick = np.concatenate([rng.choice(flipped, k, replace=False), rng.choice(kept, n - k, replace=False)])
    fig, axes = plt.subplots(3, n // 3, figsize=(n // 3 * 1.5, 3 * 1.75))
    for ax, i in zip(axes.flat, rng.permutation(pick)):
        ax.imshow(x[i].transpose(1, 2, 0))  # [3, 32, 32] -> [32, 32, 3]
        wrong = noisy[i] != y[i]
        ax.set_title(f"{CLASSES[y[i]]}\n→ {CLASSES[noisy[i]]}" if wrong else f"{CLASSES[y[i]]}\n(kept)",
                     fontsize=8, color="crimson" if wrong else "darkgreen")
        ax.axis("off")
    fig.suptitle(f"Training images with their true → noisy labels, {title_of(setting)} (seed {seed})")
    save(fig, out, f"images_{setting}", formats)


def tables(by_setting, seeds_asked, out):
    """table.md and table.csv: test accuracy (%) mean ± std over seeds, one row per loss, one column per setting."""
    settings = sorted(by_setting, key=setting_key)
    losses = sorted({name for s in settings for name in by_setting[s]}, key=loss_order)
    md, rows = [], []
    for key, name in [("test_acc_best", "best-validation model"), ("test_acc_last", "last epoch")]:
        cells = accuracy_cells(by_setting, key)
        stats = {c: (*mean_std(v), len(v)) for c, v in cells.items() if v}
        best = {s: max((stats[s, name][0] for name in losses if (s, name) in stats), default=None) for s in settings}
        md += [f"### Test accuracy (%), {name}", "", "| loss | " + " | ".join(settings) + " |",
               "| --- |" + " --- |" * len(settings)]
        for loss in losses:
            cells_md = []
            for s in settings:
                if (s, loss) not in stats:
                    cells_md.append("")
                    continue
                m, sd, n = stats[s, loss]
                text = f"{m:.2f}" + (f" ± {sd:.2f}" if n > 1 else "") + (f" (n={n})" if n < seeds_asked else "")
                cells_md.append(f"**{text}**" if m == best[s] else text)
                rows.append({"model": key.removeprefix("test_acc_"), "loss": loss, "setting": s,
                             "mean": f"{m:.4f}", "std": f"{sd:.4f}" if n > 1 else "", "n": n})
            md.append(f"| {loss} | " + " | ".join(cells_md) + " |")
        md.append("")
    write_text(os.path.join(out, "table.md"), "\n".join(md))
    buf = io.StringIO()
    w = csv.DictWriter(buf, ["model", "loss", "setting", "mean", "std", "n"])
    w.writeheader()
    w.writerows(rows)
    write_text(os.path.join(out, "table.csv"), buf.getvalue())


def main(argv=None):
    args = parse_args(argv)
    runs = find_runs(args.results) if os.path.isdir(args.results) else []
    if not runs:
        sys.exit(f"error: no runs found in {args.results}; expected <noise>-<rate>/<loss>/seed<seed>/log.csv "
                 f"below it, as train.py --out {args.results} writes them")
    colours = loss_styles({r["loss"] for r in runs})  # before filtering: colours never depend on --losses
    only = set(args.only.split(",")) if args.only else None
    losses = set(args.losses.split(",")) if args.losses else None
    for flag, asked, found in [("--only", only, {r["setting"] for r in runs}), ("--losses", losses, set(colours))]:
        if asked and asked - found:
            print(f"note: {flag} {','.join(sorted(asked - found))} matches no run (run folders use canonical "
                  f"loss names, e.g. nce+mae)", file=sys.stderr)
    by_setting = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if (only is None or r["setting"] in only) and (losses is None or r["loss"] in losses):
            by_setting[r["setting"]][r["loss"]].append(r)
    if not by_setting:
        sys.exit(f"error: no runs match --only {args.only} --losses {args.losses}; "
                 f"found settings {sorted({r['setting'] for r in runs})} and losses {sorted(colours)}")
    formats = args.format.split(",")
    fig = plt.figure()
    supported = fig.canvas.get_supported_filetypes()
    plt.close(fig)
    if set(formats) - set(supported):
        sys.exit(f"error: unknown --format {','.join(sorted(set(formats) - set(supported)))}; "
                 f"choose from {','.join(sorted(supported))}")
    out = os.path.join(args.results, "figures")
    os.makedirs(out, exist_ok=True)
    seeds_asked = args.seeds or max(len(v) for by_loss in by_setting.values() for v in by_loss.values())
    fig_curves(by_setting, colours, out, formats)
    fig_accuracy_vs_rate(by_setting, colours, out, formats)
    fig_normalisation(out, formats)
    fig_transitions(by_setting, out, formats)
    noisy = [s for s in sorted(by_setting, key=setting_key) if not s.startswith("none-")]
    mem = args.memorisation or ("sym-0.5" if "sym-0.5" in by_setting or not noisy else noisy[0])
    fig_memorisation(by_setting, mem, colours, out, formats)
    grid_runs = [r for rs in by_setting.get(mem, {}).values() for r in rs]
    if args.data_dir and grid_runs and mem.split("-")[0] in ("sym", "asym"):
        import data  # imports torch: only the image grid needs it

        try:
            fig_image_grid(args.data_dir, mem, int(grid_runs[0]["seed"]), out, formats)
        except data.DataError as e:
            sys.exit(f"error: no image grid: {e}")
    tables(by_setting, seeds_asked, out)
    print(f"{len(runs)} runs read; figures and tables in {out}")


if __name__ == "__main__":
    main()
