"""The tables of a results folder, and the rule of what may be pooled into one table or figure at all.

A table's axes are its rows (losses), its columns (noise settings) and the seeds it averages over. Runs that
differ in anything else (epochs, network, preset, optimizer, the data) are not seeds of one cell: `protocol_split`
finds such differences and plot.py refuses them with the fix. Everything here reads the runs plot.py found;
nothing imports torch.
"""
import csv
import io
import math
import os
from collections import defaultdict

from . import figures as F
from . import keys
from . import presets
from .atomic import save_text

# What a run was trained with, beside its setting, loss and seed. A value the loss itself set (ANL's weight decay
# of 0 from its paper, a preset's per-loss learning rate) is the loss's, and not compared: it is part of the row.
# From keys.py: every key a resume may not change freely, but the loss's own values (the row's) and how it computed.
PROTOCOL = tuple(k.name for k in keys.KEYS if k.record and k.resume != keys.FREE
                 and k.group not in ("loss", "compute"))
# The metrics of table.md and table.csv: result.json's key prefix, its heading, and which end is better.
METRICS = [("test_acc", "test accuracy (%)", max, 100, 2),
           ("test_ece", "expected calibration error on the test set (%, 15 bins; lower is better)", min, 100, 2),
           ("train_flip_auroc", "AUROC of telling flipped from clean training labels by their loss", max, 1, 3)]


def protocol_of(run):
    """{key: value} of the run's protocol, leaving out what its loss set and what it does not record."""
    cfg = run["config"] or {}
    sources = cfg.get("sources") or {}
    try:
        _, setup_sources = presets.setup_values(cfg["preset"], cfg["dataset"])
    except (KeyError, TypeError):  # a run from before presets, or a preset this version no longer has
        setup_sources = {}
    own = {k for k, s in sources.items() if s != "flag" and k in setup_sources and s != setup_sources[k]}
    got = {k: cfg[k] for k in PROTOCOL if k in cfg and k not in own}
    if run["noise"] and "n_train_total" in run["noise"]:
        got["training images"] = run["noise"]["n_train_total"]
    return got


def protocol_split(runs):
    """{key: {value: number of runs}} for every protocol key on which the runs disagree; {} when they may pool."""
    seen = defaultdict(lambda: defaultdict(int))
    for r in runs:
        for k, v in protocol_of(r).items():
            seen[k][str(v)] += 1
    return {k: dict(v) for k, v in seen.items() if len(v) > 1}


def said_split(split):
    """'epochs (20: 4 runs, 50: 2 runs), arch (...)': the keys on which runs differ, in words."""
    return ", ".join(f"{k} (" + ", ".join(f"{v}: {n} run{'s' if n > 1 else ''}" for v, n in sorted(vals.items()))
                     + ")" for k, vals in split.items())


def cell(stats, losses, s, loss, want, better=max, digits=2):
    """A table cell: 'mean ± std (n=k)', bold where it is the column's best mean; None where not run."""
    if (s, loss) not in stats:
        return None
    m, sd, n = stats[s, loss]
    text = f"{m:.{digits}f}" + (f" ± {sd:.{digits}f}" if n > 1 else "") + (f" (n={n})" if n < want else "")
    best = better(stats[s, x][0] for x in losses if (s, x) in stats)
    return f"**{text}**" if m == best else text


def stat_rows(stats, losses, settings, **fixed):
    """The CSV rows of a table's cells that were run: mean and std in %, n seeds; `fixed` columns added to each."""
    return [{**fixed, "loss": loss, "setting": s, "mean": f"{m:.4f}", "std": f"{sd:.4f}" if n > 1 else "", "n": n}
            for loss in losses for s in settings if (s, loss) in stats for m, sd, n in [stats[s, loss]]]


def cell_stats(by_setting, key, scale=100):
    """{(setting, loss): (mean, sample std, n)} of result key times scale (100: in %), over the seeds that
    recorded it (not NaN)."""
    cells = F.accuracy_cells(by_setting, key)
    cells = {c: [v for v in vs if not math.isnan(v)] for c, vs in cells.items()}
    return {c: (*F.mean_std(v, scale), len(v)) for c, v in cells.items() if v}


def all_runs(by_setting):
    return [r for by_loss in by_setting.values() for rs in by_loss.values() for r in rs]


def tables(by_setting, ds, seeds_asked, out):
    """table.md and table.csv: test accuracy, ECE and flip AUROC, mean ± std over seeds, one row per loss, one
    column per setting; each for the best-validation model and for the last epoch. Returns the names written."""
    settings = sorted(by_setting, key=F.setting_key)
    losses = sorted({name for s in settings for name in by_setting[s]}, key=F.loss_order)
    md, rows = [], []
    kinds = [("best", "best-validation model"), ("last", "last epoch")]
    if not F.selects(all_runs(by_setting)):
        kinds = kinds[1:]  # no validation split: the "best" model is the last epoch's
    runs = all_runs(by_setting)
    # A real-world set: its one setting is its own labels, and each of its test sets has a table of its own.
    names = list(dict.fromkeys(n for r in runs if r["result"] for n in (r["result"].get("tests") or {})))
    head = ["its own labels" if s == "none-0.0" and names else s for s in settings]
    metrics = [(m, h.replace("on the test set", f"on {names[0]}").replace("test accuracy", f"test accuracy on {names[0]}")
                if names else h, *rest) for m, h, *rest in METRICS]
    metrics[1:1] = [(f"tests:{n}", f"test accuracy on {n} (%)", max, 100, 2) for n in names[1:]]
    for metric, heading, better, scale, digits in metrics:
        for model, name in kinds:
            stats = cell_stats(by_setting, f"{metric}_{model}", scale) if not metric.startswith("tests:") else \
                test_set_stats_by_setting(by_setting, metric[6:], model)
            if not stats:
                continue  # runs from before the metric was recorded
            md += [f"### {ds['title']}: {heading}, {name}", "", "| loss | " + " | ".join(head) + " |",
                   "| --- |" + " --- |" * len(settings)]
            for loss in losses:
                md.append(f"| {loss} | " + " | ".join(cell(stats, losses, s, loss, seeds_asked, better, digits) or ""
                                                      for s in settings) + " |")
            rows += stat_rows(stats, losses, settings, dataset=ds["name"], metric=metric, model=model)
            md.append("")
    md.append(f"Runs: {F.provenance(all_runs(by_setting))}. Mean ± std over seeds; (n=k): k seeds where "
              f"{seeds_asked} {'was' if seeds_asked == 1 else 'were'} asked; best of each column in bold.\n")
    save_text(os.path.join(out, "table.md"), "\n".join(md))
    buf = io.StringIO()
    w = csv.DictWriter(buf, ["dataset", "metric", "model", "loss", "setting", "mean", "std", "n"])
    w.writeheader()
    w.writerows(rows)
    save_text(os.path.join(out, "table.csv"), buf.getvalue())
    return ["table.md", "table.csv"]


def test_set_stats_by_setting(by_setting, name, model):
    """cell_stats' {(setting, loss): (mean, std, n)} of one real-world test set's accuracy (result.json's tests)."""
    return {(setting, loss): v for setting, by_loss in by_setting.items()
            for (_, loss), v in test_set_stats(by_loss, [(name, model)]).items()}


def test_set_stats(runs_of, columns):
    """{(column, loss): (mean, sample std, n)} in % of each real-world test set's accuracy: columns are (test set,
    "best" or "last"), read from result.json's "tests"; runs_of: {loss: [runs]}."""
    stats = {}
    for loss, runs in runs_of.items():
        for name, model in columns:
            v = [r["result"]["tests"][name][f"acc_{model}"] for r in runs if r["result"] and
                 (r["result"].get("tests") or {}).get(name, {}).get(f"acc_{model}") is not None]
            if v:
                stats[f"{name} ({model})", loss] = (*F.mean_std(v), len(v))
    return stats


def real_study_table(by_setting, ds, study, out):
    """study.md and study.csv of a real-world study (the set's own labels, one setting): a row per loss, a column
    per test set (webvision and ilsvrc12 for WebVision mini), for the last epoch as the WebVision papers report it,
    and for the best-validation model too where the runs select (Clothing1M's clean validation list)."""
    runs = all_runs(by_setting)
    names = list(dict.fromkeys(n for r in runs if r["result"] for n in (r["result"].get("tests") or {})))
    columns = [(n, m) for n in names for m in ("last", "best") if m == "last" or F.selects(runs)]
    runs_of = defaultdict(list)
    for by_loss in by_setting.values():
        for loss, rs in by_loss.items():
            runs_of[loss] += rs
    losses = study["losses"].split()
    losses += sorted(set(runs_of) - set(losses), key=F.loss_order)
    stats, want, head = test_set_stats(runs_of, columns), len(study["seeds"].split()), [f"{n} ({m})" for n, m in columns]
    md = [f"### {ds['title']}, study {study['name']} (--preset {study['preset']}, seeds {study['seeds']})", "",
          "Test accuracy (%) on each test set: of the last epoch, and of the best-validation model where there is a "
          f"validation set; mean ± std over seeds; best of each column in bold; – not run; (n=k) fewer seeds than "
          f"{want}.", "", "| loss | " + " | ".join(head) + " |", "| --- |" + " ---: |" * len(head)]
    for loss in losses:
        md.append(f"| {loss} | " + " | ".join(cell(stats, losses, c, loss, want) or "–" for c in head) + " |")
    return save_study(out, md, stat_rows(stats, losses, head))


def save_study(out, md, rows):
    save_text(os.path.join(out, "study.md"), "\n".join(md) + "\n")
    buf = io.StringIO()
    w = csv.DictWriter(buf, ["loss", "setting", "mean", "std", "n"])
    w.writeheader()
    w.writerows(rows)
    save_text(os.path.join(out, "study.csv"), buf.getvalue())
    return ["study.md", "study.csv"]


def study_table(by_setting, ds, study, out):
    """study.md and study.csv: the study's table in its paper's layout. One row per loss in the study's order,
    one column per noise setting; mean ± sample std over seeds of the last epoch's test accuracy (%), as both
    papers report it; the best mean of each column in bold. Returns the names written."""
    if study["dataset"] in presets.REAL_SETS:
        return real_study_table(by_setting, ds, study, out)
    settings = presets.study_settings(study)  # every column of the study, run or not
    settings += [s for s in sorted(by_setting, key=F.setting_key) if s not in settings]
    losses = study["losses"].split()
    losses += sorted({n for s in by_setting.values() for n in s} - set(losses), key=F.loss_order)
    stats = cell_stats(by_setting, "test_acc_last")
    want = len(study["seeds"].split())
    head = [{"none-0.0": "clean"}.get(s, s.replace("-", " ")) for s in settings]
    epochs = sorted({r["config"].get("epochs") for r in all_runs(by_setting) if r["config"]} - {None})
    ran = f"{'/'.join(map(str, epochs))} epoch{'s' if epochs != [1] else ''}, " if epochs else ""
    md = [f"### {ds['title']}, study {study['name']} (--preset {study['preset']}, {ran}seeds {study['seeds']})", "",
          "Test accuracy (%) of the last epoch, mean ± std over seeds; best of each column in bold; "
          f"– not run; (n=k) fewer seeds than {want}.", "",
          "| loss | " + " | ".join(head) + " |", "| --- |" + " ---: |" * len(settings)]
    for loss in losses:
        md.append(f"| {loss} | " + " | ".join(cell(stats, losses, s, loss, want) or "–" for s in settings) + " |")
    return save_study(out, md, stat_rows(stats, losses, settings))
