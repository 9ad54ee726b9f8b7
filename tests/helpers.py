"""The tests' shared helpers (conftest.py keeps the pytest hooks and fixtures): where things are, the test switch,
small data sets made on the fly, the command lines and argument builders several test files use, generated runs.

Test files import from here (`from helpers import ...`), never from one another.
"""
import contextlib
import csv
import gzip
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from noisylabels.data import DATASETS, MNIST_FILES, TEST_BATCH, TRAIN_BATCHES

# --- Where things are ------------------------------------------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository
SHARED = os.path.join(ROOT, "..", "shared")  # the real subsets, beside the checkout (not in a clone)
T = os.path.join(ROOT, "train.py")
D = os.path.join(ROOT, "data.py")
E = os.path.join(ROOT, "evaluate.py")
P = os.path.join(ROOT, "plot.py")
G = os.path.join(ROOT, "run_grid.sh")
ARCHIVE, FOLDER = DATASETS["cifar10"].sources[0].file, DATASETS["cifar10"].folder


def shared(name):
    """The path of ../shared/<name>; the test is skipped where it is not beside this checkout."""
    path = os.path.join(SHARED, name)
    if not os.path.isdir(path):
        pytest.skip(f"../shared/{name} is not beside this checkout")
    return path


# --- The test switch -------------------------------------------------------------------------------------------

DEVICE, PRECISION = "cpu", "auto"  # set by conftest.py's pytest_configure from --device and --precision


def compute(device=None, precision=None):
    """train.py's --device and --precision for a test: the switch's, unless the test pins its own."""
    return ["--device", device or DEVICE, "--precision", precision or PRECISION]


# --- Data sets made on the fly -----------------------------------------------------------------------------------

def learnable_images(labels, rng):
    """uint8 rows [N, 3072]: each class has its own colour and stripe direction, plus pixel noise."""
    palette = np.random.default_rng(1234).integers(30, 226, size=(10, 3))  # the same in every batch
    yy, xx = np.mgrid[0:32, 0:32]
    x = np.empty((len(labels), 3, 32, 32), dtype=np.float64)
    for i, c in enumerate(labels):
        stripes = np.sin((xx * np.cos(c * 0.3) + yy * np.sin(c * 0.3)) * (0.4 + 0.05 * c))
        x[i] = palette[c][:, None, None] + 25 * stripes + rng.normal(0, 20, size=(3, 32, 32))
    return np.clip(x, 0, 255).astype(np.uint8).reshape(len(labels), 3072)


def write_cifar(root, per_batch=60, n_test=200, seed=0):
    """Write root/cifar-10-batches-py with 5 train batches of per_batch images and one test batch.

    Labels cycle through the 10 classes so every class is present; returns the folder path.
    """
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, FOLDER)
    os.makedirs(folder, exist_ok=True)
    for name, n in [(b, per_batch) for b in TRAIN_BATCHES] + [(TEST_BATCH, n_test)]:
        labels = rng.permutation(np.arange(n) % 10)
        d = {"batch_label": name, "labels": labels.tolist(), "data": learnable_images(labels, rng)}
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(d, f)
    return folder


def write_cifar100(root, n_train=300, n_test=200, seed=0):
    """Write root/cifar-100-python (train, test, meta) as the official archive lays it out.

    Fine labels cycle through the 100 classes; superclasses are a seeded scatter of 5 classes each,
    as the real ones are scattered over the alphabetical fine labels. Returns superclass_of [100].
    """
    rng = np.random.default_rng(seed)
    superclass_of = rng.permutation(np.arange(100) % 20)
    folder = os.path.join(root, DATASETS["cifar100"].folder)
    os.makedirs(folder, exist_ok=True)
    for name, n in [("train", n_train), ("test", n_test)]:
        fine = rng.permutation(np.arange(n) % 100)
        d = {"batch_label": name, "filenames": [f"{i}.png" for i in range(n)], "fine_labels": fine.tolist(),
             "coarse_labels": superclass_of[fine].tolist(), "data": learnable_images(fine % 10, rng)}
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(d, f)
    with open(os.path.join(folder, "meta"), "wb") as f:
        pickle.dump({"fine_label_names": [f"class{k}" for k in range(100)],
                     "coarse_label_names": [f"super{s}" for s in range(20)]}, f)
    return superclass_of


def idx_bytes(a, magic):
    """An idx file as MNIST's: a big-endian magic number, the dimensions, then the uint8 values."""
    return struct.pack(">" + "I" * (1 + a.ndim), magic, *a.shape) + a.astype(np.uint8).tobytes()


def mnist_files(n_train=300, n_test=200, seed=0):
    """{file name: gzipped bytes} of the four MNIST files, with learnable digits: each class its own bar."""
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in [("train", n_train), ("t10k", n_test)]:
        y = rng.permutation(np.arange(n) % 10)
        x = rng.normal(30, 20, size=(n, 28, 28))
        for i, c in enumerate(y):
            x[i, 2 + 2 * c: 5 + 2 * c, 4:24] += 180  # a horizontal bar whose height names the class
        out[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(np.clip(x, 0, 255), 2051))
        out[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(y, 2049))
    assert set(out) == set(MNIST_FILES)
    return out


def write_mnist(root, **kw):
    os.makedirs(root, exist_ok=True)
    for name, raw in mnist_files(**kw).items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(raw)
    return root


def human_table(clean, seed=0):
    """A CIFAR-10N-style table for training labels `clean`: each label set flips its own share of them."""
    rng = np.random.default_rng(seed)
    table = {"clean_label": np.asarray(clean, dtype=np.int64)}
    for key, rate in [("aggre_label", 0.1), ("worse_label", 0.4), ("random_label1", 0.2), ("random_label2", 0.2),
                      ("random_label3", 0.2)]:
        flip = rng.random(len(clean)) < rate
        table[key] = np.where(flip, (table["clean_label"] + rng.integers(1, 10, len(clean))) % 10, clean)
    return table


def make_archive(path, src_root, folder=FOLDER):
    """Pack src_root/<folder> (CIFAR-10's by default) into a .tar.gz at path, as the official archives are laid out."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(os.path.join(src_root, folder), arcname=folder)
    with open(path, "rb") as f:
        return f.read()


def pickle_bytes(obj):
    buf = io.BytesIO()
    pickle.dump(obj, buf)
    return buf.getvalue()


# --- Runs and command lines --------------------------------------------------------------------------------------

def run_args(cifar_dir, out, *extra, device=None):
    """A 4-epoch cnn4 run (the run is tested, not the network); on the test switch's device, or on `device` (the
    failure tests stay on the CPU)."""
    return ["--data-dir", cifar_dir, "--out", str(out), "--arch", "cnn4", "--epochs", "4", "--batch-size", "32",
            "--noise", "sym", "--rate", "0.2", *compute(device), *extra]


def cli(script, *argv, cwd=None, env=None, timeout=300):
    """A script of the repository (run_grid.sh through bash) in its own process; the CompletedProcess."""
    cmd = ["bash", script] if script.endswith(".sh") else [sys.executable, script]
    return subprocess.run(cmd + list(argv), capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, **(env or {})})


def in_process(main, argv, cwd, *args):
    """A script's main(argv, *args) in this process, in cwd: a CompletedProcess of its exit status, stdout and stderr,
    as its own process would give them (a refusal is errors.die's one line on stderr and exit 2; anything else that
    goes wrong raises here, as it would print a traceback there). Where the process itself is what is tested, the
    tests start one."""
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv), *args) or 0
    except SystemExit as x:
        code = x.code
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess([getattr(main, "__module__", "main"), *argv], code, out.getvalue(),
                                       err.getvalue())


def grid_list(cwd, *flags, **env):
    """run_grid.sh FLAGS --list in cwd, with only PATH, PYTHON, GPUS=0 and env in its environment: (returncode,
    stdout, stderr) as its process would give them.

    In this process: run_grid.sh execs `python -m noisylabels.grid` with its arguments, and grid.main takes the
    environment as a dict; the bash around it is test_grid.py's (a missing or mistyped Python, no numpy, no torch).
    """
    from noisylabels import grid
    e = {"PATH": os.environ["PATH"], "PYTHON": sys.executable, "GPUS": "0", **env}
    return in_process(grid.main, [*flags, "--list"], cwd, e)


def snapshot(root):
    """Every file and folder below root with its size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st_ = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st_.st_size, st_.st_mtime_ns)
    return out


def interrupt_after_epoch(monkeypatch, argv, epoch=1):
    """train.run(argv) until epoch `epoch`'s last.pt is saved, then stopped as a kill there would stop it.

    The kill lands before best.pt of that epoch: resuming must restore that too.
    """
    from noisylabels import config
    from noisylabels import train
    save, saved = train.save_torch, []

    def save_then_die(path, obj):
        save(path, obj)
        if path.endswith("last.pt"):
            saved.append(path)
            if len(saved) == epoch:
                raise KeyboardInterrupt

    monkeypatch.setattr(train, "save_torch", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train.run(config.parse_args(argv))
    monkeypatch.setattr(train, "save_torch", save)


# --- Generated runs, for plot.py -------------------------------------------------------------------------------

PLOT_LOSSES = ["ce", "fl", "nce", "nfl", "nce+mae", "nfl+mae"]


def rate_of(setting):
    return {"human-aggre": 0.09, "human-worse": 0.4}.get(setting) or float(setting.split("-")[1])


def accuracy(setting, loss, seed, last):
    """A made-up but distinct test accuracy for every cell, seed and model choice."""
    rate = rate_of(setting)
    return round(0.9 - rate * (0.5 if loss == "ce" else 0.2) + 0.01 * PLOT_LOSSES.index(loss) + 0.02 * seed
                 - (0.05 if last else 0), 6)


def write_run(root, setting, loss, seed, epochs=3, finished=True, dataset="cifar10", cfg=None):
    """A generated run; dataset None writes the layout of runs from before 2026-12-01 (no data set folder)."""
    from noisylabels import train
    d = os.path.join(root, *([dataset] if dataset else []), setting, loss, f"seed{seed}")
    os.makedirs(d)
    with open(os.path.join(d, "log.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, train.LOG_COLUMNS)
        w.writeheader()
        for e in range(1, epochs + 1):
            w.writerow({c: e if c == "epoch" else round(0.1 * e + 0.01 * seed, 4) for c in train.LOG_COLUMNS})
    rate, C = rate_of(setting), 100 if dataset == "cifar100" else 10
    T_ = (1 - rate) * np.eye(C) + rate / (C - 1) * (1 - np.eye(C))
    rec = {"transition_matrix": T_.tolist(), "realised_rate": rate}
    if dataset == "cifar100":
        rec.update(classes=[f"class{k}" for k in range(100)], superclass_of=[k % 20 for k in range(100)],
                   superclasses=[f"super{s}" for s in range(20)])
    json.dump(rec, open(os.path.join(d, "noise.json"), "w"))
    json.dump({"arch": "cnn8", **({"dataset": dataset} if dataset else {}), **(cfg or {})},
              open(os.path.join(d, "config.json"), "w"))
    if finished:
        json.dump({"test_acc_best": accuracy(setting, loss, seed, False),
                   "test_acc_last": accuracy(setting, loss, seed, True)}, open(os.path.join(d, "result.json"), "w"))
