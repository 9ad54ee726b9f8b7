"""The 2017-2025 baselines through the command line: out-of-range values refused in one line, values that follow
the data set and the noise, ELR and sparse regularisation stopped and resumed exactly, the modern study's grid."""
import csv
import os
import re

import pytest
import torch

from noisylabels import config
from noisylabels import train
from noisylabels.errors import UserError
from helpers import compute, grid_list, interrupt_after_epoch

OUT_OF_DOMAIN = [


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
]


@pytest.mark.parametrize("argv, message", OUT_OF_DOMAIN)
def test_out_of_domain_values_are_one_line(argv, message, tmp_path):
    # In-process, as train.py's main reads them (UserError: one line, exit 2); two go through the command line below.
    with pytest.raises(UserError) as e:
        cfg = config.parse_args([*argv, "--out", str(tmp_path)])
        config.check(cfg)
    assert re.search(message, str(e.value)) and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize("argv, message", [(a, m) for a, m in OUT_OF_DOMAIN if a[1] in ("phuber-ce", "ce+lc+sr")])
def test_out_of_domain_values_through_train_py_main(argv, message, tmp_path, capsys):
    """train.py's main: what its process prints and exits with (a process of it: test_reliability.py's table)."""
    with pytest.raises(SystemExit) as e:
        train.main([*argv, "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and re.search(message, err) and not os.listdir(tmp_path)


def test_a_wrap_flag_names_the_run_and_the_values_follow_the_noise():
    cfg = config.parse_args(["--loss", "ce", "--logit-clip", "2", "--noise", "sym", "--rate", "0.4"])
    assert cfg["loss"] == "ce+lc" and cfg["logit_clip"] == 2.0 and config.run_dir(cfg).endswith("ce+lc/seed42")
    lc = lambda *a: config.parse_args(["--loss", "ce+lc", *a])["logit_clip"]  # noqa: E731
    assert (lc(), lc("--noise", "sym", "--rate", "0.4"), lc("--noise", "sym", "--rate", "0.6")) == (1.0, 1.0, 1.5)
    assert lc("--noise", "asym", "--rate", "0.2") == 2.5 and lc("--dataset", "cifar100") == 0.5
    eps = config.parse_args(["--loss", "ece+mae", "--dataset", "cifar100", "--noise", "sym", "--rate", "0.6"])
    assert (eps["alpha"], eps["beta"], eps["m"]) == (0.00125, 1.0, 1e4)
    assert "cswjl/eps-softmax@f81685c" in eps.sources["alpha"]
    sr = config.parse_args(["--loss", "ce+sr", "--dataset", "cifar100", "--noise", "asym", "--rate", "0.4"])
    assert sr["sr"] == [0.5, 0.01, 10.0, 1.02, 1] and "lnl_sr" in sr.sources["sr"]
    amse = config.parse_args(["--loss", "nce+amse", "--preset", "ye2023"])
    assert (amse["a"], amse["delta"], amse["weight_decay"]) == (30.0, 5e-5, 0.0)


# --- ELR's targets and SR's schedule survive a stop and a resume -----------------------------------------------------

def args(data_dir, out, loss, *extra):
    return ["--data-dir", data_dir, "--out", str(out), "--arch", "cnn4", "--epochs", "4", "--batch-size", "20",
            "--noise", "sym", "--rate", "0.4", "--loss", loss, *compute(precision="fp32"), *extra]


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["elr", "ce+sr"])
def test_stopped_after_two_epochs_and_resumed_is_identical_for_losses_with_state(loss, tiny_cifar_dir, tmp_path,
                                                                                monkeypatch):
    """Stopped once epoch 2's last.pt is written (ELR's targets have moved twice), as a kill there would stop it, then
    resumed: the same rows, weights and loss state as an unbroken run. A kill at a random moment, through a real
    process: test_reliability.py."""
    ref_run = train.run(config.parse_args(args(tiny_cifar_dir, tmp_path / "ref", loss)))
    interrupt_after_epoch(monkeypatch, args(tiny_cifar_dir, tmp_path / "cut", loss), epoch=2)
    run = config.run_dir(config.parse_args(args(tiny_cifar_dir, tmp_path / "cut", loss)))
    assert torch.load(os.path.join(run, "last.pt"), weights_only=True)["epoch"] == 2  # log.csv is written after it
    assert train.run(config.parse_args(args(tiny_cifar_dir, tmp_path / "cut", loss, "--resume"))) == run
    rows = [[r[:-1] for r in csv.reader(open(os.path.join(d, "log.csv")))] for d in (run, ref_run)]
    assert rows[0] == rows[1] and len(rows[0]) == 5
    a, b = (torch.load(os.path.join(d, "last.pt"), weights_only=True) for d in (run, ref_run))
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in b["model"])
    assert a["loss"].keys() == b["loss"].keys() == ({"targets"} if loss == "elr" else set())
    assert all(torch.equal(a["loss"][k], b["loss"][k]) for k in b["loss"])
    if loss == "elr":
        assert b["loss"]["targets"].abs().sum() > 0


def test_the_modern_study_lists_every_point_with_its_released_values(tmp_path):
    r = grid_list(tmp_path, "--study", "modern-cifar10")
    assert r.returncode == 0, r.stderr
    assert "675 runs" in r.stdout  # 25 losses x (4 sym + 3 asym + 2 idn rates) x 3 seeds, each checked by config.check
    for ds, m in (("cifar10", 1e3), ("cifar100", 1e2)):
        cfg = config.parse_args(["--preset", "ye2023", "--dataset", ds, "--loss", "ece+mae", "--noise", "asym",
                                 "--rate", "0.3"])
        assert cfg["m"] == m and "eps-softmax" in cfg.sources["m"]
