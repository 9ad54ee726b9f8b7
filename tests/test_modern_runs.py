"""The 2017-2025 baselines through the command line: out-of-range values refused in one line, values that follow
the data set and the noise, ELR and sparse regularisation killed and resumed exactly, the modern study's grid."""
import csv
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from noisylabels import config
from conftest import compute, write_cifar
from noisylabels.errors import UserError

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository


@pytest.mark.parametrize("argv, message", [
    (["--loss", "phuber-ce", "--tau", "1"], r"--tau must be > 1 for phuber-ce, got 1"),
    (["--loss", "js", "--pi", "1"], r"--pi must be in \(0, 1\) for js, got 1"),
    (["--loss", "gjs", "--pi", "-0.1"], r"--pi must be in \(0, 1\) for gjs"),
    (["--loss", "ece+mae", "--m", "0"], r"--m must be > 0, got 0"),
    (["--loss", "elr", "--beta", "1"], r"--beta must be in \[0, 1\) for elr, got 1"),
    (["--loss", "ls", "--t", "-0.1"], r"--t must be in \[0, 1\) for ls"),
    (["--loss", "nls", "--t", "0.1"], r"--t must be < 0 for nls"),
    (["--loss", "taylor-ce", "--order", "0"], r"--order must be a whole number >= 1 for taylor-ce"),
    (["--loss", "gjs", "--M", "1", "--augment"], r"--M must be a whole number >= 2 for gjs"),
    (["--loss", "gjs", "--no-augment"], r"gjs with --M 3 reads 2 augmented views .* add --augment"),
    (["--loss", "ldr-kl", "--lamb", "0"], r"--lamb must be > 0 for ldr-kl"),
    (["--loss", "ce", "--logit-clip", "0"], r"--logit-clip must be > 0, got 0"),
    (["--loss", "ce", "--sr", "0.5,0.1,1"], r"--sr must be tau,p,lambda,rho\[,freq\]"),
    (["--loss", "ce", "--sr", "a,b"], r"argument --sr: 'a,b' is not numbers separated by commas"),
    (["--loss", "ce+lc", "--sr", "0.5,0.1,1,1"], r"--sr and --loss ce\+lc each set the logits' norm; choose one"),
    (["--loss", "ce+lc+sr"], r"wraps its logits 2 times"),
    (["--loss", "ce", "--no-sr-normalise"], r"--sr-normalise and --no-sr-normalise apply to sparse regularisation"),
    (["--loss", "ce", "--pi", "0.5"], r"--pi does not apply to the loss 'ce'"),
    (["--loss", "mse", "--beta", "0.5"], r"--beta does not apply to the loss 'mse'"),
])
def test_out_of_domain_values_are_one_line(argv, message, tmp_path):
    # In-process, as train.py's main reads them (UserError: one line, exit 2); two go through the command line too.
    with pytest.raises(UserError) as e:
        cfg = config.parse_args([*argv, "--out", str(tmp_path)])
        config.check(cfg)
    assert re.search(message, str(e.value)) and "\n" not in str(e.value), str(e.value)
    if argv[1] in ("phuber-ce", "ce+lc+sr"):
        r = subprocess.run([sys.executable, os.path.join(HERE, "train.py"), *argv, "--out", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr and re.search(message, r.stderr) and not os.listdir(tmp_path)


def test_a_wrap_flag_names_the_run_and_the_values_follow_the_noise():
    cfg = config.parse_args(["--loss", "ce", "--logit-clip", "2", "--noise", "sym", "--rate", "0.4"])
    assert cfg["loss"] == "ce+lc" and cfg["logit_clip"] == 2.0 and config.run_dir(cfg).endswith("ce+lc/seed42")
    lc = lambda *a: config.parse_args(["--loss", "ce+lc", *a])["logit_clip"]  # noqa: E731
    assert (lc(), lc("--noise", "sym", "--rate", "0.4"), lc("--noise", "sym", "--rate", "0.6")) == (1.0, 1.0, 1.5)
    assert lc("--noise", "asym", "--rate", "0.2") == 2.5 and lc("--dataset", "cifar100") == 0.5
    eps = config.parse_args(["--loss", "ece+mae", "--dataset", "cifar100", "--noise", "sym", "--rate", "0.6"])
    assert (eps["alpha"], eps["beta"], eps["m"]) == (0.00125, 1.0, 1e4)
    assert "cswjl/eps-softmax@f81685c" in eps["sources"]["alpha"]
    sr = config.parse_args(["--loss", "ce+sr", "--dataset", "cifar100", "--noise", "asym", "--rate", "0.4"])
    assert sr["sr"] == [0.5, 0.01, 10.0, 1.02, 1] and "lnl_sr" in sr["sources"]["sr"]
    amse = config.parse_args(["--loss", "nce+amse", "--preset", "ye2023"])
    assert (amse["a"], amse["delta"], amse["weight_decay"]) == (30.0, 5e-5, 0.0)


# --- ELR's targets and SR's schedule survive kill -9 ---------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("tiny"))
    write_cifar(root, per_batch=24, n_test=20)
    return root


def args(data_dir, out, loss, *extra):
    return ["--data-dir", data_dir, "--out", str(out), "--arch", "cnn4", "--epochs", "4", "--batch-size", "20",
            "--noise", "sym", "--rate", "0.4", "--loss", loss, *compute(precision="fp32"), *extra]


@pytest.mark.parametrize("loss", ["elr", "ce+sr"])
def test_kill_9_and_resume_are_identical_for_losses_with_state(loss, tiny_dir, tmp_path):
    ref = tmp_path / "ref"
    subprocess.run([sys.executable, os.path.join(HERE, "train.py"), *args(tiny_dir, ref, loss)], check=True,
                   capture_output=True, timeout=300)
    out = tmp_path / "cut"
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "train.py"), *args(tiny_dir, out, loss)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    run = config.run_dir(config.parse_args(args(tiny_dir, out, loss)))
    log = os.path.join(run, "log.csv")
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None and not (os.path.exists(log) and
                                                               sum(1 for _ in open(log)) >= 3):
        time.sleep(0.005)  # the header and two epochs: ELR's targets have moved twice
    assert p.poll() is None, "the run ended before it could be killed mid-run"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    subprocess.run([sys.executable, os.path.join(HERE, "train.py"), *args(tiny_dir, out, loss, "--resume")],
                   check=True, capture_output=True, timeout=300)
    ref_run = config.run_dir(config.parse_args(args(tiny_dir, ref, loss)))
    rows = [[r[:-1] for r in csv.reader(open(os.path.join(d, "log.csv")))] for d in (run, ref_run)]
    assert rows[0] == rows[1] and len(rows[0]) == 5
    a, b = (torch.load(os.path.join(d, "last.pt"), weights_only=True) for d in (run, ref_run))
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in b["model"])
    assert a["loss"].keys() == b["loss"].keys() == ({"targets"} if loss == "elr" else set())
    assert all(torch.equal(a["loss"][k], b["loss"][k]) for k in b["loss"])
    if loss == "elr":
        assert b["loss"]["targets"].abs().sum() > 0


def test_the_modern_study_lists_every_point_with_its_released_values(tmp_path):
    r = subprocess.run(["bash", os.path.join(HERE, "run_grid.sh"), "--study", "modern-cifar10", "--list"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env={**os.environ, "PYTHON": sys.executable})
    assert r.returncode == 0, r.stderr
    assert "675 runs" in r.stdout  # 25 losses x (4 sym + 3 asym + 2 idn rates) x 3 seeds, each checked by config.check
    for ds, m in (("cifar10", 1e3), ("cifar100", 1e2)):
        cfg = config.parse_args(["--preset", "ye2023", "--dataset", ds, "--loss", "ece+mae", "--noise", "asym",
                                 "--rate", "0.3"])
        assert cfg["m"] == m and "eps-softmax" in cfg["sources"]["m"]
