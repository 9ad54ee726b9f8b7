"""One process per run, Ctrl-C and extending a finished run.

A real train.py holding its run while a second train.py is refused (naming the first), Ctrl-C as one line and a
resume after it, and `--resume --force --epochs` on a finished run. A stale claim (a killed process's) taken over:
test_reliability.py's kill -9 test, whose resumed processes each take over the claim of the one killed before.
"""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from noisylabels import config
from noisylabels import train
from helpers import T, run_args


def small(cifar_dir, out, epochs):
    """A cnn4 run on the 100-image data set, on the CPU: what is tested is the run directory, not the network."""
    return run_args(cifar_dir, out, "--epochs", str(epochs), device="cpu")


@pytest.mark.slow
def test_a_claimed_run_is_refused_ctrl_c_is_one_line_and_the_run_resumes(tiny_cifar_dir, tmp_path, capsys):
    """A real train.py holds the run: a second train.py is refused; Ctrl-C ends the first in one line."""
    argv = small(tiny_cifar_dir, tmp_path, 6)  # long enough to be caught mid-run
    run = config.run_dir(config.parse_args(argv))
    # SIGINT as a terminal sends it: a shell's background job (a CI runner's, nohup ... &) starts with it ignored,
    # and Python then installs no KeyboardInterrupt for it
    first = subprocess.Popen([sys.executable, T, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(run, "last.pt")) and time.time() < deadline:
        time.sleep(0.02)
    claim = json.load(open(os.path.join(run, "claim.json")))
    assert claim["pid"] == first.pid and claim["host"] and claim["started"]
    # The second train.py: its main in this process, refused as its own process would be (one line, exit 2).
    with pytest.raises(SystemExit) as second:
        train.main(argv + ["--resume"])
    assert second.value.code == 2 and "\n" not in second.value.message
    assert f"is being trained by pid {first.pid} on {claim['host']}" in second.value.message
    assert first.poll() is None, "the first run ended before Ctrl-C"
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130 and "Traceback" not in err
    assert re.fullmatch(r"error: interrupted after epoch \d+; run the same command with --resume to continue\n", err)
    assert not os.path.exists(os.path.join(run, "claim.json"))  # released on the way out
    capsys.readouterr()
    train.main(argv + ["--resume"])
    assert "resuming" in capsys.readouterr().out
    assert len(list(csv.DictReader(open(os.path.join(run, "log.csv"))))) == 6


@pytest.mark.slow
def test_a_finished_run_says_how_to_extend_it_and_force_does(tiny_cifar_dir, tmp_path):
    argv = small(tiny_cifar_dir, tmp_path, 1)
    train.main(argv)
    run = config.run_dir(config.parse_args(argv))
    with pytest.raises(SystemExit) as e:  # train.py's main: its refusal is its process's one line and exit 2
        train.main(small(tiny_cifar_dir, tmp_path, 2) + ["--resume"])
    assert e.value.code == 2 and "\n" not in e.value.message
    assert "has finished its 1 epochs; to train it on to 2, add --force" in e.value.message
    train.main(small(tiny_cifar_dir, tmp_path, 2) + ["--resume", "--force"])
    rows = list(csv.DictReader(open(os.path.join(run, "log.csv"))))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert json.load(open(os.path.join(run, "config.json")))["facts"]["forced"][0]["changed"] == {"epochs": [1, 2]}
    with pytest.raises(SystemExit) as e:
        train.main(argv + ["--resume", "--lr", "0.5"])
    assert e.value.code == 2 and "a finished run with other values (lr 0.01 -> 0.5)" in e.value.message


def test_a_claim_sweeps_the_half_written_files_of_a_killed_writer(tmp_path):
    from noisylabels import rundir
    d = tmp_path / "run"
    d.mkdir()
    (d / "last.pt.4242.tmp").write_bytes(b"half a checkpoint")  # what a SIGKILL mid-save leaves (atomic.py)
    (d / "log.csv").write_text("epoch\n1\n")
    rundir.claim(str(d))
    assert sorted(os.listdir(d)) == ["claim.json", "log.csv"]
    rundir.release(str(d))
