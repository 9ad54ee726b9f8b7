"""Real subsets of the data sets, in their official file layout: `python data.py --dataset D --subset N --out DIR`.

A subset is the first images of each class, in the official order, N training images in all (N // C of each
class, one more for each of the first N % C classes; a smaller class gives all it has), and all of the test set or the same cut of it
(--test-subset M). It is written as the official files are (CIFAR pickles, MNIST's gzipped idx files), with the
matching CIFAR-N labels when asked, so `train.py --data-dir DIR` reads it as it reads the whole data set. Same
inputs, same bytes: the pickles hold plain values (numpy arrays, lists, strings), the gzip headers no time, and SHA256SUMS lists every file.
The folder is built under a temporary name and renamed into place, so a failure leaves nothing half-written.
"""
import gzip
import os
import pickle
import shutil
import struct
import tempfile

import numpy as np

from . import data
from .errors import UserError
from .fetch import checksum, unpickle

# The official training files of each pickle data set, in order, and its test file; the rest is copied as it is.
PICKLES = {"cifar10": (data.TRAIN_BATCHES, data.TEST_BATCH, "labels", ["batches.meta"]),
           "cifar100": (["train"], "test", "fine_labels", ["meta"])}


def publish(tmp, out):
    """SHA256SUMS of the finished folder tmp, then tmp renamed to out (an empty out, checked by the caller, replaced):
    the subset appears whole or not at all. Returns the number of files summed."""
    files = sums(tmp)
    os.chmod(tmp, 0o755)  # mkdtemp's 0700 would keep the folder from its group
    if os.path.isdir(out):
        os.rmdir(out)
    os.rename(tmp, out)
    return files


def first_per_class(y, n, num_classes, flag="--subset"):
    """Ascending indices of the first images of each class, n in all: n // C of each class, one more for each of
    the first n % C; a class with fewer images gives all it has, and the others share what it leaves."""
    if not 0 < n <= len(y):
        raise UserError(f"{flag} {n} must be between 1 and the {len(y)} images there are; choose one in that range")
    counts = np.bincount(y, minlength=num_classes)
    quota, left = np.zeros(num_classes, dtype=np.int64), n
    while left:
        room = np.flatnonzero(quota < counts)  # not empty: n <= len(y)
        share = left // len(room)
        if share == 0:  # fewer left than classes with room: one more each for the first of them
            quota[room[:left]] += 1
            break
        add = np.minimum(share, counts[room] - quota[room])
        quota[room] += add
        left -= int(add.sum())
    order = np.argsort(y, kind="stable")
    rank = np.empty(len(y), dtype=np.int64)  # rank[i]: how many images of i's class come before it
    rank[order] = np.arange(len(y)) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.flatnonzero(rank < quota[y])


def cut(d, idx, n):
    """A pickled dict with its per-image entries (lists and arrays of length n) cut to idx; the rest kept."""
    def one(v):
        if isinstance(v, np.ndarray) and len(v) == n:
            return v[idx]
        return [v[i] for i in idx] if isinstance(v, list) and len(v) == n else v
    return {k: one(v) for k, v in d.items()}


def write_pickle(path, obj):
    with open(path, "wb") as f:
        # Protocol 4, not the official files' 2: Python 3's protocol 2 spells bytes as latin1 text, 1.5 times larger.
        pickle.dump(obj, f, protocol=4)


def write_idx(path, a):
    """uint8 images [N, 1, 28, 28] or labels [N] as a gzipped idx file with no time or name in its header."""
    head = struct.pack(">IIII", 2051, len(a), 28, 28) if a.ndim > 1 else struct.pack(">II", 2049, len(a))
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(head + np.ascontiguousarray(a, dtype=np.uint8).tobytes())


def write_pickles(name, src, dst, train_idx, test_idx):
    """The official pickle files of src cut to the kept images: the training images spread over the same files."""
    trains, test, label_key, copied = PICKLES[name]
    parts = [unpickle(os.path.join(src, f)) for f in trains]
    sizes = [len(p[label_key]) for p in parts]
    whole = {k: (np.concatenate([p[k] for p in parts]) if isinstance(v, np.ndarray) else sum((p[k] for p in parts), [])
                 if isinstance(v, list) else v) for k, v in parts[0].items()}
    for f, chunk, p in zip(trains, np.array_split(train_idx, len(trains)), parts):
        part = cut(whole, chunk, sum(sizes))
        if "batch_label" in p:  # "training batch 3 of 5": each file keeps its own
            part["batch_label"] = p["batch_label"]
        write_pickle(os.path.join(dst, f), part)
    d = unpickle(os.path.join(src, test))
    write_pickle(os.path.join(dst, test), cut(d, test_idx, len(d[label_key])))
    for f in copied:
        if os.path.isfile(os.path.join(src, f)):
            shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))


def sums(folder):
    """SHA256SUMS: every file under folder, by its path relative to it, as sha256sum -c reads them."""
    files = sorted(os.path.relpath(os.path.join(r, f), folder) for r, _, fs in os.walk(folder) for f in fs)
    lines = [f"{checksum(os.path.join(folder, f), 'sha256')}  {f}\n" for f in files]
    with open(os.path.join(folder, "SHA256SUMS"), "w") as f:
        f.writelines(lines)
    return len(files)


def make(dataset, data_dir, out, n, test_n=None, human=False):
    """Write the subset to out (which must not exist, or be empty); returns a line saying what it holds."""
    spec = data.DATASETS[dataset]
    if human and spec.human is None:
        raise UserError(f"{spec.title} has no human labels; leave --human out")
    if os.path.abspath(out) == os.path.abspath(data_dir):
        raise UserError(f"--out {out} is the --data-dir the subset is cut from; give the subset its own folder")
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise UserError(f"--out {out} already exists and is not empty; choose a new folder, or delete it first")
    d = data.load(spec, data_dir)  # downloaded (and checked) first when missing
    table = data.load_human(spec, data_dir) if human else None
    C = spec.num_classes
    tr = first_per_class(d.y_train, n, C)
    te = np.arange(len(d.y_test)) if test_n is None else first_per_class(d.y_test, test_n, C, "--test-subset")
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(out))}.", dir=parent)
    try:
        if spec.folder:
            os.makedirs(os.path.join(tmp, spec.folder))
            write_pickles(dataset, data.locate(spec, data_dir, fetch=False), os.path.join(tmp, spec.folder), tr, te)
        else:
            for src, a in zip(spec.sources, (d.x_train[tr], d.y_train[tr], d.x_test[te], d.y_test[te])):
                write_idx(os.path.join(tmp, src.file), a)
        if table is not None:
            write_pickle(os.path.join(tmp, spec.human.file), {k: v[tr] for k, v in table.items()})
        files = publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return (f"{out}: {spec.title} subset, {len(tr)} training and {len(te)} test images"
            f"{', their CIFAR-N labels' if human else ''}, {files} files in SHA256SUMS; train on it with "
            f"--dataset {dataset} --data-dir {out}")
