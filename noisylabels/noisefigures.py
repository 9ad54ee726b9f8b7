"""The figures of what a run's noise is: its transition matrix, its images with their labels, and for
instance-dependent noise, what makes it depend on the image. plot.py calls these; they read noise.json (and
labels.npy, for the images) from the runs.
"""
import os

import numpy as np

from .figures import plt, setting_key, title_of


def annotate(ax, T, fontsize):
    for i in range(T.shape[0]):
        for j in range(T.shape[1]):
            if T[i, j] >= 0.05:
                ax.text(j, i, f"{T[i, j]:.0f}" if T[i, j] >= 1 else "<1", ha="center", va="center",
                        fontsize=fontsize, color="white" if T[i, j] > 50 else "black")


def transitions(by_setting, ds, save):
    """The realised noise transition matrix of each noise setting (report Figure 2).

    Up to 10 classes: annotated in %. More: a heat map without numbers, classes grouped by
    superclass where those are known, and beside it the matrix within each superclass, annotated.
    """
    for setting in sorted(by_setting, key=setting_key):
        noise = next((r["noise"] for rs in by_setting[setting].values() for r in rs if r["noise"]), None)
        if noise is None or setting.startswith("none"):
            continue
        T = np.array(noise["transition_matrix"]) * 100
        names = noise.get("classes") or ds["classes"]
        rate = f"realised rate {noise['realised_rate'] * 100:.1f} % of all training labels"
        if len(T) <= 10:
            fig, ax = plt.subplots(figsize=(7.5, 6.5))
            im = ax.imshow(T, cmap="Blues", vmin=0, vmax=100)
            annotate(ax, T, 7)
            ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
            ax.set_yticks(range(len(names)), names)
            ax.set(xlabel="label given (noisy)", ylabel="true class")
            fig.colorbar(im, ax=ax, label="% of the true class", fraction=0.046)
            ax.set_title(f"{ds['title']}: realised transition matrix, {title_of(setting, ds['name'])}\n({rate})")
        else:
            fig = big_transition(T, names, noise.get("superclass_of"), noise.get("superclasses"))
            fig.suptitle(f"{ds['title']}: realised transition matrix, {title_of(setting, ds['name'])} ({rate})")
        save(fig, f"transition_{setting}")


def big_transition(T, names, superclass_of, superclasses):
    """A C x C matrix without numbers (grouped by superclass) and, if known, each superclass's block annotated."""
    sup = None if superclass_of is None else np.asarray(superclass_of)
    order = np.arange(len(T)) if sup is None else np.lexsort((np.arange(len(T)), sup))
    fig = plt.figure(figsize=(24, 9.5) if sup is not None else (8.6, 8))
    rows = -(-len([s for s in np.unique(sup) if s >= 0]) // 5) if sup is not None else 1  # 5 panels a row
    grid = fig.add_gridspec(max(rows, 1), 7 if sup is not None else 1, width_ratios=[4, 0.3] + [1] * 5
                            if sup is not None else None, wspace=0.5, hspace=0.75)
    ax = fig.add_subplot(grid[:, 0])
    im = ax.imshow(T[np.ix_(order, order)], cmap="Blues", vmin=0, vmax=100, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="% of the true class", fraction=0.046, pad=0.02)
    if sup is not None:  # the superclasses' borders: asymmetric noise stays inside these squares
        edges = np.flatnonzero(np.diff(sup[order])) + 0.5
        for e in edges:
            ax.axhline(e, color="0.85", linewidth=0.4)
            ax.axvline(e, color="0.85", linewidth=0.4)
    grouped = "classes grouped by superclass, 5 by 5" if sup is not None else "class index"
    ax.set(xlabel=f"label given (noisy; {grouped})", ylabel=f"true class ({grouped})")
    if sup is None:
        return fig
    for k, s in enumerate(s for s in np.unique(sup) if s >= 0):  # -1: a class no image showed the superclass of
        members = np.flatnonzero(sup == s)
        block = T[np.ix_(members, members)]
        seen = T[members].sum(1) > 0  # rows of classes with training images
        inside = block.sum(1)[seen].mean() if seen.any() else float("nan")  # % whose label stays inside
        a = fig.add_subplot(grid[k // 5, 2 + k % 5])
        a.imshow(block, cmap="Blues", vmin=0, vmax=100)
        annotate(a, block, 6)
        short = [names[i][:9] for i in members]
        a.set_xticks(range(len(members)), short, rotation=60, ha="right", fontsize=5.5)
        a.set_yticks(range(len(members)), short, fontsize=5.5)
        a.set_title(f"{superclasses[s] if superclasses else s}\n{inside:.0f} % stay inside", fontsize=7)
    return fig


def image_grid(data_dir, run, setting, ds, save, n=24):
    """Real training images with their clean -> noisy labels (the report's Figure 1), from the run's labels.npy."""
    from . import datasets  # only this figure reads the data files

    d = datasets.for_run({**run["config"], "data_dir": data_dir}, fetch=False)[0]  # plot.py never downloads
    path, clean = os.path.join(run["dir"], "labels.npy"), os.path.join(run["dir"], "clean_labels.npy")
    noisy, names = np.load(path), d.classes
    y = np.load(clean) if os.path.isfile(clean) else d.y_train  # own data: --clean-labels', where given
    if len(noisy) != len(y):
        raise ValueError(f"{path} holds {len(noisy)} labels and {data_dir} {len(y)} training images; give the "
                         f"--data-dir the run was trained on")
    rng = np.random.default_rng(0)
    flipped, kept = np.flatnonzero(noisy != y), np.flatnonzero(noisy == y)
    k = min(len(flipped), max(2 * n // 3, n - len(kept)))  # two thirds flipped, where both kinds are there
    pick = np.concatenate([rng.choice(flipped, k, replace=False), rng.choice(kept, min(n - k, len(kept)), replace=False)])
    fig, axes = plt.subplots(3, n // 3, figsize=(n // 3 * 1.5, 3 * 1.75))
    for ax, i in zip(axes.flat, rng.permutation(pick)):
        img = d.x_train[i].transpose(1, 2, 0)  # [C, H, W] -> [H, W, C]
        ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray" if img.shape[2] == 1 else None)
        wrong = noisy[i] != y[i]
        ax.set_title(f"{names[y[i]]}\n→ {names[noisy[i]]}" if wrong else f"{names[y[i]]}\n(kept)",
                     fontsize=8, color="crimson" if wrong else "darkgreen")
        ax.axis("off")
    fig.suptitle(f"{ds['title']}: training images with their true → noisy labels, {title_of(setting, ds['name'])} "
                 f"(seed {run['seed']})")
    save(fig, f"images_{setting}")


def instance_dependence(by_setting, ds, save):
    """IDN's two sources of dependence on the image, per class: how far the images' flip rates q spread (Xia
    et al. draw one per image), and how a class's flipped labels spread over the other classes (each image's
    target is the class its projection favours: several per class, where asymmetric noise has one)."""
    for setting in sorted((s for s in by_setting if s.startswith("idn-")), key=setting_key):
        rec = next((r["noise"] for rs in by_setting[setting].values() for r in rs
                    if r["noise"] and "flip_rate_percentiles" in r["noise"]), None)
        if rec is None:
            continue
        names, T = rec.get("classes") or ds["classes"], np.array(rec["transition_matrix"])
        C, spread = len(T), rec["flip_rate_percentiles"]["by_class"]
        fig, (a, b) = plt.subplots(1, 2, figsize=(13 if C <= 10 else 16, 4.8))
        have = [c for c in range(C) if spread[c] is not None]
        a.bxp([{"whislo": s[0] * 100, "q1": s[1] * 100, "med": s[2] * 100, "q3": s[3] * 100, "whishi": s[4] * 100,
                "label": names[c] if C <= 10 else ""} for c, s in ((c, spread[c]) for c in have)],
              positions=have, showfliers=False, widths=0.6)
        a.plot(have, [(1 - T[c, c]) * 100 for c in have], "D", color="crimson", markersize=4,
               label="labels flipped in the class")
        a.axhline(rec["expected_rate"] * 100, color="0.5", linestyle="--", linewidth=1,
                  label=f"expected rate {rec['expected_rate'] * 100:.1f} % (truncated normal's mean)")
        a.set(ylabel="flip rate q of an image (%)", title="Per-image flip rates: box 25-75 %, whiskers 5-95 %")
        a.set_xlabel("true class" if C <= 10 else "true class (index)")
        a.tick_params(axis="x", rotation=45 if C <= 10 else 0)
        if C > 10:  # a hundred unlabelled ticks say nothing: every tenth index
            a.set_xticks(range(0, C, 10), [str(k) for k in range(0, C, 10)])
        lo, hi = a.get_ylim()
        a.set_ylim(lo, hi + 0.25 * (hi - lo))  # headroom: the legend above the whiskers
        a.legend(fontsize=8, loc="upper right", ncol=2)
        off = T * (1 - np.eye(C))
        share = np.divide(off, off.sum(1, keepdims=True), out=np.zeros_like(off), where=off.sum(1, keepdims=True) > 0)
        if C <= 10:
            left = np.zeros(C)
            cmap = plt.get_cmap("tab10")
            for j in range(C):
                b.barh(range(C), share[:, j] * 100, left=left, color=cmap(j), label=names[j])
                left += share[:, j] * 100
            b.set_yticks(range(C), names)
            b.invert_yaxis()
            b.legend(title="flipped to", fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
            b.set(xlabel="% of the class's flipped labels", title="Where each class's flipped labels went")
        else:
            top = np.sort(share.max(1))[::-1] * 100
            b.bar(range(C), top, color="tab:blue", width=1.0)
            b.axhline(100 / (C - 1), color="0.3", linestyle=":", label=f"symmetric noise: {100 / (C - 1):.1f} %")
            b.set(xlabel="classes, sorted", ylabel="% of a class's flipped labels",
                  title="Share going to a class's most common target (asymmetric noise: 100 %)")
            b.legend(fontsize=8)
        fig.suptitle(f"{ds['title']}: what makes {title_of(setting, ds['name'])} depend on the image "
                     f"(realised rate {rec['realised_rate'] * 100:.1f} %)")
        fig.tight_layout()
        save(fig, f"instance_dependence_{setting}")
