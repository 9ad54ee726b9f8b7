"""Figures and tables from a results folder: `python plot.py results/` writes results/figures/<dataset>/.

Reads the run directories train.py writes (OUT/<dataset>/<noise>-<rate>/<loss>/seed<seed>/ with
log.csv, result.json, noise.json, config.json; runs from before --dataset, OUT/<noise>-<rate>/...,
are CIFAR-10's). Each data set is drawn and tabled apart. Only the image grid needs the data set's
files; every other figure and the tables read the logs alone. Nothing here imports torch. A partial grid is normal:
what is missing is left out. The figures themselves are figures.py's.
"""
import csv
import json
import os
import sys
from collections import defaultdict

import numpy as np

from . import config
from . import diagfigures as D
from . import keys
from . import figures as F
from . import noisefigures as N
from . import tables as T
from .atomic import save_atomic
from .data import CLASSES, DATASETS  # numpy only: no torch
from .errors import Parser, UserError, die


def parser():
    p = Parser(prog="plot.py", description="Figures and tables from a results folder.")
    p.add_argument("results", help="results root written by train.py / run_grid.sh")
    p.add_argument("--dataset", help="comma-separated data sets to draw, e.g. cifar100 (default: every one found)")
    p.add_argument("--only", help="comma-separated settings to draw, e.g. sym-0.5,asym-0.25 (default: all)")
    p.add_argument("--losses", help="comma-separated losses to draw, e.g. ce,nce+mae (default: all)")
    p.add_argument("--format", default="png", help="comma-separated file formats, e.g. png,pdf (default: png)")
    p.add_argument("--seeds", type=int, help="seeds asked for per cell; fewer are marked n=k (default: the most found)")
    p.add_argument("--where", help="comma-separated KEY=VALUE of config.json the runs must have, e.g. epochs=20,"
                                   "arch=cnn4, to draw one protocol of a folder that holds several (default: every run)")
    p.add_argument("--memorisation", help="setting of the memorisation, sample-loss and reliability figures and the "
                                          "image grid (default: "
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
        runs.append({"root": home, "study": read_json(os.path.join(home, "study.json")),
                     "dataset": config.facts_of(cfg)["data_name"] or cfg["dataset"],
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


def describe(name, runs):
    """What the figures need to know of a data set: its name, title and class names (from a run's noise.json)."""
    noises = [r["noise"] for r in runs if r["noise"]]
    classes = next((n["classes"] for n in noises if n.get("classes")), None)
    if classes is None:  # runs from before noise.json named the classes, which were all CIFAR-10's
        classes = CLASSES if name == "cifar10" or not noises else [str(c) for c in range(len(noises[0]["transition_matrix"]))]
    # own data (--dataset folder, npz): clean labels are known only where --clean-labels gave them
    known = [not str(n.get("clean_labels", "")).startswith("unknown") for n in noises]
    return {"name": name, "title": F.title(name), "classes": classes, "named": name in DATASETS,
            "clean_known": not known or any(known)}


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
    D.sample_losses(by_setting, mem, ds, colours, save)
    D.reliability(by_setting, mem, ds, colours, save)
    grid_runs = [r for rs in by_setting.get(mem, {}).values() for r in rs
                 if os.path.isfile(os.path.join(r["dir"], "labels.npy"))]  # the labels it trained on
    if args.data_dir and not grid_runs:
        print(f"no image grid for {ds['name']}: no run at {mem} holds its labels.npy", file=sys.stderr)
    if args.data_dir and grid_runs:
        from . import data  # only the image grid reads the data files

        try:
            N.image_grid(args.data_dir, grid_runs[0], mem, ds, save)
        except (data.DataError, ValueError) as e:
            die(f"no image grid: {e}")
    T.tables(by_setting, ds, seeds_asked, out)


def wanted(text):
    """--where's {key: value}, each key one of a run's configuration or facts, as keys.py declares them."""
    if not text:
        return {}
    pairs = [kv.partition("=") for kv in text.split(",")]
    bad = [k for k, eq, v in pairs if not eq or not k or not v]
    if bad:
        die(f"--where {text}: each item is KEY=VALUE, e.g. --where epochs=20,arch=cnn4")
    unknown = sorted({k for k, _, _ in pairs} - set(keys.RECORDED) - set(keys.FACT_NAMES))
    if unknown:
        die(f"--where {text}: {', '.join(unknown)} is not a key of a run's configuration; use one of "
            f"docs/runs.md's (python train.py --show-config lists them), e.g. epochs, arch, preset, lr, precision_used")
    return {k: v for k, _, v in pairs}


def matches(run, where):
    """Does the run's config.json hold every --where value (as written there, or as Python prints it)?"""
    cfg = run["config"] or {}
    known = {**config.facts_of(cfg), **{k: v for k, v in cfg.items() if k not in ("sources", "facts")}}
    return all(k in known and v in (str(known[k]), json.dumps(known[k])) for k, v in where.items())


def refuse_mixed(where, runs):
    """One line and nothing drawn when the runs of one table differ beyond its setting, loss and seed."""
    split = T.protocol_split(runs)
    if not split:
        return
    key = next((k for k in split if k in T.PROTOCOL), None)
    common = key and max(split[key], key=split[key].get)
    fix = f"draw one of them with --where {key}={common}, or " if key else ""
    die(f"the runs in {where} differ beyond their setting, loss and seed: {T.said_split(split)}; a table or figure "
        f"pools only runs trained alike: {fix}keep such runs in separate --out folders")


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
    where = wanted(args.where)
    by_dataset = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # {(root, dataset): {setting: {loss}}}
    for r in runs:
        if all(want is None or r[key] in want for key, want in
               zip(("dataset", "setting", "loss"), asked.values())) and matches(r, where):
            by_dataset[r["root"], r["dataset"]][r["setting"]][r["loss"]].append(r)
    if not by_dataset:
        die(f"no runs match --dataset {args.dataset} --only {args.only} --losses {args.losses} --where {args.where}; found data "
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
        refuse_mixed(os.path.join(root, name), T.all_runs(by_setting))
    for (root, name), by_setting in sorted(by_dataset.items()):
        found = T.all_runs(by_setting)
        ds = describe(name, found)
        out = os.path.join(root, "figures", name)
        draw(by_setting, ds, colours, args, formats, out)
        study = found[0]["study"]
        if study and study.get("dataset") == name:
            T.study_table(by_setting, ds, study, out)
    where = ", ".join(os.path.join(root, "figures", name) for root, name in sorted(by_dataset))
    print(f"{len(runs)} runs read; figures and tables in {where}")


if __name__ == "__main__":
    main()
