"""Figures and tables from a results folder: `python plot.py results/` writes results/figures/<dataset>/.

Reads the run directories train.py writes (OUT/<dataset>/<noise>-<rate>/<loss>/seed<seed>/ with
log.csv, result.json, noise.json, config.json; runs from before --dataset, OUT/<noise>-<rate>/...,
are CIFAR-10's). Each data set is drawn and tabled apart. Only the image grid needs the data set's
files; every other figure and the tables read the logs alone. Nothing here imports torch. A partial grid is normal:
what is missing is left out. The figures themselves are figures.py's.
"""
import csv
import io
import json
import os
import sys
from collections import defaultdict

import numpy as np

import figures as F
import noisefigures as N
from atomic import save_atomic, save_text
from errors import Parser, UserError, die
from noise import CLASSES  # numpy only: no torch

TITLES = F.TITLES


def parser():
    p = Parser(prog="plot.py", description="Figures and tables from a results folder.")
    p.add_argument("results", help="results root written by train.py / run_grid.sh")
    p.add_argument("--dataset", help="comma-separated data sets to draw, e.g. cifar100 (default: every one found)")
    p.add_argument("--only", help="comma-separated settings to draw, e.g. sym-0.5,asym-0.25 (default: all)")
    p.add_argument("--losses", help="comma-separated losses to draw, e.g. ce,nce+mae (default: all)")
    p.add_argument("--format", default="png", help="comma-separated file formats, e.g. png,pdf (default: png)")
    p.add_argument("--seeds", type=int, help="seeds asked for per cell; fewer are marked n=k (default: the most found)")
    p.add_argument("--memorisation", help="setting of the memorisation figure and the image grid (default: "
                                          "sym-0.5, else sym-0.4 (the papers' middle column), else the first noisy setting found)")
    p.add_argument("--data-dir", help="the data set's folder, for the grid of noisy training images; with runs of "
                                      "several data sets, pick one with --dataset (default: no grid)")
    return p


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
    """Every run directory below root: dicts with dataset, setting, loss, seed, log, result, noise, config."""
    runs = []
    for dirpath, _, files in os.walk(root):
        if "log.csv" not in files:
            continue
        parts = os.path.relpath(dirpath, root).split(os.sep)
        if len(parts) < 3 or not parts[-1].startswith("seed") or "-" not in parts[-3]:
            continue
        log = read_csv(os.path.join(dirpath, "log.csv"))
        if not log:
            continue  # a run that has not finished its first epoch
        cfg = read_json(os.path.join(dirpath, "config.json")) or {}
        home = study_root(root, dirpath)
        if "dataset" not in cfg or len(parts) < 4:
            print(f"note: {dirpath} is not a run of the current layout (<dataset>/<setting>/<loss>/seed<seed> with "
                  f"its config.json); left out", file=sys.stderr)
            continue
        runs.append({"root": home, "study": read_json(os.path.join(home, "study.json")), "dataset": cfg["dataset"],
                     "setting": parts[-3], "loss": parts[-2], "seed": parts[-1][4:], "log": log, "dir": dirpath,
                     "result": read_json(os.path.join(dirpath, "result.json")), "config": cfg,
                     "noise": read_json(os.path.join(dirpath, "noise.json"))})
    return runs


def study_root(root, dirpath):
    """The nearest folder from dirpath up to root holding a study.json (run_grid.sh writes one per study), else root.

    Each study is drawn and tabled on its own, in its folder: two studies' runs of one cell are not seeds of one."""
    d = dirpath
    while not os.path.isfile(os.path.join(d, "study.json")):
        if os.path.samefile(d, root) or not d:
            return root
        d = os.path.dirname(d)
    return d


def saver(out, formats):
    """save(fig, name): the figure in every format, each file written whole or not at all."""
    def save(fig, name):
        for fmt in formats:
            save_atomic(os.path.join(out, f"{name}.{fmt}"),
                        lambda f, fmt=fmt: fig.savefig(f, format=fmt, dpi=150, bbox_inches="tight"))
        F.plt.close(fig)
    return save


def cell(stats, losses, s, loss, want):
    """A table cell: 'mean ± std (n=k)' in %, bold where it is the column's best mean; None where not run."""
    if (s, loss) not in stats:
        return None
    m, sd, n = stats[s, loss]
    text = f"{m:.2f}" + (f" ± {sd:.2f}" if n > 1 else "") + (f" (n={n})" if n < want else "")
    best = max(stats[s, x][0] for x in losses if (s, x) in stats)
    return f"**{text}**" if m == best else text


def stat_rows(stats, losses, settings, **fixed):
    """The CSV rows of a table's cells that were run: mean and std in %, n seeds; `fixed` columns added to each."""
    return [{**fixed, "loss": loss, "setting": s, "mean": f"{m:.4f}", "std": f"{sd:.4f}" if n > 1 else "", "n": n}
            for loss in losses for s in settings if (s, loss) in stats for m, sd, n in [stats[s, loss]]]


def tables(by_setting, ds, seeds_asked, out):
    """table.md and table.csv: test accuracy (%) mean ± std over seeds, one row per loss, one column per setting."""
    settings = sorted(by_setting, key=F.setting_key)
    losses = sorted({name for s in settings for name in by_setting[s]}, key=F.loss_order)
    md, rows = [], []
    kinds = [("test_acc_best", "best-validation model"), ("test_acc_last", "last epoch")]
    if not F.selects([r for by_loss in by_setting.values() for rs in by_loss.values() for r in rs]):
        kinds = kinds[1:]  # no validation split: the "best" model is the last epoch's
    for key, name in kinds:
        cells = F.accuracy_cells(by_setting, key)
        stats = {c: (*F.mean_std(v), len(v)) for c, v in cells.items() if v}
        md += [f"### {ds['title']}: test accuracy (%), {name}", "", "| loss | " + " | ".join(settings) + " |",
               "| --- |" + " --- |" * len(settings)]
        for loss in losses:
            md.append(f"| {loss} | " + " | ".join(cell(stats, losses, s, loss, seeds_asked) or "" for s in settings) + " |")
        rows += stat_rows(stats, losses, settings, dataset=ds["name"], model=key.removeprefix("test_acc_"))
        md.append("")
    save_text(os.path.join(out, "table.md"), "\n".join(md))
    buf = io.StringIO()
    w = csv.DictWriter(buf, ["dataset", "model", "loss", "setting", "mean", "std", "n"])
    w.writeheader()
    w.writerows(rows)
    save_text(os.path.join(out, "table.csv"), buf.getvalue())


def study_table(by_setting, ds, study, out):
    """study.md and study.csv: the study's table in its paper's layout. One row per loss in the study's order,
    one column per noise setting; mean ± sample std over seeds of the last epoch's test accuracy (%), as both
    papers report it; the best mean of each column in bold."""
    import presets  # torch-free

    settings = presets.study_settings(study)  # every column of the study, run or not
    settings += [s for s in sorted(by_setting, key=F.setting_key) if s not in settings]
    losses = study["losses"].split()
    losses += sorted({n for s in by_setting.values() for n in s} - set(losses), key=F.loss_order)
    cells = F.accuracy_cells(by_setting, "test_acc_last")
    stats = {c: F.mean_std(v) + (len(v),) for c, v in cells.items() if v}
    want = len(study["seeds"].split())
    head = [{"none-0.0": "clean"}.get(s, s.replace("-", " ")) for s in settings]
    epochs = sorted({r["config"].get("epochs") for rs in sum((list(b.values()) for b in by_setting.values()), [])
                     for r in rs if r["config"]} - {None})
    ran = f"{'/'.join(map(str, epochs))} epoch{'s' if epochs != [1] else ''}, " if epochs else ""
    md = [f"### {ds['title']}, study {study['name']} (--preset {study['preset']}, {ran}seeds {study['seeds']})", "",
          "Test accuracy (%) of the last epoch, mean ± std over seeds; best of each column in bold; "
          f"– not run; (n=k) fewer seeds than {want}.", "",
          "| loss | " + " | ".join(head) + " |", "| --- |" + " ---: |" * len(settings)]
    for loss in losses:
        md.append(f"| {loss} | " + " | ".join(cell(stats, losses, s, loss, want) or "–" for s in settings) + " |")
    rows = stat_rows(stats, losses, settings)
    save_text(os.path.join(out, "study.md"), "\n".join(md) + "\n")
    buf = io.StringIO()
    w = csv.DictWriter(buf, ["loss", "setting", "mean", "std", "n"])
    w.writeheader()
    w.writerows(rows)
    save_text(os.path.join(out, "study.csv"), buf.getvalue())


def describe(name, runs):
    """What the figures need to know of a data set: its name, title and class names (from a run's noise.json)."""
    noises = [r["noise"] for r in runs if r["noise"]]
    classes = next((n["classes"] for n in noises if n.get("classes")), None)
    if classes is None:  # runs from before noise.json named the classes, which were all CIFAR-10's
        classes = CLASSES if name == "cifar10" or not noises else [str(c) for c in range(len(noises[0]["transition_matrix"]))]
    return {"name": name, "title": TITLES.get(name, name), "classes": classes}


def draw(by_setting, ds, colours, args, formats, out):
    """Every figure and table of one data set into out."""
    os.makedirs(out, exist_ok=True)
    save = saver(out, formats)
    seeds_asked = args.seeds or max(len(v) for by_loss in by_setting.values() for v in by_loss.values())
    F.curves(by_setting, ds, colours, save)
    F.accuracy_vs_rate(by_setting, ds, colours, save)
    F.normalisation(ds, save)
    N.transitions(by_setting, ds, save)
    N.instance_dependence(by_setting, ds, save)
    noisy = [s for s in sorted(by_setting, key=F.setting_key) if not s.startswith("none-")]
    mem = args.memorisation or next((s for s in ("sym-0.5", "sym-0.4") if s in by_setting), noisy[0] if noisy else "sym-0.5")
    F.memorisation(by_setting, mem, ds, colours, save)
    grid_runs = [r for rs in by_setting.get(mem, {}).values() for r in rs
                 if os.path.isfile(os.path.join(r["dir"], "labels.npy"))]  # the labels it trained on
    if args.data_dir and not grid_runs:
        print(f"no image grid for {ds['name']}: no run at {mem} holds its labels.npy", file=sys.stderr)
    if args.data_dir and grid_runs:
        import data  # only the image grid reads the data files

        try:
            N.image_grid(args.data_dir, grid_runs[0], mem, ds, save)
        except (data.DataError, ValueError) as e:
            die(f"no image grid: {e}")
    tables(by_setting, ds, seeds_asked, out)


def main(argv=None):
    try:
        args = parser().parse_args(argv)
    except UserError as e:
        die(f"{e}")
    runs = find_runs(args.results) if os.path.isdir(args.results) else []
    if not runs:
        die(f"no runs found in {args.results}; expected <dataset>/<noise>-<rate>/<loss>/seed<seed>/log.csv "
                 f"below it, as train.py --out {args.results} writes them")
    colours = F.loss_styles({r["loss"] for r in runs})  # before filtering: colours never depend on --losses
    asked = {flag: set(v.split(",")) if v else None for flag, v in
             [("--dataset", args.dataset), ("--only", args.only), ("--losses", args.losses)]}
    found = {"--dataset": {r["dataset"] for r in runs}, "--only": {r["setting"] for r in runs}, "--losses": set(colours)}
    for flag, want in asked.items():
        if want and want - found[flag]:
            hint = " (run folders use canonical loss names, e.g. nce+mae)" if flag == "--losses" else ""
            print(f"note: {flag} {','.join(sorted(want - found[flag]))} matches no run{hint}", file=sys.stderr)
    by_dataset = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # {(root, dataset): {setting: {loss}}}
    for r in runs:
        if all(want is None or r[key] in want for key, want in
               zip(("dataset", "setting", "loss"), asked.values())):
            by_dataset[r["root"], r["dataset"]][r["setting"]][r["loss"]].append(r)
    if not by_dataset:
        die(f"no runs match --dataset {args.dataset} --only {args.only} --losses {args.losses}; found data "
                 f"sets {sorted(found['--dataset'])}, settings {sorted(found['--only'])} and losses {sorted(colours)}")
    if args.data_dir and len({d for _, d in by_dataset}) > 1:
        die(f"--data-dir serves one data set, and the runs hold {', '.join(sorted({d for _, d in by_dataset}))}; "
                 f"add --dataset NAME for the image grid")
    formats = args.format.split(",")
    fig = F.plt.figure()
    supported = fig.canvas.get_supported_filetypes()
    F.plt.close(fig)
    if set(formats) - set(supported):
        die(f"unknown --format {','.join(sorted(set(formats) - set(supported)))}; "
                 f"choose from {','.join(sorted(supported))}")
    for (root, name), by_setting in sorted(by_dataset.items()):
        found = [r for rs in by_setting.values() for v in rs.values() for r in v]
        ds = describe(name, found)
        out = os.path.join(root, "figures", name)
        draw(by_setting, ds, colours, args, formats, out)
        study = found[0]["study"]
        if study and study.get("dataset") == name:
            study_table(by_setting, ds, study, out)
    where = ", ".join(os.path.join(root, "figures", name) for root, name in sorted(by_dataset))
    print(f"{len(runs)} runs read; figures and tables in {where}")


if __name__ == "__main__":
    main()
