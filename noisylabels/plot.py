"""Figures and tables from a results folder: `python plot.py results/` writes results/figures/<dataset>/.

Reads the run directories train.py writes (OUT/<dataset>/<noise>-<rate>/<loss>/seed<seed>/ with
log.csv, result.json, noise.json, config.json; runs from before --dataset, OUT/<noise>-<rate>/..., are
left out with a note). Each data set is drawn and tabled apart. Only the image grid needs the data set's
files; every other figure and the tables read the logs alone. Nothing here imports torch. A partial grid is normal:
what is missing is left out, and a file that cannot be read (half-written, not JSON) is one line on stderr naming
it and what was done without it. Each folder written holds exactly what the last call drew into it: a manifest
(.plot-manifest.json) lists the files plot.py wrote there, and the next call removes those it does not rewrite.
The figures themselves are figures.py's.
"""
import os
import sys
from collections import defaultdict

from . import diagfigures as D
from . import figures as F
from . import noisefigures as N
from . import tables as T
from .atomic import save_atomic, save_json
from .data import CLASSES, DATASETS  # numpy only: no torch
from .presets import REAL_SETS
from .errors import Parser, UserError, die
from .results import find_runs, matches, note, read_json, wanted


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
    p.add_argument("--out", metavar="DIR", help="folder for the figures and tables, one sub-folder per data set; each holds exactly "
                                 "what this call drew into it (default: RESULTS/figures, and STUDY/figures for the "
                                 "runs of a study run_grid.sh wrote into RESULTS/STUDY)")
    return p


MANIFEST = ".plot-manifest.json"  # in each folder plot.py writes: the files it wrote there


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def saver(out, formats):
    """save(fig, name): the figure in every format, each file written whole or not at all, its name recorded."""
    def save(fig, name):
        for fmt in formats:
            save_atomic(out.path(f"{name}.{fmt}"),
                        lambda f, fmt=fmt: fig.savefig(f, format=fmt, dpi=150, bbox_inches="tight"))
        F.plt.close(fig)
    return save


class Output:
    """One folder plot.py writes into, which holds exactly what the last call drew there.

    MANIFEST lists the files plot.py wrote into it (saved whole or not at all); at the end of a call, the files an
    earlier call listed that this one did not rewrite are removed. Nothing it does not list is ever removed: a
    call stopped part-way (an error, Ctrl-C) lists both calls' files and removes none."""

    def __init__(self, folder):
        self.folder, self.written = folder, set()
        self.had_manifest = os.path.isfile(os.path.join(folder, MANIFEST))
        self.before = listed(folder)

    def path(self, name):
        self.written.add(name)
        return os.path.join(self.folder, name)

    def close(self, complete):
        if not complete:
            save_manifest(self.folder, self.before | self.written)
            return
        stale = remove_listed(self.folder, self.before - self.written)
        save_manifest(self.folder, self.written)
        if stale:
            note(f"removed from {self.folder} {plural(len(stale), 'file')} an earlier call drew and this one did "
                 f"not ({named(stale)})")
        if not self.had_manifest:
            others = [f for f in os.listdir(self.folder) if f not in self.written and f != MANIFEST
                      and os.path.isfile(os.path.join(self.folder, f)) and not f.endswith(".tmp")]
            if others:  # from a plot.py before manifests, or the user's: not known to be plot.py's, so kept
                note(f"{self.folder} also holds {plural(len(others), 'file')} this call did not draw and no manifest "
                     f"of plot.py's lists ({named(others)}): kept; delete {'them' if len(others) > 1 else 'it'} by "
                     f"hand if stale")


def named(names, most=4):
    """'a.png, b.png' or, past most names, the first of them and how many more."""
    names = sorted(names)
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def listed(folder):
    """The file names folder's manifest lists; none where it has none or it cannot be read (said in a line)."""
    path = os.path.join(folder, MANIFEST)
    m = read_json(path, "the files an earlier call drew there are kept, not removed")
    files = (m or {}).get("files", [])
    # names in the folder itself only: a manifest never reaches a file elsewhere
    return {f for f in files if isinstance(f, str) and f and os.path.basename(f) == f and f not in (".", "..")}


def save_manifest(folder, names):
    save_json(os.path.join(folder, MANIFEST), {"written_by": "plot.py", "files": sorted(names)})


def remove_listed(folder, names):
    """Remove the plain files of names from folder; the names removed."""
    gone = []
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and not os.path.islink(path):
            os.remove(path)
            gone.append(name)
    return gone


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


def draw(by_setting, ds, colours, args, formats, folder):
    """Every figure and table of one data set into folder, which then holds exactly these (Output)."""
    os.makedirs(folder, exist_ok=True)
    out = Output(folder)
    complete = False
    try:
        draw_into(out, by_setting, ds, colours, args, formats)
        complete = True
    finally:
        out.close(complete)


def draw_into(out, by_setting, ds, colours, args, formats):
    save = saver(out, formats)
    seeds_asked = args.seeds or max(len(v) for by_loss in by_setting.values() for v in by_loss.values())
    F.curves(by_setting, ds, colours, save)
    F.accuracy_vs_rate(by_setting, ds, colours, save)
    F.normalisation(ds, save)
    N.transitions(by_setting, ds, save)
    N.instance_dependence(by_setting, ds, save)
    noisy = [s for s in sorted(by_setting, key=F.setting_key) if not s.startswith("none-")]
    mem = args.memorisation or next((s for s in ("sym-0.5", "sym-0.4") if s in by_setting), noisy[0] if noisy else None)
    if ds["name"] in REAL_SETS:  # its own noisy labels: calibration is drawn, memorisation needs the true labels
        D.reliability(by_setting, "none-0.0", ds, colours, save)
        note(f"no memorisation or sample-loss figure for {ds['name']}: they need the training images' true labels, "
             f"which a real-world set does not give")
    elif mem is None:  # clean runs only: no label was flipped, so there is nothing memorised to draw
        note(f"no memorisation, sample-loss or reliability figure for {ds['name']}: its runs have no noisy setting "
             f"(give one with --memorisation)")
    else:
        draw_memorisation(out, by_setting, mem, ds, colours, args, save)
    for name in T.tables(by_setting, ds, seeds_asked, out.folder):
        out.path(name)
    study = T.all_runs(by_setting)[0]["study"]
    if study and study.get("dataset") == ds["name"]:
        for name in T.study_table(by_setting, ds, study, out.folder):
            out.path(name)


def draw_memorisation(out, by_setting, mem, ds, colours, args, save):
    """The figures of one noisy setting: memorisation, per-sample losses, reliability and the image grid."""
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


def mixed(where, runs):
    """Why the runs of one data set's tables cannot be pooled (they differ beyond their setting, loss and seed), in
    one line with the fix; None where they can."""
    split = T.protocol_split(runs)
    if not split:
        return None
    key = next((k for k in split if k in T.PROTOCOL), None)
    common = key and max(split[key], key=split[key].get)
    fix = f"draw one of them with --where {key}={common}, or " if key else ""
    return (f"the runs in {where} differ beyond their setting, loss and seed: {T.said_split(split)}; a table or "
            f"figure pools only runs trained alike: {fix}keep such runs in separate train.py --out folders")


def home_of(args, root):
    """The folder of a results root's (or study's) data set folders: RESULTS/figures, STUDY/figures, or under --out
    the study's place in RESULTS."""
    if not args.out:
        return os.path.join(root, "figures")
    return os.path.normpath(os.path.join(args.out, os.path.relpath(root, args.results)))


def clear_undrawn(homes, drawn, asked_datasets):
    """Empty the data set folders an earlier call drew into these homes that this call drew nothing into (their
    runs gone or left out), but those of data sets --dataset left out: --dataset picks the folders to rewrite."""
    for home in sorted(homes):
        if not os.path.isdir(home):
            continue
        for name in sorted(os.listdir(home)):
            folder = os.path.join(home, name)
            if folder in drawn or (asked_datasets and name not in asked_datasets) \
                    or not os.path.isfile(os.path.join(folder, MANIFEST)):
                continue
            gone = remove_listed(folder, listed(folder))
            os.remove(os.path.join(folder, MANIFEST))
            if not os.listdir(folder):
                os.rmdir(folder)
            if gone:
                note(f"removed from {folder} {plural(len(gone), 'file')} an earlier call drew ({named(gone)}): "
                     f"this call drew no run of {name} there")


def said_drawn(n_read, left):
    """'3 runs drawn (2 of the 5 read left out by --where)': what was drawn, and what each filter left out."""
    out = sum(left.values())
    text = f"{plural(n_read - out, 'run')} drawn"
    if len(left) == 1:
        flag, = left
        return text + f" ({out} of the {n_read} read left out by {flag})"
    if left:
        return text + f" ({out} of the {n_read} read left out: " + ", ".join(f"{n} by {f}" for f, n in left.items()) + ")"
    return text


def main(argv=None):
    try:
        args = parser().parse_args(argv)
    except UserError as e:
        die(f"{e}")
    unread = []
    runs = find_runs(args.results, unread) if os.path.isdir(args.results) else []
    if not runs and unread:
        die(f"no run in {args.results} could be read ({plural(len(unread), 'run')} with an unreadable log.csv or "
            f"config.json, named above); rewrite or remove those files")
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
            note(f"{flag} {','.join(sorted(want - found[flag]))} matches no run{hint}")
    where = wanted(args.where)
    by_dataset = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # {(root, dataset): {setting: {loss}}}
    left = defaultdict(int)  # {flag: runs it left out}, each run counted by the first flag that leaves it out
    for r in runs:
        out = next((flag for flag, key in (("--dataset", "dataset"), ("--only", "setting"), ("--losses", "loss"))
                    if asked[flag] is not None and r[key] not in asked[flag]), None)
        out = out or (None if matches(r, where) else "--where")
        if out:
            left[out] += 1
        else:
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
    # A data set whose runs cannot be pooled is refused; the others are drawn, then the refusal is said.
    refused = {k: why for k, v in sorted(by_dataset.items()) for why in [mixed(os.path.join(*k), T.all_runs(v))] if why}
    if len(refused) == len(by_dataset):
        die(next(iter(refused.values())))
    folders = {(root, name): os.path.join(home_of(args, root), name) for root, name in by_dataset}
    try:
        for (root, name), by_setting in sorted(by_dataset.items()):
            if (root, name) not in refused:
                draw(by_setting, describe(name, T.all_runs(by_setting)), colours, args, formats, folders[root, name])
        clear_undrawn({home_of(args, r["root"]) for r in runs}, set(folders.values()), asked["--dataset"])
    except OSError as e:  # a folder that cannot be written, a full disk
        die(f"cannot write {e.filename or 'the figures'}: {e.strerror or e}; free space, or give --out a folder "
            f"you can write to")
    left = {flag: left[flag] for flag in ("--dataset", "--only", "--losses", "--where") if left[flag]}
    unread = f"; {plural(len(unread), 'run')} not read (see the notes above)" if unread else ""
    drawn = sorted(f for k, f in folders.items() if k not in refused)
    if refused:
        left["the refusal below"] = sum(len(T.all_runs(by_dataset[k])) for k in refused)
        print(f"{said_drawn(len(runs), left)}{unread}; figures and tables in {', '.join(drawn)}")
        others = [os.path.join(root, name) for root, name in list(refused)[1:]]
        die(f"{next(iter(refused.values()))}" + (f" ({len(others)} more refused alike: {', '.join(others)})"
                                                  if others else ""))
    print(f"{said_drawn(len(runs), left)}{unread}; figures and tables in {', '.join(drawn)}")


if __name__ == "__main__":
    main()
