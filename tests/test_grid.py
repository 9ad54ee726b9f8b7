"""run_grid.sh through bash: a small grid with one failing run, the rerun, --list, --dry-run, Slurm, slots, Ctrl-C."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from noisylabels import presets
from helpers import G as GRID, ROOT, compute, grid_list, write_mnist

pytestmark = pytest.mark.slow  # every test here starts run_grid.sh


def env_for(tiny_cifar_dir, results, **extra):
    """A 2-loss x 2-setting x 1-epoch grid of cnn4 runs on the generated data, on the CPU (the grid is tested, not the
    network)."""
    env = {**os.environ, "PYTHON": sys.executable, "LOSSES": "ce nce+mae", "SYM_RATES": "0.0 0.5", "ASYM_RATES": "",
           "SEEDS": "7", "EPOCHS": "1", "RESULTS": str(results), "GPUS": "0",
           "EXTRA": f"--arch cnn4 --batch-size 32 --data-dir {tiny_cifar_dir} {' '.join(compute(device='cpu'))}"}
    env.pop("SLURM_ARRAY_TASK_ID", None)
    return {**env, **extra}


def grid(env, *flags, timeout=600):
    return subprocess.run(["bash", GRID, *flags], env=env, capture_output=True, text=True, timeout=timeout)


def listed(env):
    """{index: (state, run dir)} from --list."""
    out = [line.split() for line in grid(env, "--list").stdout.splitlines()]
    return {int(w[0]): (w[1], w[2]) for w in out if len(w) == 3 and w[0].isdigit()}  # less the study's header


def test_failed_run_is_reported_then_redone_alone_and_other_values_are_refused(tiny_cifar_dir, tmp_path):
    """Two points (the other tests here cover the grid's size): one finishes, one fails, the rerun redoes that one;
    then the finished grid with other values is refused and listed as `differs`."""
    res = tmp_path / "results"
    env = env_for(tiny_cifar_dir, res, LOSSES="ce")
    bad = res / "cifar10" / "sym-0.5" / "ce" / "seed7"
    bad.mkdir(parents=True)
    (bad / "last.pt").write_bytes(b"not a checkpoint")  # this run is resumed, and its resume fails
    p = grid(env)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "summary: 2 runs: 1 done, 0 skipped (already finished), 1 failed" in p.stdout
    assert f"  failed: {bad}/train.log" in p.stdout
    log = (bad / "train.log").read_text()
    assert "error: cannot read" in log and "Traceback" not in log
    finished = [res / "cifar10" / "none-0.0" / "ce" / "seed7" / "result.json"]
    assert all(f.is_file() for f in finished) and not (bad / "result.json").exists()
    assert (res / "figures" / "cifar10" / "table.md").is_file()  # plot.py ran on what finished
    before = {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in finished}

    assert [s for s, _ in listed(env).values()] == ["done", "resume"]
    dry = grid(env, "--dry-run").stdout.splitlines()
    assert dry[:1] == [f"# {i} done: {d}" for i, d in enumerate(str(f.parent) for f in finished)]
    assert dry[1].endswith("--resume") and "--rate 0.5 --loss ce" in dry[1] and len(dry) == 2

    (bad / "last.pt").unlink()
    p = grid(env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "summary: 2 runs: 1 done, 1 skipped (already finished), 0 failed" in p.stdout
    assert before == {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in finished}  # untouched
    assert json.load(open(bad / "result.json"))["best_epoch"] == 1

    # The finished grid asked for with other values: refused before anything starts, not skipped as finished.
    p = grid({**env, "EPOCHS": "2"})
    assert p.returncode == 2 and p.stderr.count("\n") == 1
    assert "point 0 (" in p.stderr and "other values than this grid asks for (epochs 1 -> 2" in p.stderr
    assert "give this grid another RESULTS, or remove" in p.stderr
    assert [s for s, _ in listed({**env, "EPOCHS": "2"}).values()] == ["differs", "differs"]
    assert [s for s, _ in listed(env).values()] == ["done", "done"]


def test_list_dry_run_and_slurm_index_agree(tiny_cifar_dir, tmp_path):
    env = env_for(tiny_cifar_dir, tmp_path / "r", SYM_RATES="0.0 0.5", ASYM_RATES="0.0 0.25", HUMAN="worse")
    points = listed(env)
    # The clean run reached from both schedules is one run: 4 settings x 2 losses, not 5 x 2.
    assert [d for _, d in points.values()] == [str(tmp_path / "r" / "cifar10" / s / loss / "seed7") for s in
                                              ("none-0.0", "sym-0.5", "asym-0.25", "human-worse")
                                              for loss in ("ce", "nce+mae")]
    dry = grid(env, "--dry-run").stdout.splitlines()
    assert len(dry) == 8 and all("train.py" in c and "--epochs 1" in c for c in dry)
    assert "--noise asym --rate 0.25 --loss nce+mae --seed 7" in dry[5]
    assert "--noise human --human-label worse --loss ce --seed 7" in dry[6]
    p = grid({**env, "SLURM_ARRAY_TASK_ID": "4"})
    assert p.returncode == 0, p.stdout + p.stderr
    assert os.path.isfile(os.path.join(points[4][1], "result.json"))
    assert [s for s, _ in listed(env).values()] == ["new", "new", "new", "new", "done", "new", "new", "new"]
    assert "already finished" in grid({**env, "SLURM_ARRAY_TASK_ID": "4"}).stdout
    p = grid({**env, "SLURM_ARRAY_TASK_ID": "8"})
    assert p.returncode == 2 and "outside the grid (0..7)" in p.stderr


@pytest.mark.parametrize("change, message", [
    ({"LOSSES": "ce nce+ce"}, "unknown loss 'nce+ce'"),
    ({"SYM_RATES": "0.0 1.5"}, "--rate must be in [0, 1]"),
    ({"EXTRA": "--out elsewhere"}, "EXTRA may not hold --out"),
    ({"JOBS_PER_GPU": "0"}, "JOBS_PER_GPU must be a whole number"),
    ({"LOSSES": ""}, "the grid is empty"),
    ({"EXTRA": "--arch vgg"}, "grid point (--dataset cifar10 --preset report --noise sym --rate 0.0 --loss ce --seed 7 --out"),  # argparse's refusal,
    ({"EXTRA": "--ou x"}, "unrecognized arguments: --ou x"),  # named with its grid point; no abbreviations
    ({"RESULTS": "my results"}, "RESULTS must be a folder name without spaces"),
    ({"DATASET": "svhn"}, "argument --dataset: invalid choice: 'svhn'"),
    ({"EXTRA": "--dataset mnist"}, "EXTRA may not hold --dataset"),
])
def test_bad_grid_is_refused_before_anything_starts(tiny_cifar_dir, tmp_path, change, message):
    p = grid(env_for(tiny_cifar_dir, tmp_path / "r", **change))
    assert p.returncode == 2 and message in p.stderr and p.stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_runs_are_pinned_to_gpu_slots(tiny_cifar_dir, tmp_path):
    """GPUS=2 x JOBS_PER_GPU=2 with a stand-in for train.py: 4 at once, at most 2 on each GPU."""
    fake = tmp_path / "python"
    fake.write_text(f"""#!/bin/sh
case "$1" in
  *train.py) echo "start $CUDA_VISIBLE_DEVICES $(date +%s.%N)" >> {tmp_path}/events; sleep 1
             echo "stop $CUDA_VISIBLE_DEVICES $(date +%s.%N)" >> {tmp_path}/events ;;
  *) exec {sys.executable} "$@" ;;
esac
""")
    fake.chmod(0o755)
    env = {**env_for(tiny_cifar_dir, tmp_path / "r", GPUS="2", JOBS_PER_GPU="2", SYM_RATES="0.0 0.2 0.5 0.8"),
           "PYTHON": str(fake), "CUDA_VISIBLE_DEVICES": "3,5"}
    p = grid(env)
    assert "summary: 8 runs: 8 done" in p.stdout, p.stdout + p.stderr
    events = sorted((float(t), kind, gpu) for kind, gpu, t in
                    (line.split() for line in open(tmp_path / "events")))
    busy, peak = {"3": 0, "5": 0}, 0
    for _, kind, gpu in events:
        busy[gpu] += 1 if kind == "start" else -1
        assert busy[gpu] <= 2
        peak = max(peak, sum(busy.values()))
    assert peak == 4 and {g for _, _, g in events} == {"3", "5"}


def test_ctrl_c_stops_every_child_and_the_rerun_finishes(tiny_cifar_dir, tmp_path):
    env = env_for(tiny_cifar_dir, tmp_path / "r", LOSSES="ce", SYM_RATES="0.0 0.5", EPOCHS="20")
    proc = subprocess.Popen(["bash", GRID], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = tmp_path / "r" / "cifar10" / "none-0.0" / "ce" / "seed7"
    deadline = time.time() + 300
    while not (run / "last.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "summary: 2 runs: 0 done" in out
    assert "  stopped before finishing: 1\n  not started: 1\n" in out  # every point accounted for
    left = subprocess.run(["pgrep", "-f", str(tmp_path / "r")], capture_output=True, text=True).stdout
    assert left == ""  # no train.py left running
    assert [s for s, _ in listed(env).values()] == ["resume", "new"]
    p = grid({**env, "EPOCHS": "20", "LOSSES": "ce"}, "--dry-run")
    assert p.stdout.splitlines()[0].endswith("--resume")


def test_dataset_variable_names_every_point_and_its_prefetch(tmp_path):
    data_dir = write_mnist(str(tmp_path / "m"), n_train=100, n_test=20)
    env = env_for(data_dir, tmp_path / "r", DATASET="mnist", LOSSES="ce", SYM_RATES="0.5", ASYM_RATES="0.2",
                  EXTRA=f"--arch cnn4 --batch-size 32 --data-dir {data_dir} {' '.join(compute(device='cpu'))}")
    assert [d for _, d in listed(env).values()] == [str(tmp_path / "r" / "mnist" / s / "ce" / "seed7")
                                                    for s in ("sym-0.5", "asym-0.2")]
    assert all(c.startswith(f"{sys.executable} {ROOT}/train.py --dataset mnist ")
               for c in grid(env, "--dry-run").stdout.splitlines())
    p = grid({**env, "ASYM_RATES": ""})
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{data_dir}: MNIST ready" in p.stdout  # data.py fetched MNIST, not CIFAR-10, once
    assert (tmp_path / "r" / "figures" / "mnist" / "table.md").is_file()


def test_submit_passes_the_whole_grid_and_keeps_gpus_off_the_collect_job(tiny_cifar_dir, tmp_path):
    """--submit with stand-ins for sbatch and squeue that record their arguments (a real cluster: test_slurm.py)."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f"""#!/bin/sh
n=$(( $(cat {tmp_path}/count 2>/dev/null || echo 0) + 1 )); echo $n > {tmp_path}/count
echo "=== $n" >> {calls}; printf '%s\\n' "$@" >> {calls}; echo "$n;cluster"
""")
    (bin_dir / "squeue").write_text("#!/bin/sh\nexit 0\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = env_for(tiny_cifar_dir, tmp_path / "r", PATH=f"{bin_dir}:{os.environ['PATH']}",
                  SBATCH_ARGS="--partition p --gres gpu:1 --gpus=2 -G 1 --time=1:00")
    p = grid(env, "--submit", "--epochs", "3")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "submitted array job 1: 4 of 4 points (0-3)" in p.stdout and "submitted collect job 2" in p.stdout
    array, collect = [c.splitlines()[1:] for c in calls.read_text().split("=== ")[1:]]
    assert "--array=0-3" in array and array[array.index("--gres") + 1] == "gpu:1" and "--gpus=2" in array
    wrap = array[array.index("--wrap") + 1]
    # The task gets the grid on its command line, not only through the environment the cluster may drop.
    assert "--epochs 3" in wrap and r"--losses ce\ nce+mae" in wrap and "SUBMIT= " in wrap
    assert "--partition" in collect and "--time=1:00" in collect and "--dependency=afterany:1" in collect
    assert not {"--gres", "gpu:1", "--gpus=2", "-G", "1"} & set(collect)  # no GPU for plot.py


@pytest.mark.parametrize("env_change, flags, message", [
    ({"SBATCH_ARGS": "--array=0-9"}, ["--submit"], "SBATCH_ARGS may not hold --array=0-9"),
    ({}, ["--force"], "--force only applies to --submit"),
    ({"SUBMIT": "yes"}, [], "SUBMIT must be 1"),
])
def test_bad_submissions_are_refused_in_one_line(tiny_cifar_dir, tmp_path, env_change, flags, message):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sbatch", "squeue"):  # present, and never reached
        (bin_dir / name).write_text(f"#!/bin/sh\ntouch {tmp_path}/called\n")
        (bin_dir / name).chmod(0o755)
    p = grid(env_for(tiny_cifar_dir, tmp_path / "r", PATH=f"{bin_dir}:{os.environ['PATH']}", **env_change), *flags)
    assert p.returncode == 2 and message in p.stderr and p.stderr.count("\n") == 1
    assert not (tmp_path / "called").exists()


def no_torch(tmp_path):
    """A PYTHONPATH entry whose `torch` cannot be imported, as on a login node without it."""
    site = tmp_path / "notorch"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n"
        "sys.meta_path.insert(0, NoTorch())\n")
    return {"PYTHONPATH": str(site)}


def test_list_dry_run_and_submit_need_no_torch(tiny_cifar_dir, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/sh\necho 5\n")
    (bin_dir / "squeue").write_text("#!/bin/sh\nexit 0\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = env_for(tiny_cifar_dir, tmp_path / "r", **no_torch(tmp_path), PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True).returncode != 0
    assert len(listed(env)) == 4
    assert len(grid(env, "--dry-run").stdout.splitlines()) == 4
    p = grid({**env, "EXTRA": env["EXTRA"].replace("--device cpu", "--device cpu")}, "--submit")
    assert "submitted array job 5: 4 of 4 points" in p.stdout, p.stdout + p.stderr
    p = grid(env)  # training needs torch: one line naming it
    assert p.returncode == 2 and "pip install torch" in p.stderr and p.stderr.count("\n") == 1


def test_two_grids_on_one_results_train_each_point_once(tiny_cifar_dir, tmp_path):
    env = env_for(tiny_cifar_dir, tmp_path / "r", LOSSES="ce", EPOCHS="2")  # 2 points, both grids asking for each
    procs = [subprocess.Popen(["bash", GRID], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    logs = sorted((tmp_path / "r").glob("cifar10/*/*/seed7/train.log"))
    assert len(logs) == 2 and all(f.read_text().count("\n== ") + f.read_text().startswith("== ") == 1 for f in logs)
    assert all("summary: 2 runs" in out for out, _ in outs)
    assert (tmp_path / "r" / "figures" / "cifar10" / "table.md").is_file()


def test_no_python_or_no_numpy_is_one_line(tmp_path):
    fake = tmp_path / "nonumpy" / "numpy"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no numpy', name='numpy')\n")
    p = subprocess.run(["bash", GRID, "--list"], env={**os.environ, "PYTHON": sys.executable,
                                                       "PYTHONPATH": str(tmp_path / "nonumpy")},
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr == ("error: grid.py needs the Python package numpy; install the suite's "
                                              "requirements (pip install -r requirements.txt), or set PYTHON to the "
                                              "interpreter that has them\n")
    p = subprocess.run(["/bin/bash", GRID, "--list"], env={"PATH": str(tmp_path)}, capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("error: run_grid.sh needs Python 3") and p.stderr.count("\n") == 1
    p = subprocess.run(["bash", GRID, "--list"], env={**os.environ, "PYTHON": "pyhton"}, capture_output=True, text=True)
    assert p.returncode == 2 and "PYTHON=pyhton is not a command" in p.stderr


def test_noise_a_data_set_cannot_have_is_left_out_once_and_said(tmp_path):
    # own data has no class map for asymmetric noise: the report grid's default ASYM_RATES are left out, said once
    p = grid_list(tmp_path, DATASET="folder", EXTRA="--data-dir pets --arch cnn4", LOSSES="ce", SYM_RATES="0.4")
    assert p.returncode == 0, p.stderr
    rates = presets.STUDIES["report"]["asym_rates"]
    assert p.stderr == (f"note: ASYM_RATES='{rates}' left out: --dataset folder has no class map for asymmetric "
                        f"noise (pairflip is the one for any classes); set ASYM_RATES=\"\" to leave it out yourself\n")
    assert "asym rates: none" in p.stdout and p.stdout.count("results/folder-pets/") == 1
    p = grid_list(tmp_path, DATASET="mnist", HUMAN="worse", LOSSES="ce", SYM_RATES="0.4", ASYM_RATES="")
    assert p.returncode == 0 and "HUMAN='worse' left out: --dataset mnist has no human labels" in p.stderr
    assert "human" not in p.stdout.split("rates and seeds from")[1]


@pytest.mark.slow  # 1,125 points resolved: about 5 s
def test_a_listing_cut_short_by_its_reader_ends_quietly(tmp_path):
    """`--list | head`: the reader goes away after one line; the grid ends with 141, as a shell's pipe does, and no
    traceback."""
    # 1,125 lines, about 75 KB: more than a pipe holds (64 KB), so the grid is still writing when the reader goes
    p = subprocess.Popen(["bash", GRID, "--study", "modern-cifar10", "--list"], cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env={**os.environ, "PYTHON": sys.executable,
                                                      "SEEDS": "0 1 2 3 4"})
    assert p.stdout.readline().startswith(b"study modern-cifar10:")
    p.stdout.close()
    assert p.wait(timeout=60) == 141 and b"Traceback" not in p.stderr.read()
