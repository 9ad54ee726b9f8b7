"""Real subsets of the real-world noisy sets, in their official layout: `data.py --dataset KIND --subset N --out DIR`.

This module owns cutting WebVision mini, Clothing1M, ANIMAL-10N and Food-101N (realnoise.KINDS) down to a few
images per class. A subset is cut by the list files: the new folder holds the same layout as the source, each
list file cut to its kept lines (byte for byte, headers kept, in the original order), and only the kept images,
copied. The training rows kept are subset.first_per_class's (the first of each class in list order, N in all);
every val and test list is kept whole, or cut the same way with --test-subset M (M for each list). Lists that
only describe images (Clothing1M's label kv files, Food-101N's verification flags) keep the rows of kept images.
ILSVRC12 val (webvision-mini, --imagenet-val) and Food-101's test split (food101n, --food101, required there as
realnoise.read requires it) are cut into the subset's own ilsvrc12-val/ and food-101/, so the folder is whole.

The source is read (and so checked) by realnoise.read first; the result is read back the same way before it is
renamed into place, and must list exactly the kept rows. The folder is built under a temporary name beside --out
with SHA256SUMS of every file: a failure (a listed image missing on disk, a full disk) leaves nothing behind.
No torch; the reading is realnoise.py's, the rule of which images subset.py's.
"""
import itertools
import os
import shutil
import tempfile

import numpy as np

from . import realnoise
from . import subset
from .errors import UserError
from .fetch import DataError

IMAGENET_OUT, FOOD101_OUT = "ilsvrc12-val", "food-101"  # the extra test sets' folders inside a subset


def _raw(path):
    """The file's lines with their own line ends (newline=""), so a kept line is written back byte for byte."""
    with open(path, encoding="utf-8", newline="") as f:
        return f.read().splitlines(keepends=True)


class Plan:
    """What a subset's folder will hold: list files cut (by row or by key), files copied whole, images copied."""

    def __init__(self, root, tmp):
        self.root, self.tmp, self.lists, self.copies = root, tmp, [], {}

    def cut(self, rel, keep, header=False, src=None):
        """rel (under root, or src) written with the lines keep(line) accepts; a Food-101N header line kept.
        Blank lines are dropped: the readers skip them, so they are no rows."""
        self.lists.append((src or os.path.join(self.root, rel), rel, keep, header))

    def rows(self, rel, kept, is_row=lambda line: True, header=False, src=None):
        """rel cut to the kept rows, by position: row i is the i-th nonblank line (after a header) that is_row
        accepts, as the reader lists them; so a key listed twice keeps only the copy that was picked."""
        kept, count = set(kept), itertools.count()
        self.cut(rel, lambda line: is_row(line) and next(count) in kept, header, src)

    def copy(self, src, rel):
        self.copies.setdefault(rel, src)

    def write(self):
        for src, rel, keep, header in self.lists:
            lines = _raw(src)
            head = lines[:1] if header and lines and lines[0].startswith("class_name") else []
            text = "".join(head + [line for line in lines[len(head):] if line.strip() and keep(line)])
            _makedirs(self.tmp, rel)
            with open(os.path.join(self.tmp, rel), "w", encoding="utf-8", newline="") as f:
                f.write(text)
        for rel, src in sorted(self.copies.items()):
            _makedirs(self.tmp, rel)
            try:
                shutil.copyfile(src, os.path.join(self.tmp, rel))
            except FileNotFoundError:  # the reader stats no image: a listed one that is missing shows here
                raise DataError(f"{src} is listed but not on disk; the copy of the data set is incomplete: "
                                f"restore the file, or unpack the set again") from None


def _makedirs(tmp, rel):
    os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)


def pick(labels, n, num_classes, flag, what):
    """Indices of the kept rows of a list of labels: subset.first_per_class, with the range and the classes
    checked here so a refusal names the list (a subset with fewer rows than the list has classes would leave a
    class out)."""
    present = len(set(labels))
    if not 0 < n <= len(labels):
        raise UserError(f"{flag} {n} must be between 1 and the {len(labels)} images of {what}; choose one in "
                        f"that range")
    if n < present:
        raise UserError(f"{flag} {n} is fewer than the {present} classes of {what}, which would leave a class "
                        f"out; give {present} or more")
    return subset.first_per_class(np.asarray(labels, dtype=np.int64), n, num_classes, flag).tolist()


def _keep(rows, n, num_classes, flag, what):
    """(indices, kept rows) of a list: all of it where n is None (no --test-subset)."""
    idx = list(range(len(rows))) if n is None else pick([y for _, y in rows], n, num_classes, flag, what)
    return idx, [rows[i] for i in idx]


def _rel(path, root):
    """The name under root exactly as the list spells it (the reader joins root + "/" + name): relpath would
    normalise a key such as ./images/x.jpg, which then matches no line of a label file."""
    return path[len(root) + 1:]


# --- the four sets: each plans its files and returns its kept (train, val, tests, clean) -----------------------

def _webvision(p, listing, n, test_n, imagenet_val):
    C, root = realnoise.MINI_CLASSES, p.root
    idx, train = _keep(listing.train, n, C, "--subset", "webvision-mini's training list (classes 0..49)")
    mini = lambda line: int(line.split()[1]) < C  # noqa: E731 -- rows of classes >= 50 are no rows of mini
    p.rows("info/train_filelist_google.txt", idx, mini)
    vidx, val = _keep(listing.tests["webvision"], test_n, C, "--test-subset", "WebVision's val (classes 0..49)")
    p.rows("info/val_filelist.txt", vidx, mini)
    p.cut("info/synsets.txt", lambda line: True)  # whole: line i names label i
    for path, _ in train + val:
        p.copy(path, _rel(path, root))
    tests = {"webvision": val}
    if imagenet_val is not None:
        _, tests["ilsvrc12"] = _keep(listing.tests["ilsvrc12"], test_n, C, "--test-subset", "ILSVRC12 val's 50 "
                                                                                           "synsets")
        for path, _ in tests["ilsvrc12"]:
            p.copy(path, os.path.join(IMAGENET_OUT, _rel(path, imagenet_val)))
    return train, None, tests, None


def _clothing1m(p, listing, n, test_n):
    root, C = p.root, len(listing.classes)
    # The annotations' folder as the reader found it: ROOT/annotations/, or ROOT itself (the authors' README).
    ann = "annotations" if os.path.isfile(os.path.join(root, "annotations", "noisy_label_kv.txt")) else ""
    idx, train = _keep(listing.train, n, C, "--subset", "clothing1m's noisy training list")
    vidx, val = _keep(listing.val, test_n, C, "--test-subset", "clothing1m's clean val list")
    tidx, test = _keep(listing.tests["clean-test"], test_n, C, "--test-subset", "clothing1m's clean test list")
    for name, kept in (("noisy_train_key_list.txt", idx), ("clean_val_key_list.txt", vidx),
                       ("clean_test_key_list.txt", tidx)):
        p.rows(os.path.join(ann, name), kept)
    keys = {_rel(path, root) for path, _ in train + val + test}
    by_key = lambda line: line.split()[0] in keys  # noqa: E731 -- the label tables keep the kept images' rows
    for name in ("noisy_label_kv.txt", "clean_label_kv.txt"):
        p.cut(os.path.join(ann, name), by_key)
    for name, keep in (("clean_train_key_list.txt", by_key), ("category_names_eng.txt", lambda line: True)):
        if os.path.isfile(os.path.join(root, ann, name)):  # optional files of the release, kept where present
            p.cut(os.path.join(ann, name), keep)
    for path, _ in train + val + test:
        p.copy(path, _rel(path, root))
    kept = {path for path, _ in train}
    return train, val, {"clean-test": test}, {k: v for k, v in listing.clean.items() if k in kept}


def _animal10n(p, listing, n, test_n):
    C = len(listing.classes)
    _, train = _keep(listing.train, n, C, "--subset", "animal10n's training/")
    _, test = _keep(listing.tests["test"], test_n, C, "--test-subset", "animal10n's testing/")
    for path, _ in train + test:  # no list files: the folders are the lists
        p.copy(path, _rel(path, p.root))
    return train, None, {"test": test}, None


def _food101n(p, listing, n, test_n, food101):
    root, C = p.root, len(listing.classes)
    idx, train = _keep(listing.train, n, C, "--subset", "food101n's meta/imagelist.tsv")
    p.rows("meta/imagelist.tsv", idx, header=True)
    p.cut("meta/classes.txt", lambda line: True)
    keys = {_rel(path, os.path.join(root, "images")) for path, _ in train}
    for name in ("verified_train.tsv", "verified_val.tsv"):  # flags of training images: the kept ones' rows
        p.cut(f"meta/{name}", lambda line: line.split()[0] in keys, header=True)
    tidx, test = _keep(listing.tests["food101-test"], test_n, C, "--test-subset", "Food-101's test split")
    p.rows(f"{FOOD101_OUT}/meta/test.txt", tidx, header=True, src=os.path.join(food101, "meta", "test.txt"))
    for name in ("classes.txt", "labels.txt"):  # Food-101's own class lists, small; its train split is not cut
        if os.path.isfile(os.path.join(food101, "meta", name)):
            p.cut(f"{FOOD101_OUT}/meta/{name}", lambda line: True, src=os.path.join(food101, "meta", name))
    for path, _ in train:
        p.copy(path, _rel(path, root))
    for path, _ in test:
        p.copy(path, os.path.join(FOOD101_OUT, _rel(path, food101)))
    kept = {path for path, _ in train}
    return train, None, {"food101-test": test}, {k: v for k, v in listing.clean.items() if k in kept}


# --- the command ----------------------------------------------------------------------------------------------

def make(kind, data_dir, out, n, test_n=None, imagenet_val=None, food101=None):
    """Write the subset of data set `kind` in data_dir to out (which must not exist, or be empty); returns a line
    saying what it holds."""
    if kind not in realnoise.KINDS:
        raise UserError(f"{kind} is not a real-world noisy set; choose from {', '.join(realnoise.KINDS)}")
    if imagenet_val is not None and kind != "webvision-mini":
        raise UserError(f"--imagenet-val applies to webvision-mini only, not {kind}; leave it out")
    if food101 is not None and kind != "food101n":
        raise UserError(f"--food101 applies to food101n only, not {kind}; leave it out")
    if kind == "food101n" and food101 is None:
        raise UserError(f"food101n is tested on Food-101's test split, which the subset holds too: give --food101 "
                        f"DIR, the folder with {realnoise.LAYOUT['food101']}. {realnoise.OBTAIN['food101']}")
    root, target = os.path.abspath(data_dir), os.path.abspath(out)
    for flag, source in (("--data-dir", data_dir), ("--imagenet-val", imagenet_val), ("--food101", food101)):
        if source is not None and os.path.abspath(source) == target:
            raise UserError(f"--out {out} is the {flag} the subset is cut from; give the subset its own folder")
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise UserError(f"--out {out} already exists and is not empty; choose a new folder, or delete it first")
    extra = {"imagenet_val": None if imagenet_val is None else os.path.abspath(imagenet_val),
             "food101": None if food101 is None else os.path.abspath(food101)}
    listing = realnoise.read(kind, root, **{k: v for k, v in extra.items() if v is not None})
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", dir=parent)
    try:
        plan = Plan(root, tmp)
        if kind == "webvision-mini":
            kept = _webvision(plan, listing, n, test_n, extra["imagenet_val"])
        elif kind == "clothing1m":
            kept = _clothing1m(plan, listing, n, test_n)
        elif kind == "animal10n":
            kept = _animal10n(plan, listing, n, test_n)
        else:
            kept = _food101n(plan, listing, n, test_n, extra["food101"])
        plan.write()
        moves = {root: tmp, extra["imagenet_val"]: os.path.join(tmp, IMAGENET_OUT),
                 extra["food101"]: os.path.join(tmp, FOOD101_OUT)}
        _check(kind, tmp, kept, {k: v for k, v in moves.items() if k is not None})
        files = subset.publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    train, val, tests, _ = kept
    counts = [f"{len(train)} training"] + ([f"{len(val)} val"] if val is not None else []) + \
             [f"{len(rows)} test ({name})" for name, rows in tests.items()]
    extras = "".join(f", with {what} in {os.path.join(out, sub)}" for what, sub, given in
                     (("ILSVRC12 val", IMAGENET_OUT, imagenet_val), ("Food-101's test split", FOOD101_OUT, food101))
                     if given is not None)
    return (f"{out}: {kind} subset, {', '.join(counts)} images, {files} files in SHA256SUMS; read it from "
            f"--data-dir {out}{extras}")


def _check(kind, tmp, kept, moves):
    """The written folder read back as realnoise.read reads the whole set: exactly the kept rows, or a bug here
    (the cut of a list by position and the reader's listing of it disagree), never a subset that says otherwise."""
    def moved(path):  # the longest source first: an ILSVRC12 val kept inside the WebVision folder is its own
        src = next(s for s in sorted(moves, key=len, reverse=True) if path.startswith(s + os.sep))
        return moves[src] + path[len(src):]
    extra = {k: os.path.join(tmp, sub) for k, sub, src in (("imagenet_val", IMAGENET_OUT, "ilsvrc12"),
                                                            ("food101", FOOD101_OUT, "food101-test"))
             if src in kept[2]}
    got = realnoise.read(kind, tmp, **extra)
    train, val, tests, clean = kept
    want = ([(moved(p), y) for p, y in train], None if val is None else [(moved(p), y) for p, y in val],
            {name: [(moved(p), y) for p, y in rows] for name, rows in tests.items()},
            {moved(p): v for p, v in (clean or {}).items()} or None)
    if (got.train, got.val, got.tests, got.clean or None) != want:
        raise RuntimeError(f"the {kind} subset written in {tmp} does not read back as the rows kept; a bug in "
                           f"noisylabels/realsubset.py")
