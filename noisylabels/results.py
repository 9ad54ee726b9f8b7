"""A results folder's runs, as plot.py reads them: found, read, grouped by study, and picked by --where.

A run is a directory OUT/<dataset>/<setting>/<loss>/seed<seed>/ with log.csv, config.json and, once finished,
result.json (noise.json beside them). A file that cannot be read (half-written, not JSON) is one note on stderr
naming it and what is done without it; nothing here raises for a results folder's content. No torch.
"""
import csv
import json
import os
import re
import sys

import numpy as np

from . import keys
from .errors import die


def note(text):
    print(f"note: {text}", file=sys.stderr)


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in rows[0]} \
        if rows else {}


def why_unreadable(path, e):
    """Why a file could not be read, in words: empty, half-written JSON, not UTF-8, the system's reason."""
    if isinstance(e, json.JSONDecodeError):
        empty = os.path.isfile(path) and os.path.getsize(path) == 0
        return "it is empty" if empty else f"half-written or not JSON: {re.sub(r' [(]char [0-9]+[)]$', '', str(e))}"
    if isinstance(e, UnicodeDecodeError):
        return "it is not text (UTF-8)"
    if isinstance(e, OSError):
        return e.strerror or str(e)
    return str(e)  # a log.csv value that is not a number


def read_json(path, then=None):
    """The JSON object in path; None where there is no such file, and where it cannot be read (half-written, not
    JSON, not an object), then with one line naming the file, why, and `then`: what is done without it."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
        if not isinstance(value, dict):
            raise ValueError(f"it holds a JSON {type(value).__name__}, not an object")
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        if then:
            note(f"cannot read {path} ({why_unreadable(path, e)}); {then}")
        return None
    return value


def find_runs(root, unread=None):
    """Every run directory below root: dicts with dataset, setting, loss, seed, log, result, noise, config.

    A file that cannot be read is one line on stderr: a run without a readable log.csv or config.json is left
    out (and its folder added to unread); one without a readable result.json is drawn as a run in progress; one
    without its noise.json, without it."""
    unread = [] if unread is None else unread
    runs, studies = [], {}
    for dirpath, _, files in sorted(os.walk(root)):
        if "log.csv" not in files:
            continue
        parts = os.path.relpath(dirpath, root).split(os.sep)
        if len(parts) < 3 or not parts[-1].startswith("seed") or "-" not in parts[-3]:
            continue
        path = os.path.join(dirpath, "log.csv")
        try:
            log = read_csv(path)
        except (OSError, ValueError, TypeError, csv.Error) as e:  # TypeError: a row longer than the header
            note(f"cannot read {path} ({why_unreadable(path, e)}); the run is left out")
            unread.append(dirpath)
            continue
        if not log:
            continue  # a run that has not finished its first epoch
        cfg_path = os.path.join(dirpath, "config.json")
        cfg = read_json(cfg_path, "the run is left out: what it was trained with is unknown")
        if cfg is None and os.path.isfile(cfg_path):
            unread.append(dirpath)
            continue
        cfg = cfg or {}
        home = study_root(root, dirpath)
        if "dataset" not in cfg or len(parts) < 4:
            note(f"{dirpath} is not a run of the current layout (<dataset>/<setting>/<loss>/seed<seed> with "
                 f"its config.json); left out")
            continue
        if home not in studies:  # one line per study.json, however many runs it holds
            studies[home] = read_json(os.path.join(home, "study.json"), "no study table (study.md) for its runs, "
                                      "which are drawn and tabled (table.md) as any others")
        runs.append({"root": home, "study": studies[home],
                     "dataset": keys.facts_of(cfg)["data_name"] or cfg["dataset"],
                     "setting": parts[-3], "loss": parts[-2], "seed": parts[-1][4:], "log": log, "dir": dirpath,
                     "result": read_json(os.path.join(dirpath, "result.json"), "the run is drawn as one still in "
                                         "progress: in the curves, not in the tables or the end-of-run figures"),
                     "config": cfg,
                     "noise": read_json(os.path.join(dirpath, "noise.json"), "the run is drawn without its noise "
                                        "record: no transition matrix or noise figure from it, and its class names "
                                        "from the other runs")})
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
    known = {**keys.facts_of(cfg), **keys.as_recorded(cfg)}  # a key an older run lacks: its declared absent value
    return all(k in known and v in (str(known[k]), json.dumps(known[k])) for k, v in where.items())
