"""Interrupted, crashed or misused: kill -9 and resume, failures in a run, bad input through the CLIs, fuzzing."""
import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from noisylabels import atomic
from noisylabels import config
from noisylabels import data
from noisylabels import datasets
from noisylabels import engine
from noisylabels import evaluate
from noisylabels import losses
from noisylabels import noise
from noisylabels import plot
from noisylabels import rundata
from noisylabels import train
from noisylabels.model import make_model
from helpers import D, E, G, P, T, cli, interrupt_after_epoch, pickle_bytes, run_args, snapshot, write_cifar


def whole_files(run):
    """Every file a killed run left is whole: complete CSV rows, loadable checkpoints and JSON."""
    for name in os.listdir(run):
        path = os.path.join(run, name)
        if name == "log.csv":
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
            assert rows[0] == train.LOG_COLUMNS and all(len(r) == len(train.LOG_COLUMNS) for r in rows)
        elif name.endswith(".pt"):
            torch.load(path, weights_only=True)
        elif name.endswith(".json"):
            json.load(open(path))
        elif name.endswith(".npy"):
            assert np.load(path).ndim == 1


# --- Interruption ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference(tiny_cifar_dir, tmp_path_factory):
    """The uninterrupted run that the killed-and-resumed run must reproduce, and its training time.

    100 training images: 2 steps an epoch, so a kill lands in any part of a run, not mostly in one step."""
    out = tmp_path_factory.mktemp("ref")
    run = train.run(config.parse_args(run_args(tiny_cifar_dir, out)))
    return run, json.load(open(os.path.join(run, "result.json")))["wall_seconds"]


def claimed_by(run, pid):
    try:
        return json.load(open(os.path.join(run, "claim.json")))["pid"] == pid
    except (OSError, ValueError, KeyError):
        return False


@pytest.mark.slow
@pytest.mark.gpu
def test_kill_9_at_three_random_moments_then_resume_is_identical(reference, tiny_cifar_dir, tmp_path):
    """Killed with SIGKILL three times, each at a random moment of a process's training (a step, a save, an eval),
    the last two in processes that had resumed the killed one and taken over its stale claim; then resumed to the
    end: the same rows, result and weights as the unbroken run, every file whole after each kill."""
    cifar_dir, (ref, seconds) = tiny_cifar_dir, reference
    argv = run_args(cifar_dir, tmp_path, "--resume")  # --resume on no run starts it
    run = config.run_dir(config.parse_args(argv))
    rng, kills, tries, killed = random.Random(1), 0, 0, None
    delay = rng.uniform(0.05, 0.85) * seconds / 3  # a third of the run at most per process: 3 kills before the end
    while kills < 3 and tries < 8:
        tries += 1
        if killed:  # the killed process's claim is left behind, naming a dead pid: the next process takes it over
            assert json.load(open(os.path.join(run, "claim.json")))["pid"] == killed
        p = subprocess.Popen([sys.executable, T, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not claimed_by(run, p.pid) and p.poll() is None:
            time.sleep(0.01)  # training starts once the process holds the run
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        if os.path.exists(os.path.join(run, "result.json")):  # this process finished before its kill
            if kills:
                break  # a resumed process ran faster than the reference did: fewer kills, the same verdict
            shutil.rmtree(run)  # the first kill came after the end: again, killed earlier
            delay /= 2
            continue
        kills, killed = kills + 1, p.pid
        whole_files(run)
        delay = rng.uniform(0.05, 0.85) * seconds / 3
    assert kills  # at least the first kill came before the end
    r = subprocess.run([sys.executable, T, *argv], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    strip = lambda rows: [row[:-1] for row in rows]  # noqa: E731  (the seconds column)
    logs = [strip(list(csv.reader(open(os.path.join(d, "log.csv"))))) for d in (run, ref)]
    assert logs[0] == logs[1]
    a, b = (json.load(open(os.path.join(d, "result.json"))) for d in (run, ref))
    assert {k: a[k] for k in a if k not in ("wall_seconds", "command")} == \
        {k: b[k] for k in b if k not in ("wall_seconds", "command")}
    wa, wb = (torch.load(os.path.join(d, "best.pt"), weights_only=True)["model"] for d in (run, ref))
    assert all(torch.equal(wa[k], wb[k]) for k in wb)
    assert not [f for f in os.listdir(run) if f.endswith(".tmp")]
    assert not os.path.exists(os.path.join(run, "claim.json"))  # the last claim taken over is released


@pytest.mark.slow
@pytest.mark.gpu
def test_force_applies_changed_settings_records_them_and_resumes_again(monkeypatch, tiny_cifar_dir, tmp_path):
    cifar_dir = tiny_cifar_dir  # 100 images: the settings and their record are tested, not what the run learns
    interrupt_after_epoch(monkeypatch, run_args(cifar_dir, tmp_path, "--epochs", "3"))
    with pytest.raises(SystemExit) as e:
        train.main(run_args(cifar_dir, tmp_path, "--epochs", "3", "--resume", "--lr", "0.001"))
    assert "different values (lr 0.01 -> 0.001)" in e.value.message and "--force" in e.value.message
    with pytest.raises(SystemExit) as e:
        train.main(run_args(cifar_dir, tmp_path, "--epochs", "3", "--resume", "--arch", "resnet18", "--force"))
    assert "--force cannot change arch" in e.value.message
    # Forced to lr 0.001 after epoch 1, then stopped again after epoch 2.
    interrupt_after_epoch(monkeypatch, run_args(cifar_dir, tmp_path, "--epochs", "3", "--resume", "--lr", "0.001",
                                                  "--force"))
    with pytest.raises(SystemExit) as e:  # 2 epochs are done: the run cannot end after 1
        train.main(run_args(cifar_dir, tmp_path, "--epochs", "1", "--resume", "--lr", "0.001", "--force"))
    assert "--epochs 1 is fewer than the 2 epochs" in e.value.message and "\n" not in e.value.message
    # The same flags again resume without --force: the earlier change is history, not a difference.
    run = train.run(config.parse_args(run_args(cifar_dir, tmp_path, "--epochs", "3", "--resume", "--lr", "0.001")))
    cfg = json.load(open(os.path.join(run, "config.json")))
    assert cfg["lr"] == 0.001 and cfg["facts"]["forced"] == [{"after_epoch": 1, "changed": {"lr": [0.01, 0.001]}}]
    lrs = [float(r[train.LOG_COLUMNS.index("lr")]) for r in list(csv.reader(open(os.path.join(run, "log.csv"))))[1:]]
    # Cosine over 3 epochs, 0.01 for epoch 1, then as if 0.001 had held from the start: 0.001 (1 + cos(pi e/3)) / 2.
    assert lrs == pytest.approx([0.01, 0.00075, 0.00025], rel=1e-5)


# --- Failures during a run ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_nan_loss_names_epoch_and_batch_and_keeps_the_last_good_checkpoint(monkeypatch, cifar_dir, tmp_path):
    make = engine.model_for

    def nan_at_epoch_2_batch_3(arch, spec):
        """The run's network, whose logits (so the loss) turn NaN in one training step; a hook, not a wrapper, so the
        checkpoints hold the network's own weights."""
        model, calls = make(arch, spec), []

        def poison(module, inputs, logits):
            if module.training:  # a training step, not evaluation
                calls.append(1)
                # 256 training images in batches of 32: 8 steps per epoch, so step 11 is epoch 2, batch 3.
                return logits * float("nan") if len(calls) == 11 else logits
        model.register_forward_hook(poison)
        return model

    monkeypatch.setattr(engine, "model_for", nan_at_epoch_2_batch_3)
    with pytest.raises(SystemExit) as e:
        train.main(run_args(cifar_dir, tmp_path, device="cpu"))
    msg = e.value.message
    assert "epoch 2, batch 3" in msg and "--lr" in msg and "last.pt still holds epoch 1" in msg and "\n" not in msg
    run = config.run_dir(config.parse_args(run_args(cifar_dir, tmp_path, device="cpu")))
    assert torch.load(os.path.join(run, "last.pt"), weights_only=True)["epoch"] == 1
    assert torch.load(os.path.join(run, "best.pt"), weights_only=True)["epoch"] == 1
    assert len(list(csv.reader(open(os.path.join(run, "log.csv"))))) == 2  # header and epoch 1
    assert not os.path.exists(os.path.join(run, "result.json"))


def test_out_of_memory_suggests_a_smaller_batch(monkeypatch, cifar_dir, tmp_path):
    def oom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(rundata, "train_epoch", oom)  # what the in-memory split's epochs call
    with pytest.raises(SystemExit) as e:
        train.main(run_args(cifar_dir, tmp_path, device="cpu"))
    assert e.value.message.startswith("error: out of GPU memory at --batch-size 32; start again with "
                                        "--batch-size 16")


@pytest.mark.slow
def test_disk_full_mid_run_keeps_every_earlier_file(monkeypatch, tiny_cifar_dir, tmp_path):
    cifar_dir = tiny_cifar_dir  # 100 images: two epochs' files are tested, not what the run learns
    save, n = train.save_torch, []

    def full_on_second_last_pt(path, obj):
        if path.endswith("last.pt"):
            n.append(1)
            if len(n) == 2:  # epoch 2's checkpoint meets a full disk: its bytes go to /dev/full, the real ENOSPC
                with open("/dev/full", "wb") as full:
                    return atomic.save_atomic(path, lambda f: (os.dup2(full.fileno(), f.fileno()), f.write(b"x")))
        return save(path, obj)

    monkeypatch.setattr(train, "save_torch", full_on_second_last_pt)
    with pytest.raises(SystemExit) as e:
        train.main(run_args(cifar_dir, tmp_path, device="cpu"))
    msg = e.value.message
    assert re.match(r"error: cannot write \S+last\.pt \(No space left on device\); free some disk space", msg)
    run = config.run_dir(config.parse_args(run_args(cifar_dir, tmp_path, device="cpu")))
    assert torch.load(os.path.join(run, "last.pt"), weights_only=True)["epoch"] == 1
    whole_files(run)
    assert sorted(os.listdir(run)) == ["best.pt", "clean_labels.npy", "config.json", "labels.npy", "last.pt", "log.csv",
                                       "noise.json"]


def test_ctrl_c_inside_a_checkpoint_s_write_stays_a_ctrl_c_and_leaves_no_file(tmp_path):
    # torch.save reports an exception from its file's write as a RuntimeError; a Ctrl-C there must reach train.py's
    # main as the KeyboardInterrupt it is (one line, exit 130), with nothing half-written left behind
    class Interrupted:
        def __init__(self, f):
            self.f, self.writes = f, 0

        def write(self, b):
            self.writes += 1
            if self.writes == 3:
                raise KeyboardInterrupt
            return self.f.write(b)

        def __getattr__(self, name):
            return getattr(self.f, name)

    path = tmp_path / "last.pt"
    with pytest.raises(KeyboardInterrupt):
        atomic.save_atomic(str(path), lambda f: torch.save({"w": torch.zeros(1000, 100)}, Interrupted(f)))
    assert os.listdir(tmp_path) == []


def test_unwritable_results_folder_is_one_line(cifar_dir, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(SystemExit) as e:  # train.py's main, as its process runs it
        train.main(run_args(cifar_dir, tmp_path / "file" / "results", device="cpu"))
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err and err.count("\n") == 1
    assert "Not a directory" in err and "make --out writable, or give another --out" in err
    assert err.rstrip().endswith("then run the same command again (no epoch of this run was saved)")  # no --resume


def test_an_unwritable_data_dir_names_it_and_a_run_that_saved_an_epoch_says_resume(cifar_dir, tmp_path):
    cfg = config.parse_args(run_args(cifar_dir, tmp_path, device="cpu"))
    e = OSError(13, "Permission denied", os.path.join(cifar_dir, "cifar-10-python.tar.gz"))
    assert train.cannot_write(e, cfg) == (f"cannot write {e.filename} (Permission denied); make --data-dir writable, "
                                          f"or give another --data-dir, then run the same command again (no epoch of "
                                          f"this run was saved)")
    os.makedirs(config.run_dir(cfg))
    open(os.path.join(config.run_dir(cfg), "last.pt"), "w").close()
    e = OSError(28, "No space left on device", os.path.join(config.run_dir(cfg), "last.pt"))
    assert train.cannot_write(e, cfg).endswith("free some disk space, then run the same command with --resume; the "
                                               "files already written are intact")


# --- Bad input, through the real command lines -----------------------------------------------------------------

def corrupt(tmp, what):
    """Prepare tmp/data for one bad-input case; returns the --data-dir."""
    d = tmp / "data"
    if what == "archive":
        d.mkdir()
        (d / data.DATASETS["cifar10"].sources[0].file).write_bytes(b"\x1f\x8b" + os.urandom(500))
        return str(d)
    folder = write_cifar(str(d), per_batch=10, n_test=10)
    path = os.path.join(folder, "data_batch_2")
    if what == "truncated":
        content = open(path, "rb").read()[:3000]
    else:
        content = pickle_bytes({"weights": [0.1, 0.2], "note": "not CIFAR"})
    open(path, "wb").write(content)
    return str(d)


def other_arch_checkpoint(tmp):
    run = tmp / "run"
    run.mkdir()
    cfg = {**config.parse_args(["--arch", "cnn8", "--eval-batch-size", "64"]), "facts": {"precision_used": "fp32"}}
    torch.save({"model": make_model("resnet18").state_dict(), "config": {**cfg, "arch": "cnn8", "eval_batch_size": 64,
                                                                          "deterministic": True}, "epoch": 1},
               run / "best.pt")
    return str(run)


def own(tmp, kind):
    """A small folder data set in tmp/own with one thing wrong (kind), or an .npz of float images ("npz")."""
    from PIL import Image
    root = tmp / "own"
    if kind == "npz":
        np.savez(tmp / "own.npz", x_train=np.zeros((4, 8, 8), np.float32), y_train=np.zeros(4, int),
                 x_test=np.zeros((2, 8, 8), np.float32), y_test=np.zeros(2, int))
        return str(tmp / "own.npz")
    files = {"train/a": 1 if kind == "ones" else 10, "train/b": 1 if kind == "ones" else 10, "test/a": 2,
             "test/c" if kind == "extra-test" else "test/b": 2}
    for where, n in files.items():
        os.makedirs(root / where)
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(root / where / f"{i}.png")
    if kind == "empty":
        os.makedirs(root / "train" / "d")
    if kind == "bad":
        (root / "train" / "a" / "notes.png").write_text("not an image")
    if kind == "notrain":
        shutil.rmtree(root / "train")
    return str(root)


OFFLINE = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}  # refused at once

BAD = [  # (script, arguments, message) ; {cifar} {tmp} are filled in
    (T, ["--loss", "huber"], r"unknown loss 'huber' \(did you mean phuber-ce\?\); choose one of"),
    (T, ["--noise", "gaussian"], r"argument --noise: invalid choice: 'gaussian'.*see train.py --help"),
    (T, ["--noise", "smy", "--rate", "0.2"], r"invalid choice: 'smy'.*\(did you mean sym\?\); see train.py --help"),
    (T, ["--lsos", "ce"], r"unrecognized arguments: --lsos ce \(did you mean --loss\?\)"),
    (T, ["--loss", "nce+rcee"], r"unknown loss 'nce\+rcee' \(did you mean nce\+rce\?\)"),
    (T, ["--dataset", "mnsit"], r"invalid choice: 'mnsit'.*\(did you mean mnist\?\)"),
    (T, ["--rate", "0.5"], r"--rate 0.5 needs a noise model, and --noise is none: add --noise sym \(or asym, pairflip"),
    (T, ["--noise", "asym"], r"--noise asym needs --rate, the fraction of labels to flip"),
    (T, ["--dataset", "mnist", "--data-dir", "{cifar}"], r"holds CIFAR-10's files, not MNIST's; add --dataset cifar10"),
    (T, ["--arch", "vgg"], r"argument --arch: invalid choice: 'vgg'"),
    (T, ["--noise", "sym", "--rate", "-0.1"], r"--rate must be in \[0, 1\], got -0.1"),
    (T, ["--noise", "sym", "--rate", "1.5"], r"--rate must be in \[0, 1\], got 1.5"),
    (T, ["--epochs", "0"], r"--epochs must be at least 1, got 0"),
    (T, ["--epochs", "-3"], r"--epochs must be at least 1, got -3"),
    (T, ["--batch-size", "0"], r"--batch-size must be at least 1, got 0"),
    (T, ["--val-fraction", "-0.1"], r"--val-fraction must be in \[0, 1\), got -0.1"),
    (T, ["--val-fraction", "1.2"], r"--val-fraction must be in \[0, 1\), got 1.2"),
    (T, ["--val-fraction", "0", "--clean-val"], r"--clean-val needs a validation split, and --val-fraction is 0"),
    (T, ["--data-dir", "{tmp}/nowhere"], r"--data-dir \S+nowhere does not exist; fix the path, or create it"),
    (T, ["--data-dir", "corrupt:archive"], r"cifar-10-python.tar.gz has md5 \w+, expected \w+; delete it"),
    (T, ["--data-dir", "corrupt:truncated"], r"cannot read \S+data_batch_2 as a CIFAR-10 batch"),
    (T, ["--data-dir", "corrupt:other"], r"cannot read \S+data_batch_2 as a CIFAR-10 batch \(KeyError"),
    (T, ["--dataset", "folder", "--data-dir", "own:empty"], r"\S+own/train/d/ holds no images; add some, or remove the "
                                                           r"folder"),
    (T, ["--dataset", "folder", "--data-dir", "own:bad"], r"Pillow cannot open \S+notes.png as an image; remove it, or add "
                                                         r"--skip-bad-images"),
    (T, ["--dataset", "folder", "--data-dir", "own:extra-test"], r"\S+own/test/c/ is a class that \S+own/train/ does not "
                                                                r"have; add its training images"),
    (T, ["--dataset", "folder", "--data-dir", "own:ones"], r"--val-fraction 0.15 asks for a validation split, and no "
                                                          r"class has two images \(by its noisy labels\)"),
    (T, ["--dataset", "folder", "--data-dir", "own:notrain"], r"\S+own has no train/ folder; --dataset folder reads"),
    (T, ["--dataset", "folder", "--data-dir", "own:ok", "--noise", "asym", "--rate", "0.2"],
     r"--noise asym needs a class map of cifar10, cifar100 or mnist, and --dataset folder has none; use pairflip"),
    (T, ["--dataset", "npz", "--data-dir", "own:npz"], r"own.npz: x_train is float32; store the images as uint8"),
    (T, ["--clean-labels", "clean.npy"], r"--clean-labels applies to --dataset folder or npz only, not cifar10"),
    (T, ["--image-size", "64"], r"--image-size applies to --dataset folder or a real-world set only, not cifar10"),
    (D, ["--subset", "100"], r"--subset N and --out DIR go together"),
    (D, ["--data-dir", "{cifar}", "--subset", "100000", "--out", "{tmp}/sub"], r"--subset 100000 must be between 1 and "
                                                                              r"the 300 images there are"),
    (E, ["{tmp}"], r"no checkpoint at \S+best.pt; give a run directory that holds best.pt"),
    (E, ["other-arch"], r"the weights in \S+best.pt do not fit its architecture 'cnn8'"),
    (P, ["{tmp}"], r"no runs found in \S+; expected <dataset>/<noise>-<rate>/<loss>/seed<seed>/log.csv"),
    (G, ["--losses", "ce nce+ce", "--epochs", "1"], r"grid point \(.*--loss nce\+ce .*\): unknown loss 'nce\+ce'"),
    (G, ["--study", "ma2020-cifar1O", "--list"], r"unknown study 'ma2020-cifar1O'; choose one of: .* \(did you mean "
                                                r"ma2020-cifar10\?\)"),
]


# Through a real process: one case of each script and both of run_grid.sh's, whose refusal is bash's and grid.py's.
# The others through the script's main in this process: a refusal there is what its process prints and exits with
# (errors.die: one line on stderr, exit 2), and a Traceback would be an exception other than SystemExit.
PROCESS = {(T, "--loss huber"), (T, "--data-dir corrupt:archive"), (D, "--subset 100"), (E, "{tmp}"), (P, "{tmp}")}
MAINS = {T: train.main, D: datasets.main, E: evaluate.main, P: plot.main}


def bad_case(cifar_dir, tmp, argv, script):
    """The sandbox prepared for one row of BAD, and the row's arguments filled in."""
    argv = [a.format(tmp=tmp, cifar=cifar_dir) for a in argv]
    argv = [corrupt(tmp, a.split(":")[1]) if a.startswith("corrupt:") else a for a in argv]
    argv = [other_arch_checkpoint(tmp) if a == "other-arch" else a for a in argv]
    argv = [own(tmp, a.split(":")[1]) if a.startswith("own:") else a for a in argv]
    if script == T:
        argv = ["--arch", "cnn8", "--device", "cpu", "--data-dir", cifar_dir] + argv  # later flags win
    return argv


def assert_one_line_refusal(code, err, message):
    assert code == 2, err  # every script's refusal
    *progress, last = err.splitlines()
    # One line of error; only a download may say what it tries before giving up.
    assert "Traceback" not in err and last.startswith("error: "), err
    assert all(line.startswith(("downloading ", "download failed (")) for line in progress), err
    assert re.search(message, last), err


IN_PROCESS = [b for b in BAD if b[0] != G and (b[0], " ".join(b[1])) not in PROCESS]
BY_PROCESS = [b for b in BAD if b not in IN_PROCESS]
ids = lambda rows: [f"{os.path.basename(s)} {' '.join(a)}" for s, a, _ in rows]  # noqa: E731


@pytest.mark.parametrize("script, argv, message", IN_PROCESS, ids=ids(IN_PROCESS))
def test_bad_input_is_one_line_nothing_written(cifar_dir, tmp_path, monkeypatch, capsys, script, argv, message):
    tmp = tmp_path / "sandbox"
    tmp.mkdir()
    argv = bad_case(cifar_dir, tmp, argv, script)
    before = snapshot(tmp)
    monkeypatch.chdir(tmp)
    for k, v in OFFLINE.items():
        monkeypatch.setenv(k, v)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        MAINS[script](argv)
    assert_one_line_refusal(e.value.code, capsys.readouterr().err, message)
    assert snapshot(tmp) == before  # no new or changed file, not even an empty results or data folder


@pytest.mark.slow
@pytest.mark.parametrize("script, argv, message", BY_PROCESS, ids=ids(BY_PROCESS))
def test_bad_input_through_the_command_line_is_one_line_nothing_written(cifar_dir, tmp_path, script, argv, message):
    tmp = tmp_path / "sandbox"
    tmp.mkdir()
    argv = bad_case(cifar_dir, tmp, argv, script)
    before = snapshot(tmp)
    p = cli(script, *argv, cwd=str(tmp), env={**OFFLINE, "PYTHON": sys.executable, "RESULTS": str(tmp / "results")})
    assert_one_line_refusal(p.returncode, p.stderr, message)
    assert snapshot(tmp) == before  # no new or changed file, not even an empty results or data folder


# --- Fuzzing ---------------------------------------------------------------------------------------------------

DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.float32, np.float64, np.bool_]


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 60), dtype=st.sampled_from(DTYPES), C=st.integers(-2, 12), lo=st.integers(-3, 3),
       kind=st.sampled_from(list(noise.KINDS) + ["gaussian", ""]), seed=st.integers(0, 2**32),
       rate=st.one_of(st.floats(-1, 2), st.sampled_from([float("nan"), float("inf"), 0.0, 1.0])),
       ndim=st.sampled_from([1, 1, 1, 2]))
def test_fuzz_noise_only_raises_value_errors(n, dtype, C, lo, kind, seed, rate, ndim):
    labels = (np.arange(n) % max(C, 1) + lo).astype(dtype)
    if ndim == 2:
        labels = labels.reshape(1, -1)
    try:
        y, T = noise.make_noisy_labels(labels, kind, rate, seed, num_classes=C)
    except ValueError as e:
        assert str(e)
        return
    clean = labels.astype(np.int64)
    assert y.shape == clean.shape and ((0 <= y) & (y < C)).all() and T.shape == (C, C)
    flips = (y != clean).sum()
    if kind == "sym":
        assert flips == sum(round(rate * (clean == c).sum()) for c in range(C))
    if kind == "none" or rate == 0:
        assert flips == 0


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(losses.NAMES), B=st.integers(0, 6), C=st.integers(0, 12), lo=st.integers(-2, 2),
       dtype=st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64]),
       ldtype=st.sampled_from([torch.int64, torch.int32, torch.uint8, torch.float32, torch.bool]),
       shape=st.sampled_from(["ok", "ok", "ok", "1d", "3d", "short"]), seed=st.integers(0, 1000))
def test_fuzz_losses_only_raise_value_errors(name, B, C, lo, dtype, ldtype, shape, seed):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(B, C, generator=g) * 20).to(dtype)
    labels = (torch.arange(B) % max(C, 1) + lo).to(ldtype)
    logits = {"1d": logits.flatten(), "3d": logits[None]}.get(shape, logits)
    labels = labels[:-1] if shape == "short" else labels
    try:
        loss = losses.get_loss(name, num_classes=C)(logits, labels)
    except ValueError as e:
        assert str(e)
        return
    assert loss.dtype in (torch.float32, torch.float64) and loss.ndim == 0 and torch.isfinite(loss)
