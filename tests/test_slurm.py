"""run_grid.sh --submit against a real one-node Slurm cluster that the tests start, and stop, themselves.

The cluster is Debian's slurm-wlm and munge, started from a slurm.conf in a temporary folder
(SLURM_CONF), on ports of its own with a fresh munge key, so it never touches a cluster already
running on the machine. Without those packages (or without root, which slurmd needs to start jobs)
the tests skip, saying why; CI installs them.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from helpers import G as GRID, compute
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel")

missing = [d for d in DAEMONS if shutil.which(d) is None and not os.path.exists(f"/usr/sbin/{d}")]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.slurm,
    pytest.mark.skipif(bool(missing), reason=f"needs Debian's slurm-wlm and munge packages ({', '.join(missing)} "
                                             f"not found): apt-get install slurm-wlm munge"),
    pytest.mark.skipif(os.geteuid() != 0, reason="slurmd must run as root to start jobs"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daemon(name):
    return shutil.which(name) or f"/usr/sbin/{name}"


SLURM_CONF = """ClusterName=suite-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=2
NodeName=node1 NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running one-node cluster: the environment (SLURM_CONF) that points Slurm's commands at it."""
    root = tmp_path_factory.mktemp("slurm")
    for d in ("state", "spool"):
        (root / d).mkdir()
    (root / "munge.key").write_bytes(os.urandom(1024))
    (root / "munge.key").chmod(0o600)
    conf = root / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=socket.gethostname(), ctld_port=free_port(), d_port=free_port(),
                                      root=root, cpus=os.cpu_count()))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for k in [k for k in env if k.startswith(("SLURM_", "SBATCH_")) and k != "SLURM_CONF"]:
        env.pop(k)  # a test run inside a Slurm job must not pass that job's settings on
    started = []
    try:
        subprocess.run([daemon("munged"), "--force", f"--key-file={root}/munge.key", f"--socket={root}/munge.socket",
                        f"--pid-file={root}/munged.pid", f"--log-file={root}/munged.log",
                        f"--seed-file={root}/munged.seed"], check=True, timeout=30)
        started.append(root / "munged.pid")
        subprocess.run([daemon("slurmctld"), "-i"], env=env, check=True, timeout=30)
        started.append(root / "slurmctld.pid")
        subprocess.run([daemon("slurmd"), "-N", "node1"], env=env, check=True, timeout=30)
        started.append(root / "slurmd.pid")
        deadline = time.time() + 60
        while "idle" not in subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True,
                                           text=True).stdout:
            assert time.time() < deadline, (root / "slurmctld.log").read_text()[-2000:]
            time.sleep(0.5)
        yield env
    finally:
        for pid_file in reversed(started):
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except (OSError, ValueError):
                pass


def grid_env(cluster, tiny_cifar_dir, results, **extra):
    """A 2-loss x 2-setting grid of 1-epoch cnn4 runs on the generated data, on the CPU (Slurm is tested, not the
    network)."""
    return {**cluster, "PYTHON": sys.executable, "LOSSES": "ce nce+mae", "SYM_RATES": "0.0 0.5", "ASYM_RATES": "",
            "SEEDS": "7", "EPOCHS": "1", "RESULTS": str(results), "GPUS": "0",
            "EXTRA": f"--arch cnn4 --batch-size 32 --data-dir {tiny_cifar_dir} {' '.join(compute(device='cpu'))}",
            **extra}


def grid(env, *flags, timeout=300):
    return subprocess.run([shutil.which("bash"), GRID, *flags], env=env, capture_output=True, text=True,
                          timeout=timeout)


def job_ids(out):
    """The array and collect job ids --submit printed."""
    words = {line.split()[1]: line.split()[3].rstrip(":") for line in out.splitlines() if line.startswith("submitted")}
    return words["array"], words["collect"]


def wait_for(env, *jobs, timeout=300):
    deadline = time.time() + timeout
    while subprocess.run(["squeue", "-h", "-j", ",".join(jobs)], env=env, capture_output=True, text=True).stdout.strip():
        assert time.time() < deadline, f"jobs {jobs} still queued after {timeout} s"
        time.sleep(1)


def states(env, *flags):
    out = [line.split() for line in grid(env, *flags, "--list").stdout.splitlines()]
    return [w[1] for w in out if len(w) == 3 and w[0].isdigit()]  # the grid's lines, less the study's header


def test_submit_runs_every_point_then_collects_and_resubmits_nothing(cluster, tiny_cifar_dir, tmp_path):
    # 2 points (2 losses, one setting): an array of them, and the collect job after it
    env = grid_env(cluster, tiny_cifar_dir, tmp_path / "r", LOSSES="mae", SYM_RATES="0.0")  # the flag below wins
    flags = ("--losses", "ce nce+mae", "--submit")
    p = grid({**env, "SBATCH_ARGS": "--hold"}, *flags)  # held: it cannot finish before the check below
    assert p.returncode == 0, p.stdout + p.stderr
    array, collect = job_ids(p.stdout)
    assert "2 of 2 points (0-1), 0 skipped" in p.stdout and f"scancel {array} {collect}" in p.stdout
    # While the array is queued, a second submission of the same grid is refused, naming the array.
    again = grid(env, *flags)
    assert again.returncode == 2 and f"still queued or running: job {array}" in again.stderr
    assert again.stderr.count("\n") == 1
    subprocess.run(["scontrol", "release", f"{array},{collect}"], env=env, check=True)
    wait_for(env, array, collect)
    assert states(env, *flags[:2]) == ["done"] * 2
    logs = sorted(os.listdir(tmp_path / "r" / "slurm"))
    assert logs == sorted([f"{array}_{i}.log" for i in range(2)] + [f"collect-{collect}.log"])
    assert "grid point 1 done" in (tmp_path / "r" / "slurm" / f"{array}_1.log").read_text()
    assert (tmp_path / "r" / "figures" / "cifar10" / "table.md").is_file()  # the collect job ran plot.py
    p = grid(env, *flags)
    assert p.returncode == 0 and "nothing to submit: all 2 points of the grid are finished" in p.stdout
    assert not (tmp_path / "r" / "cifar10" / "none-0.0" / "mae").exists()  # the tasks ran the flags' grid


def test_a_cancelled_point_is_the_only_one_resubmitted_and_it_resumes(cluster, tiny_cifar_dir, tmp_path):
    res = tmp_path / "r"
    # 15 cnn4 epochs (0.2-1 s each here): time to cancel point 0 after its first; each point trains all of them once
    env = grid_env(cluster, tiny_cifar_dir, res, EPOCHS="15", SYM_RATES="0.0", LOSSES="ce nce+mae")
    p = grid(env, "--submit", "--max-parallel", "1")  # one at a time: point 0 runs while 1 waits
    assert p.returncode == 0, p.stdout + p.stderr
    assert "at most 1 at once" in p.stdout
    array, collect = job_ids(p.stdout)
    last = res / "cifar10" / "none-0.0" / "ce" / "seed7" / "last.pt"
    deadline = time.time() + 240
    while not last.exists():
        assert time.time() < deadline, "point 0 wrote no last.pt"
        time.sleep(0.05)
    subprocess.run(["scancel", f"{array}_0"], env=env, check=True)
    wait_for(env, array, collect)
    assert states(env) == ["resume", "done"]
    p = grid(env, "--submit")
    assert p.returncode == 0 and "1 of 2 points (0), 1 skipped" in p.stdout, p.stdout + p.stderr
    wait_for(env, *job_ids(p.stdout))
    assert states(env) == ["done", "done"]
    log = (res / "cifar10" / "none-0.0" / "ce" / "seed7" / "train.log").read_text()
    assert "resuming" in log and "--resume" in log


def test_bad_grid_or_no_sbatch_submits_nothing(cluster, tiny_cifar_dir, tmp_path):
    env = grid_env(cluster, tiny_cifar_dir, tmp_path / "r", LOSSES="ce nce+ce")
    queue = lambda: subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True).stdout  # noqa
    before = queue()
    p = grid(env, "--submit")
    assert p.returncode == 2 and "unknown loss 'nce+ce'" in p.stderr
    assert queue() == before  # nothing was submitted
    bin_dir = tmp_path / "bin"  # every command of /usr/bin but sbatch
    bin_dir.mkdir()
    for name in os.listdir("/usr/bin"):
        if name != "sbatch":
            (bin_dir / name).symlink_to(os.path.join("/usr/bin", name))
    p = grid({**grid_env(cluster, tiny_cifar_dir, tmp_path / "r"), "PATH": str(bin_dir)}, "--submit")
    assert p.returncode == 2 and "--submit needs Slurm's sbatch and squeue on the PATH" in p.stderr
    assert p.stderr.count("\n") == 1 and not (tmp_path / "r").exists()
