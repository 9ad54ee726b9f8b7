"""Running a grid's points on this machine: GPU slots, one train.py child per point, Ctrl-C, a Slurm array task.

Up to GPUS x JOBS_PER_GPU children at once, each pinned to one GPU by CUDA_VISIBLE_DEVICES; a point is claimed
(rundir.py) before its train.log is written, so two grids on one RESULTS train each point once. grid.py
resolves and checks the points; this runs them. What running them takes wherever they run (a point's train.py
command, RESULTS/study.json, each data set downloaded once first) is here too: grid.py's --dry-run and slurm.py's
--submit use the same functions.
"""
import os
import shlex
import signal
import subprocess
import sys
import time

from . import owndata
from . import realnoise
from . import rundir
from .atomic import save_json
from .errors import UserError
from .presets import NOISES

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the clone: train.py, data.py, plot.py


def command(py, argv, resume):
    return [py, os.path.join(HERE, "train.py"), *argv] + ["--resume"] * resume


def record_study(s):
    """RESULTS/study.json: what plot.py lays its study table out by."""
    try:
        os.makedirs(s["results"], exist_ok=True)
        save_json(os.path.join(s["results"], "study.json"), {"name": s["study"], **{k: s[k] for k in (
            "dataset", "preset", "losses", "seeds", *NOISES, "epochs", "rates_from")}})
    except OSError:
        raise UserError(f"cannot write into RESULTS={s['results']}; choose a writable folder") from None


def prefetch(py, points):
    """Runs started together on a fresh --data-dir would each download it: fetch each data set once, first."""
    wanted = {}
    for _, _, cfg in points:
        if cfg["dataset"] in owndata.KINDS + realnoise.KINDS:
            continue  # nothing to download: own data is the user's, a real-world set is obtained by hand
        key = (os.path.abspath(cfg["data_dir"]), cfg["dataset"])
        wanted[key] = wanted.get(key, False) or cfg["noise"] in ("human", "human-matched")
    for (data_dir, dataset), human in wanted.items():
        cmd = [py, os.path.join(HERE, "data.py"), "--dataset", dataset, "--data-dir", data_dir] + ["--human"] * human
        if subprocess.run(cmd).returncode != 0:
            sys.exit(2)


def launch(cmd, d, env):
    """Start cmd with its output appended to d/train.log, under a line that says when and what."""
    with open(os.path.join(d, "train.log"), "a") as log:
        log.write(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(cmd)}\n")
        log.flush()
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def claimed(py, argv, d):
    """Claim d and return its train.py command, resuming what it holds; None where another process finished it
    between the grid's look and the claim (or holds it: UserError)."""
    rundir.claim(d)
    if os.path.isfile(os.path.join(d, "result.json")):
        rundir.release(d)
        return None
    return command(py, argv, resume=os.path.isfile(os.path.join(d, "last.pt")))


def start(py, i, points, slot, n):
    """Claim point i's run directory and start its train.py on slot (a GPU id, or cpu); None where it is taken."""
    argv, d, _ = points[i]
    try:
        cmd = claimed(py, argv, d)
    except UserError:
        return None
    if cmd is None:
        return None
    child = launch(cmd, d, {**os.environ, "CUDA_VISIBLE_DEVICES": "" if slot == "cpu" else slot})
    print(f"[{time.strftime('%H:%M:%S')}] start {i}/{n} on {slot}: {d}", flush=True)
    return child


def slots(s, py):
    """The slots runs go on (GPU ids, each JOBS_PER_GPU times, or cpu), and how to say them; torch checked first."""
    # Found, not imported, where GPUS is given: importing torch costs seconds; counting the GPUs needs it.
    ask = "import torch; print(torch.cuda.device_count())" if not s["gpus"] else \
        "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)"
    p = subprocess.run([py, "-c", ask], capture_output=True, text=True)
    if p.returncode != 0:
        raise UserError(f"cannot import torch with {py}, and training needs it: pip install torch (the README "
                        f"says which build), or set PYTHON to the interpreter that has it")
    gpus = s["gpus"] or p.stdout.strip()
    if not gpus.isdigit():
        raise UserError(f"GPUS must be a number of GPUs, got '{gpus}'")
    if int(gpus) == 0:
        return ["cpu"], "CPU"
    # Slot ids are the GPU ids this process may see: CUDA_VISIBLE_DEVICES when set, else 0..GPUS-1.
    ids = [x for x in os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(int(gpus))))).split(",") if x]
    if int(gpus) > len(ids):
        raise UserError(f"GPUS={gpus} but only {len(ids)} GPU(s) are visible")
    return ids[:int(gpus)] * int(s["jobs_per_gpu"]), f"{gpus} GPU(s) x {s['jobs_per_gpu']}"


def run_local(s, points, py):
    """The local scheduler; returns the exit code."""
    free, where = slots(s, py)
    record_study(s)
    n = len(points)
    if any(rundir.state(d) not in ("done", "running") for _, d, _ in points):
        prefetch(py, points)
    running, count = {}, {"done": 0, "skipped": 0, "elsewhere": 0}
    failed = []

    def reap():
        for child, (i, slot) in list(running.items()):
            if child.poll() is None:
                continue
            d = points[i][1]
            rundir.release(d, {os.getpid(), child.pid})  # a child that died before taking the claim over
            del running[child]
            free.append(slot)
            if child.returncode == 0:
                count["done"] += 1
                print(f"[{time.strftime('%H:%M:%S')}] done  {i}/{n}: {d}", flush=True)
            else:
                failed.append(f"{d}/train.log")
                print(f"[{time.strftime('%H:%M:%S')}] FAIL  {i}/{n} (exit {child.returncode}): {d}/train.log", flush=True)

    def summary():
        print(f"summary: {n} runs: {count['done']} done, {count['skipped']} skipped (already finished), "
              f"{len(failed)} failed" + (f", {count['elsewhere']} left to the process training them"
                                         if count["elsewhere"] else ""))
        for f in failed:
            print(f"  failed: {f}")

    def stop(*_):  # Ctrl-C or a kill: stop every child; finished runs are untouched, unfinished ones resume
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        reap()  # runs that ended just now count as done or failed, not as stopped
        print(f"interrupted: stopping {len(running)} running run(s); run the same command again to finish",
              file=sys.stderr, flush=True)
        for child in running:
            child.terminate()
        for child, (i, _) in running.items():
            child.wait()
            rundir.release(points[i][1], {os.getpid(), child.pid})
        summary()
        print(f"  stopped before finishing: {len(running)}")
        waiting = n - sum(count.values()) - len(failed) - len(running)
        if waiting:  # points the loop had not reached: the same command starts them
            print(f"  not started: {waiting}")
        sys.exit(130)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"grid: {n} runs into {s['results']}, {len(free)} at a time ({where})", flush=True)
    for i, (_, d, cfg) in enumerate(points):
        while not free:
            time.sleep(0.2)
            reap()
        st = rundir.state(d)  # now, not at the start: another grid may have finished or taken it meanwhile
        child = start(py, i, points, free[0], n) if st not in ("done", "running") else None
        if child is None:
            key = "skipped" if st == "done" else "elsewhere"
            count[key] += 1
            if key == "elsewhere":
                print(f"[{time.strftime('%H:%M:%S')}] skip  {i}/{n}: {d} is being trained by another process")
            continue
        running[child] = (i, free.pop(0))
    while running:
        time.sleep(0.2)
        reap()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    summary()
    if count["done"] + count["skipped"] > 0:
        if subprocess.run([py, os.path.join(HERE, "plot.py"), s["results"]]).returncode != 0:
            print("plot.py failed; the runs are intact")
    return 1 if failed else 0


def array_task(task, points, py):
    """One Slurm array task: grid point `task` alone, on the GPUs Slurm gave it."""
    if not task.isdigit() or int(task) >= len(points):
        raise UserError(f"SLURM_ARRAY_TASK_ID={task} is outside the grid (0..{len(points) - 1})")
    i = int(task)
    argv, d, _ = points[i]
    if rundir.state(d) == "done":
        print(f"grid point {i} is already finished: {d}")
        return 0
    env = dict(os.environ)
    # Slurm sets CUDA_VISIBLE_DEVICES to the GPUs it gave the task; a task given none must not take a GPU it was
    # not given, so it runs on the CPU.
    if env.get("SLURM_JOB_ID") and "CUDA_VISIBLE_DEVICES" not in env:
        env["CUDA_VISIBLE_DEVICES"] = ""
    cmd = claimed(py, argv, d)
    if cmd is None:
        print(f"grid point {i} is already finished: {d}")
        return 0
    child = launch(cmd, d, env)
    rc = child.wait()
    rundir.release(d, {os.getpid(), child.pid})
    if rc != 0:
        print(f"grid point {i} failed: {d}/train.log")
        return 1
    print(f"grid point {i} done: {d}")
    return 0
