"""Label noise: every noise model of the suite, and the labels a run trains on.

`make_noisy_labels` flips exactly round(rate * n_c) samples of every (source) class c for sym, asym
and pairflip, so the realised rate is the asked-for rate up to rounding; asymmetric noise follows a
data set's map of plausible mistakes (`asym_map`), pair-flip noise (Han et al. 2018) sends c to c + 1.
uniform resamples each label with probability rate from all C classes, itself included (DivideMix's and
ELR's "symmetric" noise). `human_noisy_labels` takes one annotation of CIFAR-10N or CIFAR-100N;
`matched_labels` draws class-conditional noise with that annotation's exact counts per (class, label) cell.
Instance-dependent noise is idn.py's, labels from a file labelfile.py's; `noisy_labels` picks among them.
Each returns the realised transition matrix too.
"""
import os

import numpy as np

from . import idn
from . import labelfile
from .data import DATASETS, HUMAN_LABELS  # the data sets' table, and CIFAR-N's label sets by --human-label name
from .errors import UserError, nearest

SYNTHETIC = ("none", "sym", "asym", "pairflip", "uniform")
KINDS = SYNTHETIC + ("idn", "human", "human-matched", "file")
RATED = ("sym", "asym", "pairflip", "uniform", "idn")  # the kinds that take --rate
KIND_NAMES = {"none": "no", "sym": "symmetric", "asym": "asymmetric", "pairflip": "pair-flip", "uniform": "uniform",
              "idn": "instance-dependent", "human": "human", "human-matched": "human-matched", "file": "file"}
HUMAN_DEFAULT = {"cifar10": "worse", "cifar100": "noisy"}  # the label set of --noise human without --human-label

# Truck->automobile, bird->airplane, deer->horse, cat<->dog, in CIFAR-10's class indices (data.CLASSES).
ASYM_MAP = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}
# MNIST (Ma et al. 2020): 7->1, 2->7, 5<->6, 3->8.
MNIST_ASYM_MAP = {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}


def parse_setting(setting):
    """(kind, rate or name) of a noise setting as run directories name it (config.setting writes it), the one reading
    of that name: "sym-0.4" -> ("sym", 0.4), "none-0.0" -> ("none", 0.0), "human-worse" -> ("human", "worse"),
    "human-matched-worse" -> ("human-matched", "worse"), "file-x_abcd1234" -> ("file", "x_abcd1234"), and
    "sym-1e-05" -> ("sym", 1e-05). The kind is the longest of KINDS the name starts with (else what precedes its
    last "-"); the rest is a float for none and the kinds with a rate (RATED), the text as it is otherwise (or where
    it is not a number)."""
    kind = max((k for k in KINDS if setting.startswith(k + "-")), key=len, default=None)
    kind, rest = (kind, setting[len(kind) + 1:]) if kind else setting.rpartition("-")[::2]
    if kind in ("none",) + RATED:
        try:
            return kind, float(rest)
        except ValueError:
            pass
    return kind, rest


def superclass_cycle(superclass_of):
    """CIFAR-100's map: each class flips to the next class of its own superclass, circularly.

    superclass_of[k] is the coarse label of fine label k (from the data's own coarse labels).
    Fine labels are alphabetical, so the classes of a superclass are scattered over 0..99;
    within each superclass they are taken in index order, and the last flips to the first.
    """
    sup = np.asarray(superclass_of)
    if (sup < 0).any():
        missing = np.flatnonzero(sup < 0)
        raise UserError(f"the superclass of class {missing[0]} is unknown (no image of it carries a coarse label); "
                         f"asymmetric CIFAR-100 noise needs every class's superclass: use a copy of CIFAR-100 "
                         f"with an image of every class, or --noise sym")
    flip_to = {}
    for s in np.unique(sup):
        members = np.flatnonzero(sup == s)
        for a, b in zip(members, np.roll(members, -1)):
            flip_to[int(a)] = int(b)
    return flip_to


def index_blocks(num_classes=100, size=5):
    """The released code's CIFAR-100 map: classes in blocks of 5 consecutive indices, each to the next, circularly.

    Ma et al.'s and Ye et al.'s code call these superclasses, but the fine labels are alphabetical, so a block
    of indices is not a superclass (0-4: apple, aquarium_fish, baby, bear, beaver).
    """
    return {c: c - c % size + (c % size + 1) % size for c in range(num_classes)}


def asym_map(dataset, superclass_of=None, cifar100="superclass"):
    """{source class: the class it is mistaken for} of a data set's asymmetric noise.

    cifar100: "superclass" (within the real superclasses) or "blocks" (index_blocks, the released code's).
    """
    if dataset == "cifar100":
        return index_blocks() if cifar100 == "blocks" else superclass_cycle(superclass_of)
    return {"cifar10": ASYM_MAP, "mnist": MNIST_ASYM_MAP}[dataset]


def transition_matrix(clean, noisy, num_classes):
    """T[i, j] = fraction of the samples of true class i that carry label j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.float64)
    np.add.at(counts, (clean, noisy), 1)
    n = counts.sum(1, keepdims=True)
    return np.divide(counts, n, out=np.zeros_like(counts), where=n > 0)


def synthetic_labels(labels, kind, rate, seed, num_classes=10, flip_to=None):
    """Return (noisy_labels, transition_matrix) for int64 labels in [0, num_classes).

    kind: 'none', 'sym' (each flipped sample goes to a uniformly chosen other class), 'asym' (each
    class c in flip_to goes to flip_to[c]; CIFAR-10's map when not given), 'pairflip' (c to c + 1 mod C)
    or 'uniform' (each sample, with probability rate, to a class drawn from all C).
    rate: fraction of each (source) class that is flipped (uniform: resampled), in [0, 1].
    seed: the noise has its own generator, independent of the model's randomness.
    """
    if kind not in SYNTHETIC:
        raise UserError(f"unknown noise type '{kind}' for synthetic noise; choose one of: {', '.join(SYNTHETIC)} "
                         f"(human noise comes from CIFAR-N: human_noisy_labels)")
    if not 0.0 <= rate <= 1.0:
        raise UserError(f"noise rate must be in [0, 1], got {rate}")
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise UserError(f"num_classes must be a whole number >= 1, got {num_classes}")
    clean = np.asarray(labels)
    if clean.ndim != 1 or not np.issubdtype(clean.dtype, np.integer):
        raise UserError("labels must be a 1-D integer array")
    clean = clean.astype(np.int64)
    if clean.size and (clean.min() < 0 or clean.max() >= num_classes):
        raise UserError(f"labels must lie in [0, {num_classes}), got {clean.min()}..{clean.max()}")
    if kind == "asym" and flip_to is None:
        if num_classes != 10:
            raise UserError("asymmetric noise needs its class map (flip_to) unless it is CIFAR-10's, "
                             "with num_classes=10")
        flip_to = ASYM_MAP
    if kind in ("sym", "pairflip") and num_classes < 2:
        raise UserError(f"{KIND_NAMES[kind]} noise needs at least 2 classes")
    if kind == "pairflip":
        flip_to = {c: (c + 1) % num_classes for c in range(num_classes)}

    rng = np.random.default_rng(seed)
    noisy = clean.copy()
    if kind == "uniform" and rate > 0:
        hit = np.flatnonzero(rng.random(clean.size) < rate)
        noisy[hit] = rng.integers(0, num_classes, size=hit.size)
    elif kind not in ("none", "uniform") and rate > 0:
        sources = range(num_classes) if kind == "sym" else sorted(flip_to)
        for c in sources:
            idx = np.flatnonzero(clean == c)  # chosen from the clean labels: no cascade
            k = int(round(rate * idx.size))
            flip = rng.choice(idx, size=k, replace=False)
            if kind == "sym":
                # An offset in 1..C-1 makes every other class equally likely and never c itself.
                noisy[flip] = (c + rng.integers(1, num_classes, size=k)) % num_classes
            else:
                noisy[flip] = flip_to[c]
    return noisy, transition_matrix(clean, noisy, num_classes)


def make_noisy_labels(labels, kind, rate=0.0, seed=0, num_classes=None, flip_to=None, *, dataset=None, images=None,
                      superclass_of=None, human=None, human_label=None, cifar100="superclass"):
    """(noisy labels int64 [N], realised transition matrix T [C, C]) of any noise model of the suite; the public API.

    labels: the clean labels, integers in [0, num_classes). kind: 'none', 'sym', 'asym', 'pairflip', 'uniform'
    (synthetic_labels says what each does), 'idn' (instance-dependent, Xia et al. 2020: needs the images
    [N, ...] the flip rates are drawn from), 'human' (a CIFAR-N label set: `human` is the table read from its
    file, human_label the set, the data set's default when None) or 'human-matched' (the human labels' counts in
    every (class, label) cell, on images drawn at random). rate: the fraction to flip, in [0, 1] (ignored by the
    human models). seed: the noise's own generator. num_classes: the data set's when `dataset` is given, else 10.
    asym flips each class c in flip_to to flip_to[c]; without flip_to it takes the data set's map (CIFAR-100's
    needs superclass_of, the coarse label of each fine label, or cifar100="blocks"); with neither dataset nor
    flip_to it is CIFAR-10's map and needs num_classes 10.
    """
    if dataset is not None:
        if dataset not in DATASETS:
            raise UserError(f"unknown dataset '{dataset}'{nearest(dataset, DATASETS)}; choose one of: "
                            f"{', '.join(DATASETS)}")
        if num_classes is not None and num_classes != DATASETS[dataset].num_classes:
            raise UserError(f"num_classes {num_classes} differs from {dataset}'s {DATASETS[dataset].num_classes}; "
                            f"give one of them")
        num_classes = DATASETS[dataset].num_classes
    num_classes = 10 if num_classes is None else num_classes
    if kind not in KINDS or kind == "file":
        raise UserError(f"unknown noise type '{kind}'{nearest(kind, KINDS)}; choose one of: "
                        f"{', '.join(k for k in KINDS if k != 'file')} (labels from a file are the noise already)")
    if kind in ("human", "human-matched"):
        if human is None:
            raise UserError(f"{kind} noise needs the CIFAR-N table: human=labelfile.read(...) of CIFAR-10_human.pt "
                            f"or CIFAR-100_human.pt, or data.load_human(dataset, data_dir)")
        ds = dataset or ("cifar100" if num_classes == 100 else "cifar10")
        noisy, T = human_noisy_labels(human, human_label or HUMAN_DEFAULT[ds], labels, num_classes, ds)
        return matched_labels(labels, noisy, seed, num_classes) if kind == "human-matched" else (noisy, T)
    if kind == "idn":
        if images is None:
            raise UserError("idn noise draws each image's flip rate from the image itself: pass images=x "
                            "(one row per label, e.g. uint8 [N, C, H, W])")
        if len(images) != len(labels):
            raise UserError(f"images has {len(images)} rows but labels {len(labels)}; give one image per label")
        y = np.asarray(labels, dtype=np.int64)
        noisy, _ = idn.instance_labels(np.asarray(images), y, rate, seed, num_classes)
        return noisy, transition_matrix(y, noisy, num_classes)
    if kind == "asym" and flip_to is None and dataset is not None:
        flip_to = asym_map(dataset, superclass_of, cifar100) if dataset != "cifar100" or superclass_of is not None \
            or cifar100 == "blocks" else None
        if flip_to is None:
            raise UserError("asymmetric CIFAR-100 noise flips each class to the next of its superclass: pass "
                            "superclass_of (the coarse label of each fine label, data.load(...).superclass_of), or "
                            "cifar100='blocks' for the released code's map")
    return synthetic_labels(labels, kind, rate, seed, num_classes, flip_to)


def human_noisy_labels(table, which, clean, num_classes=10, dataset="cifar10"):
    """Return (noisy_labels, transition_matrix) from a CIFAR-N table for the training labels `clean`.

    table: {key: int array} as read from CIFAR-10_human.pt or CIFAR-100_human.pt; which: a key of
    HUMAN_LABELS[dataset]. The table must be aligned with the training images: its clean_label must equal `clean`.
    """
    sets, name = HUMAN_LABELS[dataset], {"cifar10": "CIFAR-10N", "cifar100": "CIFAR-100N"}[dataset]
    if which not in sets:
        raise UserError(f"unknown {name} label set '{which}'; choose one of: {', '.join(sets)}")
    clean = np.asarray(clean, dtype=np.int64)
    ref = np.asarray(table["clean_label"], dtype=np.int64)
    if ref.shape != clean.shape:
        raise UserError(f"the {name} file has {len(ref)} labels but the training set {len(clean)} images; "
                         f"use the file that belongs to this copy of {name[:-1]}")
    if not np.array_equal(ref, clean):
        bad = np.flatnonzero(ref != clean)
        raise UserError(f"the {name} file's clean_label differs from the training labels at {len(bad)} "
                         f"images (first: index {bad[0]}); the file is not aligned with this copy of {name[:-1]}")
    noisy = np.asarray(table[sets[which]], dtype=np.int64)
    if noisy.shape != clean.shape or (noisy.size and (noisy.min() < 0 or noisy.max() >= num_classes)):
        raise UserError(f"the {name} {sets[which]} must hold {len(clean)} labels in [0, {num_classes})")
    return noisy, transition_matrix(clean, noisy, num_classes)


def matched_labels(clean, human, seed, num_classes):
    """(noisy, T): class-conditional noise with the human labels' exact count in every (class, label) cell.

    Within each class, which images carry which label is drawn at random (the noise's own generator), so the
    result differs from the human labels only in which images are flipped, not in how many nor to what.
    """
    clean, human = np.asarray(clean, dtype=np.int64), np.asarray(human, dtype=np.int64)
    rng, noisy = np.random.default_rng(seed), clean.copy()
    for c in range(num_classes):
        idx = np.flatnonzero(clean == c)
        noisy[rng.permutation(idx)] = np.sort(human[idx])  # each label j on as many images as the humans gave it
    return noisy, transition_matrix(clean, noisy, num_classes)


def expected_rate(kind, rate, num_classes):
    """The fraction of labels a noise model is expected to change, where it is not the rate itself: uniform's
    rate (C - 1) / C (a resample may land on the class itself) and idn's truncated normal mean."""
    if kind == "uniform":
        return rate * (num_classes - 1) / num_classes
    if kind == "idn":
        return idn.truncnorm_mean(rate)
    return None


def adversarial(kind, rate, T):
    """A warning where the labels are past noise, else None: sym above (C - 1) / C, asym, pairflip and idn above
    0.5 (idn: an image keeps its label with 1 - q < q), and for labels not drawn by a rate (human, human-matched,
    file) wherever the realised matrix T has a class whose labels another class outnumbers."""
    T = np.asarray(T)
    C, past = len(T), {"sym": (len(T) - 1) / len(T), "asym": 0.5, "pairflip": 0.5, "idn": 0.5}
    if kind in past and rate > past[kind] + 1e-12:
        return (f"{kind} at rate {rate:g} is past {past[kind]:.3g}, where the true label stops being the most "
                f"frequent one{' of an image' if kind == 'idn' else ''}; the labels are adversarial rather than noisy")
    if kind in ("human", "human-matched", "file"):
        rows = np.flatnonzero((T - np.diag(np.diag(T))).max(1, initial=0) > np.diag(T) + 1e-12)
        if len(rows):
            return (f"in {len(rows)} of {C} classes another label outnumbers the true one (first: class {rows[0]}, "
                    f"{T[rows[0], rows[0]] * 100:.1f} % kept); the labels are adversarial rather than noisy")
    return None


def noisy_labels(cfg, d, human=None, from_file=None):
    """(noisy labels, T, record) of a run's noise on its training set d (data.Data).

    human: the CIFAR-N table for human and human-matched; from_file: the labels of --noise file (labelfile.read).
    record: what noise.json adds for the noise model (idn: the flip rates' quartiles per class).
    """
    kind, y, C, seed = cfg["noise"], d.y_train, len(d.classes), cfg["seed"]
    if kind in ("human", "human-matched"):
        noisy, T = human_noisy_labels(human, cfg["human_label"], y, C, cfg["dataset"])
        return (matched_labels(y, noisy, seed, C) if kind == "human-matched" else (noisy, T)) + ({},)
    if kind == "file":
        return from_file, transition_matrix(y, from_file, C), {}
    if kind == "idn":
        noisy, q = idn.instance_labels(d.x_train, y, cfg["rate"], seed, C)
        pct = (5, 25, 50, 75, 95)
        spread = [np.percentile(q[y == c], pct).round(4).tolist() if (y == c).any() else None for c in range(C)]
        return noisy, transition_matrix(y, noisy, C), {"flip_rate_percentiles": {"percentiles": list(pct),
                                                                                  "by_class": spread}}
    flip_to = None
    if kind == "asym":
        flip_to = asym_map(cfg["dataset"], d.superclass_of, cfg.get("asym_cifar100") or "superclass")
    noisy, T = synthetic_labels(y, kind, cfg["rate"], seed, C, flip_to)
    return noisy, T, {}


def resolve_flags(cfg):
    """Check a run's noise flags against each other (config.resolve calls this), and fill in the human label set,
    the rate and the --labels path."""
    kind, rate = cfg["noise"], cfg["rate"]
    if cfg["labels"] is not None and kind != "file" or cfg["labels_key"] is not None and cfg["labels"] is None:
        raise UserError(f"--{'labels' if cfg['labels'] is not None else 'labels-key'} only applies to --noise file "
                        f"--labels PATH; add them, or leave it out")
    if kind == "file":
        if cfg["labels"] is None:
            raise UserError("--noise file needs --labels PATH, the file of noisy training labels")
        if rate is not None:
            raise UserError("--rate does not apply to --noise file: the file's labels are the noise; leave --rate out")
        labelfile.check_format(cfg["labels"])
        cfg["labels"] = os.path.abspath(cfg["labels"])
    if kind in ("human", "human-matched"):
        sets = HUMAN_LABELS.get(cfg["dataset"])
        if sets is None:
            raise UserError(f"--noise {kind} needs human labels, and {cfg['dataset']} has none; they exist for "
                            f"{' and '.join(HUMAN_LABELS)}")
        if rate is not None:
            raise UserError(f"--rate does not apply to --noise {kind}: the human labels come with their own noise; "
                            f"leave --rate out and pick --human-label")
        cfg["human_label"] = cfg["human_label"] or HUMAN_DEFAULT[cfg["dataset"]]
        if cfg["human_label"] not in sets:
            raise UserError(f"--human-label {cfg['human_label']} is not a label set of {cfg['dataset']}"
                            f"{nearest(cfg['human_label'], sets)}; choose one of: {', '.join(sets)}")
        return
    if cfg["human_label"] is not None:
        raise UserError("--human-label only applies to --noise human and human-matched; add one, or leave it out")
    if kind == "none" and rate:  # a forgotten --noise would train a clean run under a noisy name's rate
        raise UserError(f"--rate {rate:g} needs a noise model, and --noise is none: add --noise sym (or asym, "
                        f"pairflip, uniform, idn), or leave --rate out for a clean run")
    if kind in RATED and rate is None:
        raise UserError(f"--noise {kind} needs --rate, the fraction of labels to flip (e.g. --rate 0.4)")
    cfg["rate"] = 0.0 if rate is None else rate
