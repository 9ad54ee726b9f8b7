"""The whole study in one command: every (noise setting, loss, seed) of a grid through train.py, then plot.py.

Runs up to GPUS x JOBS_PER_GPU at once, each child pinned to one GPU by CUDA_VISIBLE_DEVICES; finished
runs are skipped, interrupted ones resumed, runs another process is training are left to it, and a run
whose config.json differs from what the grid asks is refused before anything starts. --submit hands the
unfinished points to Slurm (slurm.py); scheduler.py runs them here, and a Slurm array task
(SLURM_ARRAY_TASK_ID) runs its point alone. This resolves the settings and checks the points; scheduler.py holds
what running them takes (a point's command, study.json, the data download first), here and under Slurm.
Each setting is a flag or the environment variable in capitals; a flag wins over its variable, both over
the study. `bash run_grid.sh` finds a Python and runs this. Listing, dry runs and submitting need no torch.
"""
import os
import shlex
import sys

try:
    from . import config
    from . import noise
    from . import presets
    from . import realnoise
    from . import rundir
    from . import scheduler
    from .data import DATASETS
    from .errors import Parser, UserError, die, nearest
except ImportError as e:  # a login node's Python without the suite's requirements
    print(f"error: grid.py needs the Python package {e.name}; install the suite's requirements "
          f"(pip install -r requirements.txt), or set PYTHON to the interpreter that has them", file=sys.stderr)
    sys.exit(2)

# What train.py gets from the grid itself, so EXTRA may not set it.
GRID_SETS = ("--out", "--loss", "--noise", "--rate", "--seed", "--human-label", "--resume", "--dataset", "--preset")
# The noise settings a grid can hold: <KIND>_RATES for every noise model with a rate, and the human label sets.
NOISES = presets.NOISES
SETTINGS = ["study", "dataset", "preset", "losses", "seeds", *NOISES, "epochs", "results",
            "extra", "gpus", "jobs_per_gpu", "max_parallel", "sbatch_args"]


def parser():
    p = Parser(prog="run_grid.sh", add_help=False, description=(
        "Runs train.py over every noise setting x loss x seed, skipping finished runs and resuming interrupted "
        "ones, then calls plot.py on the results. Each flag can also be given as the environment variable in "
        "capitals (STUDY, LOSSES, SEEDS, ...); a flag wins over its variable, and both win over the study."))
    g = p.add_argument_group("The grid").add_argument
    g("--study", help=f"a named study: {', '.join(presets.STUDIES)}; it sets the six below and RESULTS "
                      f"(default: report)")
    g("--dataset", help="data set: cifar10, cifar100, mnist, or your own (folder, npz: name it with EXTRA=\"--data-dir "
                        "PATH\" and set the asymmetric rates to \"\") (default: the study's)")
    g("--preset", help="train.py --preset of every run (default: the study's)")
    g("--losses", help=f"losses to train (default: the study's; report: \"{presets.STUDIES['report']['losses']}\")")
    g("--seeds", help=f"seeds (default: the study's; report: \"{presets.STUDIES['report']['seeds']}\")")
    g("--sym-rates", help="symmetric noise rates; 0.0 is the clean run (default: the study's; report: "
                          f"\"{presets.STUDIES['report']['sym_rates']}\")")
    g("--asym-rates", help=f"asymmetric noise rates (default: the study's; report: "
                           f"\"{presets.STUDIES['report']['asym_rates']}\")")
    for kind in noise.RATED[2:]:
        g(f"--{kind}-rates", help=f"{noise.KIND_NAMES[kind]} noise rates (default: the study's; none in most)")
    g("--human", help="human label sets to add: CIFAR-10N's, e.g. \"aggre worse\", or CIFAR-100N's \"noisy\" "
                      "(default: none)")
    g("--human-matched", help="human label sets whose transition counts --noise human-matched draws on random "
                              "images, e.g. \"worse\" (default: none)")
    g("--epochs", help="epochs of every run (default: the preset's)")
    g("--results", help="results root, train.py's --out and plot.py's folder (default: results for the report, "
                        "results/<study> for the others, results/<preset> for the report's grid under another preset)")
    g("--extra", help="more train.py flags, shell-quoted, e.g. \"--arch cnn8\" (default: none)")
    g = p.add_argument_group("Where it runs").add_argument
    g("--gpus", help="number of GPUs to use (default: every visible GPU; 0: one run at a time on the CPU)")
    g("--jobs-per-gpu", help="runs at once on each GPU (default: 1)")
    g("--submit", action="store_true", help="submit the unfinished points to Slurm as one array job and a job that "
                                            "runs plot.py after it, then exit (also SUBMIT=1) (default: off)")
    g("--force", action="store_true", help="with --submit: submit even while an array of the same RESULTS is "
                                           "queued or running (default: off)")
    g("--max-parallel", help="with --submit: array tasks at once (default: no cap)")
    g("--sbatch-args", help="with --submit: more sbatch options, e.g. \"--partition gpu --gres=gpu:1\" "
                            "(default: none)")
    g = p.add_argument_group("What it shows").add_argument
    g("--dry-run", action="store_true", help="print the train.py commands and exit (default: off)")
    g("--list", action="store_true", help="print the study and its numbered grid with each point's state, and "
                                          "exit (default: off)")
    g("-h", "--help", action="help", help="show this help and exit; PYTHON=... (a variable only) is the "
                                          "interpreter of train.py (default: this one)")
    return p


def settings(args, env):
    """Every setting resolved: the flag, else the variable (set, even empty), else the study's or the default."""
    s = {k: getattr(args, k) if getattr(args, k) is not None else env.get(k.upper()) for k in SETTINGS}
    s["study"] = s["study"] or "report"
    if s["study"] not in presets.STUDIES:
        raise UserError(f"unknown study '{s['study']}'; choose one of: {', '.join(presets.STUDIES)}"
                        f"{nearest(s['study'], presets.STUDIES)}")
    study = presets.STUDIES[s["study"]]
    for k in ("dataset", "preset", "losses", "seeds", *NOISES):
        s[k] = study.get(k, "") if s[k] is None else s[k]
    own = ("seeds",) + NOISES
    s["rates_from"] = study["rates_from"] if [s[k] for k in own] == [study.get(k, "") for k in own] else \
        f"given here (the study's own: {study['rates_from']})"
    for k, v in (("epochs", ""), ("extra", ""), ("gpus", ""), ("jobs_per_gpu", "1"),
                 ("max_parallel", ""), ("sbatch_args", "")):
        s[k] = v if s[k] is None else s[k]
    # A study's runs have a folder of their own: run directories do not name the preset, so two protocols in one
    # folder would take each other's finished runs for their own. The report's grid under another preset too.
    if s["results"] is None:
        own = s["study"] if s["preset"] == study["preset"] else f"{s['study']}-{s['preset']}"
        s["results"] = os.path.join("results", s["preset"] if s["study"] == "report" else own) \
            if (s["study"], s["preset"]) != ("report", "report") else "results"
    if not s["results"] or any(c.isspace() for c in s["results"]):
        raise UserError(f"RESULTS must be a folder name without spaces, got '{s['results']}'")
    if not s["jobs_per_gpu"].isdigit() or int(s["jobs_per_gpu"]) < 1:
        raise UserError(f"JOBS_PER_GPU must be a whole number >= 1, got '{s['jobs_per_gpu']}'")
    return s


def impossible(s):
    """{grid variable: why} for the noise the data set cannot have: own data has no class map for asymmetric noise
    and no human labels; of the named data sets only CIFAR-10 and CIFAR-100 have human labels."""
    why = {}
    if s["dataset"] in realnoise.KINDS:  # its one setting is its own labels: the clean point of every rated noise
        return {k: "its own noisy labels: no synthetic noise is added to them" for k in NOISES
                if any(k not in ("sym_rates", "asym_rates") or float(r) for r in s[k].split())}
    if s["dataset"] in config.OWN and s["asym_rates"].split():
        why["asym_rates"] = "no class map for asymmetric noise (pairflip is the one for any classes)"
    for k in ("human", "human_matched"):
        if s[k].split() and s["dataset"] not in noise.HUMAN_LABELS:
            why[k] = "no human labels (CIFAR-10 and CIFAR-100 have them)"
    return why


def grid_points(s):
    """[(argv, run dir, cfg)] in --list order: seed, then setting (the shared clean run first), then loss."""
    extra = shlex.split(s["extra"])
    for a in extra:
        if a.split("=")[0] in GRID_SETS or a.startswith("--human-label"):
            raise UserError(f"EXTRA may not hold {a}: the grid sets it (use RESULTS, DATASET, PRESET, LOSSES, "
                            f"SYM_RATES/ASYM_RATES/IDN_RATES/.../HUMAN, SEEDS)")
    if s["epochs"]:
        extra += ["--epochs", s["epochs"]]
    for k, why in impossible(s).items():  # said once, before anything starts; the grid (and study.json) without it
        print(f"note: {k.upper()}={s[k]!r} left out: --dataset {s['dataset']} has {why}; set {k.upper()}=\"\" to "
              f"leave it out yourself", file=sys.stderr)
        s[k] = ""
    noises = [["--noise", k, "--rate", r] for k in noise.RATED for r in s[f"{k}_rates"].split()]
    noises += [["--noise", k.replace("_", "-"), "--human-label", h] for k in ("human", "human_matched")
               for h in s[k].split()]
    if s["dataset"] in realnoise.KINDS:
        noises = [[]]  # no --noise: train.py refuses it on a real-world set, whose labels are their own
    points, seen = [], set()
    for seed in s["seeds"].split():
        for n in noises:
            for loss in s["losses"].split():
                argv = ["--dataset", s["dataset"], "--preset", s["preset"], *n, "--loss", loss, "--seed", seed,
                        "--out", s["results"], *extra]
                # Every point is checked by train.py's own configuration code before anything starts: a typo
                # in LOSSES fails here, not after an hour.
                try:
                    if {"-h", "--help"} & set(argv):
                        raise UserError("--help is not a training flag")
                    cfg = config.parse_args(argv)
                    config.check(cfg)
                    config.check_files(cfg)
                except UserError as e:
                    raise UserError(f"grid point ({shlex.join(argv)}): {e}") from None
                d = config.run_dir(cfg)
                if d not in seen:  # the clean run reached from both schedules, an alias beside its loss: one run
                    seen.add(d)
                    points.append((argv, d, cfg))
    if not points:
        raise UserError("the grid is empty; give LOSSES, SEEDS and at least one rate")
    return points


def state(d, cfg):
    """rundir.state, or differs: finished or started with values other than the grid asks for."""
    st = rundir.state(d)
    if st in ("done", "resume"):
        was = rundir.recorded(d)
        if was is not None and rundir.differences(cfg, was):
            return "differs"
    return st


def refuse_differing(points):
    for i, (_, d, cfg) in enumerate(points):
        if state(d, cfg) == "differs":
            diff = rundir.differences(cfg, rundir.recorded(d))
            raise UserError(f"point {i} ({d}) was trained with other values than this grid asks for "
                            f"({rundir.said_differences(diff)}, recorded -> asked); give this grid another RESULTS, "
                            f"or remove {d} to train it again")


def listing(s, points):
    print(f"study {s['study']}: {s['dataset']}, --preset {s['preset']}{', --epochs ' + s['epochs'] if s['epochs'] else ''}"
          f", into {s['results']}")
    print(f"  losses ({len(s['losses'].split())}): {s['losses']}")
    rates = [f"{k.replace('_rates', '').replace('_', '-')}{' rates' if k.endswith('rates') else ''}: {s[k] or 'none'}"
             for k in NOISES if s[k] or k in ("sym_rates", "asym_rates")]
    if s["dataset"] in realnoise.KINDS:  # one setting: the set's own labels (the grid's clean point)
        rates = ["noise: the data set's own labels"]
    print(f"  {'; '.join(rates)}; seeds ({len(s['seeds'].split())}): {s['seeds']}")
    C = DATASETS[s["dataset"]].num_classes if s["dataset"] in DATASETS else None
    for k in ("uniform", "idn") if C else ():  # where the fraction of labels changed is not the rate
        said = {"uniform": "a resample may keep the class: rate x (C - 1) / C", "idn": "the truncated normal's mean"}
        if s[f"{k}_rates"]:
            e = ", ".join(f"{float(r):g} -> {noise.expected_rate(k, float(r), C):.4f}"
                          for r in s[f"{k}_rates"].split())
            print(f"  {k}: expected fraction of labels changed {e} ({said[k]})")
    print(f"  rates and seeds from: {s['rates_from']}")
    for i, (_, d, cfg) in enumerate(points):
        print(f"{i:4d}  {state(d, cfg):<7} {d}")
    print(f"{len(points)} run{'' if len(points) == 1 else 's'}; done: finished, resume: has last.pt, running: being trained now, new: not started, "
          f"differs: trained with other values than asked")


def main(argv=None, env=None):
    env = os.environ if env is None else env
    try:
        args = parser().parse_args(argv)
        submit = args.submit or env.get("SUBMIT", "") == "1"
        if env.get("SUBMIT", "") not in ("", "0", "1"):
            raise UserError(f"SUBMIT must be 1 (submit to Slurm) or empty, got '{env['SUBMIT']}'")
        if args.force and not submit:
            raise UserError("--force only applies to --submit")
        s = settings(args, env)
        points = grid_points(s)
        py = env.get("PYTHON") or sys.executable
        if args.list:
            return listing(s, points)
        refuse_differing(points)
        if not args.dry_run:  # a missing data folder said now, not in every run's train.log (--list plans without it)
            for cfg in {c["data_dir"]: c for _, _, c in points}.values():
                config.check_data_dir(cfg)
        if args.dry_run:
            for i, (a, d, cfg) in enumerate(points):
                st = state(d, cfg)
                print(f"# {i} {st}: {d}" if st in ("done", "running") else
                      shlex.join(scheduler.command(py, a, st == "resume")))
            return 0
        if submit:
            from . import slurm
            return slurm.submit(s, points, py, args.force)
        if env.get("SLURM_ARRAY_TASK_ID"):
            return scheduler.array_task(env["SLURM_ARRAY_TASK_ID"], points, py)
        return scheduler.run_local(s, points, py)
    except UserError as e:
        die(e)
    except BrokenPipeError:  # the reader of stdout went away (--list | head): not an error, as train.py's
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
