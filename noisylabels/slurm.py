"""--submit: a grid's unfinished points as one Slurm array job, and a job that runs plot.py after it.

Each array task runs `bash run_grid.sh` with the whole grid on its command line and SLURM_ARRAY_TASK_ID
set, so it trains its own point (scheduler.array_task) whatever environment the cluster passes on. The grid is
known to Slurm by its results folder: a second array writing the same folder is refused while one is queued.
"""
import os
import re
import shutil
import subprocess
import zlib

from . import presets
from . import rundir
from .errors import UserError
from .scheduler import HERE, prefetch, record_study

# Options --submit sets itself: the array, its name, logs, environment and folder.
OWN = ("--array", "-a", "--job-name", "-J", "--output", "-o", "--error", "-e", "--wrap", "--dependency", "-d",
       "--export", "--chdir", "-D")
GPU_WORDS = ("--gres", "--gpus", "-G") + tuple(f"--gpus-per-{x}" for x in ("node", "task", "socket"))


def bash_quote(v):
    """v quoted as bash's printf %q quotes it: a backslash before each special character, '' for nothing."""
    return re.sub(r"([^\w@%+=:,./-])", r"\\\1", v) if v else "''"


def ranges(ids):
    """[0, 1, 2, 5, 7, 8] -> '0-2,5,7-8'."""
    out, start = [], ids[0]
    for prev, i in zip(ids, ids[1:] + [None]):
        if i != prev + 1 if i is not None else True:
            out.append(f"{start}" if prev == start else f"{start}-{prev}")
            start = i
    return ",".join(out)


def without_gpus(args):
    """SBATCH_ARGS less its GPU requests, for the collect job (which runs plot.py)."""
    plain, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in GPU_WORDS:
            skip = True  # the request's value is the next word
        elif not a.startswith(tuple(w + "=" for w in GPU_WORDS)) and not (a.startswith("-G") and len(a) > 2):
            plain.append(a)
    return plain


def sbatch(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    return p.stdout.strip().split(";")[0] if p.returncode == 0 else None


def submit(s, points, py, force):
    if not (shutil.which("sbatch") and shutil.which("squeue")):
        raise UserError("--submit needs Slurm's sbatch and squeue on the PATH, and there are none here; run it on "
                        "the cluster's login node, or drop --submit to run the grid on this machine")
    if s["max_parallel"] and not (s["max_parallel"].isdigit() and int(s["max_parallel"]) >= 1):
        raise UserError(f"MAX_PARALLEL must be a whole number >= 1, got '{s['max_parallel']}'")
    args = s["sbatch_args"].split()
    for a in args:
        if a.split("=")[0] in OWN:
            raise UserError(f"SBATCH_ARGS may not hold {a}: --submit sets it (the array, its name, logs, "
                            f"environment and folder)")
    try:
        os.makedirs(os.path.join(s["results"], "slurm"), exist_ok=True)
    except OSError:
        raise UserError(f"cannot write into RESULTS={s['results']}; choose a writable folder") from None
    abs_ = os.path.realpath(s["results"])
    name = f"grid-{os.path.basename(abs_)}-{zlib.crc32(abs_.encode())}"
    q = subprocess.run(["squeue", "-h", f"--name={name}", "-o", "%F"], stdout=subprocess.PIPE, text=True)
    if q.returncode != 0 and not force:
        raise UserError("cannot ask squeue whether this grid is already queued (its message is above); try again, "
                        "or add --force")
    queued = ",".join(sorted(set(q.stdout.split()))) if q.returncode == 0 else ""
    if queued and not force:
        raise UserError(f"an array of this grid (RESULTS={s['results']}) is still queued or running: job {queued}; "
                        f"wait for it (squeue -j {queued}), cancel it (scancel {queued}), or add --force to submit "
                        f"anyway")
    n = len(points)
    todo = [i for i, (_, d, _) in enumerate(points) if rundir.state(d) != "done"]
    if not todo:
        print(f"nothing to submit: all {n} points of the grid are finished in {s['results']}")
        return 0
    prefetch(py, points)
    wrap = f"cd {bash_quote(os.getcwd())} && SUBMIT= PYTHON={bash_quote(py)} bash " \
           f"{bash_quote(os.path.join(HERE, 'run_grid.sh'))}"
    for k in ("study", "dataset", "preset", "losses", "seeds", *presets.NOISES, "epochs", "results", "extra"):
        wrap += f" --{k.replace('_', '-')} {bash_quote(s[k])}"
    record_study(s)
    cap = f"%{s['max_parallel']}" if s["max_parallel"] else ""
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    array = sbatch(["sbatch", "--parsable", f"--job-name={name}", f"--array={ranges(todo)}{cap}",
                    f"--output={abs_}/slurm/%A_%a.log", *args, "--wrap", wrap], env)
    if array is None:
        raise UserError("sbatch refused the array (its message is above); nothing was submitted")
    collect = sbatch(["sbatch", "--parsable", f"--job-name={name}-collect", f"--dependency=afterany:{array}",
                      f"--output={abs_}/slurm/collect-%j.log", *without_gpus(args), "--wrap",
                      f"cd {bash_quote(os.getcwd())} && {bash_quote(py)} {bash_quote(os.path.join(HERE, 'plot.py'))} "
                      f"{bash_quote(abs_)}"])
    if collect is None:
        raise UserError(f"sbatch refused the collect job (above); the array {array} is submitted: run python plot.py "
                        f"{s['results']} when it ends")
    print(f"submitted array job {array}: {len(todo)} of {n} points ({ranges(todo)}), {n - len(todo)} skipped "
          f"(already finished)" + (f", at most {s['max_parallel']} at once" if cap else ""))
    print(f"submitted collect job {collect}: python plot.py {s['results']} once the array has ended")
    print(f"logs: {abs_}/slurm/{array}_<index>.log per task, and each run's train.log")
    print(f"watch: squeue -j {array},{collect}   (after: sacct -j {array})   cancel: scancel {array} {collect}")
    print("submit again after a failure or a cancel: only what is still missing is submitted")
    return 0
