"""Noisy labels as files: `--noise file --labels PATH` reads them, and every run writes its own (labels.npy).

The formats a user will have: a .npy or .npz array, a .pt array or tensor, a CSV of index and label, a JSON
list (DivideMix's noise files; the eps-softmax and LogitClip code bases ship their "dependent" noise so), or a
CIFAR-N style dict in a .pt (or .npz, .json) file, whose array --labels-key chooses. Every failure is one line
naming the file and what is wrong. Reading needs no torch unless a .pt file holds tensors.
"""
import csv
import io
import json
import os

import numpy as np

from .atomic import save_atomic
from .errors import UserError
from .fetch import unpickle

FORMATS = (".npy", ".npz", ".pt", ".pth", ".csv", ".json")


def check_format(path, flag="--labels"):
    if os.path.splitext(path)[1].lower() not in FORMATS:
        raise UserError(f"{flag} {path}: unknown format '{os.path.splitext(path)[1]}'; label files are "
                        f"{', '.join(FORMATS)}")


def check_path(path, flag="--labels"):
    """One line for a path that cannot be a label file: of a format not read here, missing, or a folder."""
    check_format(path, flag)
    if not os.path.isfile(path):
        raise UserError(f"{flag} {path}: no such file; give the path of a label file ({', '.join(FORMATS)})")


def _keys(obj):
    keys = list(map(str, obj))
    return ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")


def _pick(obj, key, path):
    """The array of a dict-like file: the one --labels-key names (a dict needs one unless it holds one array)."""
    if not isinstance(obj, dict):
        if key is not None:
            raise UserError(f"--labels-key {key}: {path} holds one array, not a dict of them; leave --labels-key out")
        return obj
    if key is None:
        if len(obj) == 1:
            return next(iter(obj.values()))
        raise UserError(f"{path} holds several entries ({_keys(obj)}); choose one with --labels-key")
    if key not in obj:
        raise UserError(f"--labels-key {key}: {path} has no such key; it has {_keys(obj)}")
    return obj[key]


def _csv(path):
    """index,label rows (a header line is skipped); every index of 0..N-1 exactly once."""
    with open(path, newline="", encoding="utf-8-sig") as f:  # a spreadsheet's byte-order mark is no header
        rows = [r for r in csv.reader(f) if r]
    if rows and not all(c.strip().lstrip("-").isdigit() for c in rows[0]):
        rows = rows[1:]  # a header
    if any(len(r) != 2 for r in rows):
        raise UserError(f"{path}: every CSV row must be two columns, index and label")
    try:
        idx, lab = (np.array([int(r[k]) for r in rows], dtype=np.int64) for k in (0, 1))
    except ValueError:
        raise UserError(f"{path}: the index and label columns must be whole numbers") from None
    if not np.array_equal(np.sort(idx), np.arange(len(idx))):
        raise UserError(f"{path}: the index column must hold each of 0..{len(idx) - 1} exactly once")
    out = np.empty_like(lab)
    out[idx] = lab
    return out


def _pt(path):
    try:
        return unpickle(path)  # numpy arrays, lists and dicts of them, as CIFAR-N's files hold
    except Exception:  # tensors: torch's own safe loader (numpy arrays beside tensors it refuses)
        import torch
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # torch's own message is many lines of advice to load it unsafely
            raise UserError(f"{path} holds neither numpy arrays alone nor tensors alone (or not as a label file "
                            f"holds them); save the labels as one array, or a dict of arrays, of one kind") from None


def _array(v):
    """A tensor (or a list of them) as numpy; anything else as it is."""
    if hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    if isinstance(v, (list, tuple)) and v and all(hasattr(t, "detach") for t in v):
        return np.array([t.item() for t in v])
    return v


def read(path, key=None):
    """The labels of a label file as int64 [N], or UserError naming what is wrong."""
    check_path(path)
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".csv":
            obj = _csv(path)
        elif ext == ".json":
            with open(path) as f:
                obj = json.load(f)
        elif ext in (".pt", ".pth"):
            obj = _pt(path)
        elif ext == ".npz":
            with np.load(path, allow_pickle=False) as z:
                obj = dict(z)
        else:
            obj = np.load(path, allow_pickle=False)
        a = np.asarray(_array(_pick(obj, key, path)))
        whole = np.issubdtype(a.dtype, np.integer) or (np.issubdtype(a.dtype, np.floating) and np.all(np.mod(a, 1) == 0))
        if whole and a.size and (a.min() < -2 ** 62 or a.max() > 2 ** 62):  # beyond int64: no class index
            raise UserError(f"{path} holds label {a.max() if a.max() > 2 ** 62 else a.min()}, no class index; "
                            f"use the file made for this data set")
    except UserError:
        raise
    except Exception as e:  # truncated, not of its format, pickled objects, tensors of another kind
        why = (str(e).splitlines() or [""])[0][:200]  # torch's own message runs to many lines
        raise UserError(f"cannot read {path} as {ext[1:]} labels ({type(e).__name__}: {why}); check the file") from None
    a = a.squeeze() if a.ndim == 2 and 1 in a.shape else a  # [N, 1], as some code bases save them
    if a.ndim != 1 or not whole:
        raise UserError(f"{path}: labels must be a 1-D array of whole numbers, got {a.dtype} of shape {a.shape}")
    return a.astype(np.int64)


def check(labels, clean, num_classes, path):
    """Refuse labels that do not fit the training set: another length or a class out of range."""
    if len(labels) != len(clean):
        raise UserError(f"{path} holds {len(labels)} labels but the training set has {len(clean)} images; use the "
                        f"file made for this training set")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise UserError(f"{path} holds label {bad}, outside 0..{num_classes - 1} of this data set's {num_classes} "
                        f"classes; use the file made for this data set")
    return labels


def save(run_dir, noisy, clean):
    """labels.npy (the noisy labels a run trains on, in training-set order) and clean_labels.npy beside it (none
    where clean is None: a real-world set's true labels are unknown)."""
    for name, a in (("labels.npy", noisy), ("clean_labels.npy", clean)):
        if a is None:
            continue
        buf = io.BytesIO()
        np.save(buf, np.asarray(a, dtype=np.int64))
        save_atomic(os.path.join(run_dir, name), lambda f: f.write(buf.getvalue()))
