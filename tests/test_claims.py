"""One process per run, Ctrl-C and extending a finished run, through train.py's real command line.

Two real train.py on one run directory (the second refused, naming the first), a stale claim taken over,
Ctrl-C as one line and a resume after it, and `--resume --force --epochs` on a finished run.
"""
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

from noisylabels import config
from test_reliability import T, cli, run_args

def test_a_claimed_run_is_refused_ctrl_c_is_one_line_and_the_run_resumes(cifar_dir, tmp_path):
    """Two real train.py on one run directory: the second is refused; Ctrl-C ends the first in one line."""
    argv = run_args(cifar_dir, tmp_path, "--epochs", "10", device="cpu")  # long enough to be caught mid-run
    run = config.run_dir(config.parse_args(argv))
    # SIGINT as a terminal sends it: a shell's background job (a CI runner's, nohup ... &) starts with it ignored,
    # and Python then installs no KeyboardInterrupt for it
    first = subprocess.Popen([sys.executable, T, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(run, "last.pt")) and time.time() < deadline:
        time.sleep(0.1)
    claim = json.load(open(os.path.join(run, "claim.json")))
    assert claim["pid"] == first.pid and claim["host"] and claim["started"]
    second = cli(T, *argv, "--resume")
    assert second.returncode == 2 and second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert f"is being trained by pid {first.pid} on {claim['host']}" in second.stderr
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130 and "Traceback" not in err
    assert re.fullmatch(r"error: interrupted after epoch \d+; run the same command with --resume to continue\n", err)
    assert not os.path.exists(os.path.join(run, "claim.json"))  # released on the way out
    p = cli(T, *argv, "--resume")
    assert p.returncode == 0 and "resuming" in p.stdout, p.stderr
    assert len(list(csv.DictReader(open(os.path.join(run, "log.csv"))))) == 10


def test_a_stale_claim_is_taken_over(cifar_dir, tmp_path):
    argv = run_args(cifar_dir, tmp_path, "--epochs", "1", device="cpu")
    run = config.run_dir(config.parse_args(argv))
    os.makedirs(run)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    json.dump({"host": socket.gethostname(), "pid": int(dead.stdout), "started": "2026-12-01 00:00:00"},
              open(os.path.join(run, "claim.json"), "w"))
    p = cli(T, *argv)
    assert p.returncode == 0, p.stderr
    assert os.path.exists(os.path.join(run, "result.json")) and not os.path.exists(os.path.join(run, "claim.json"))


def test_a_finished_run_says_how_to_extend_it_and_force_does(cifar_dir, tmp_path):
    argv = run_args(cifar_dir, tmp_path, "--epochs", "1", device="cpu")
    assert cli(T, *argv).returncode == 0
    run = config.run_dir(config.parse_args(argv))
    p = cli(T, *argv[:-2], "--epochs", "2", "--resume")
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    assert "has finished its 1 epochs; to train it on to 2, add --force" in p.stderr
    p = cli(T, *argv[:-2], "--epochs", "2", "--resume", "--force")
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(open(os.path.join(run, "log.csv"))))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert json.load(open(os.path.join(run, "config.json")))["forced"][0]["changed"] == {"epochs": [1, 2]}
    p = cli(T, *argv, "--resume", "--lr", "0.5")
    assert p.returncode == 2 and "a finished run with other values (lr 0.01 -> 0.5)" in p.stderr


def test_a_claim_sweeps_the_half_written_files_of_a_killed_writer(tmp_path):
    from noisylabels import rundir
    d = tmp_path / "run"
    d.mkdir()
    (d / "last.pt.4242.tmp").write_bytes(b"half a checkpoint")  # what a SIGKILL mid-save leaves (atomic.py)
    (d / "log.csv").write_text("epoch\n1\n")
    rundir.claim(str(d))
    assert sorted(os.listdir(d)) == ["claim.json", "log.csv"]
    rundir.release(str(d))
