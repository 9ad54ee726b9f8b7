"""Where a run stands and how it goes on: its Progress, whether its directory may start or is finished, last.pt
loaded into a step for --resume (with --force's changes recorded), and the epochs a checkpoint holds.

train.py calls these; what a checkpoint holds is train.save_epoch's.
"""
import csv
import os
import sys
from dataclasses import dataclass, field

import torch

from . import config
from . import keys
from . import rundir
from .atomic import save_json, save_torch
from .engine import apply_forced, load_optimizer
from .errors import UserError


@dataclass
class Progress:
    """Where a run stands: what last.pt holds besides the model, optimizer and schedule."""
    epoch: int = 0  # the last epoch trained
    best: dict = field(default_factory=lambda: {"epoch": 0, "val_acc": -1.0})
    rows: list = field(default_factory=list)  # log.csv's
    wall: float = 0.0  # seconds trained, over every process that trained the run
    te_acc: float = None  # the last epoch's test accuracy
    sample_loss: dict = field(default_factory=dict)  # the training samples' -log p_y~, "last" and "best"
    tested: dict = None  # the epoch (and its calibration) whose model te_acc measured in this process
    tests_last: dict = field(default_factory=dict)  # every test set's accuracy at the last epoch, by name


def rng_states():
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def refuse_or_finish(cfg, out):
    """Refuse what must not start (a run held by another process, one that exists without --resume); True when
    the run is finished and --resume asks for nothing more."""
    rundir.refuse_if_held(out)  # read only: the claim itself is taken once the data is loaded
    has_last = os.path.exists(os.path.join(out, "last.pt"))
    if has_last and not cfg["resume"]:
        was = rundir.recorded(out)
        other = rundir.differences(cfg, was) if was else {}
        if other:  # not this run: --resume would be refused too
            raise UserError(f"{out} already holds a run of other values ({rundir.said_differences(other)}); choose "
                            f"another --out for this one, or remove {out} to train it anew")
        raise UserError(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
    if not (cfg["resume"] and os.path.exists(os.path.join(out, "result.json"))):
        return False
    was = rundir.recorded(out) or {}
    other = {k: v for k, v in rundir.differences(cfg, was).items() if k != "epochs"} if was else {}
    if other:
        raise UserError(f"{out} is a finished run with other values ({rundir.said_differences(other)}); repeat its "
                        f"flags, or choose another --out for a new run")
    if cfg["epochs"] > was.get("epochs", cfg["epochs"]) and has_last:
        if cfg["force"]:
            return False
        raise UserError(f"{out} has finished its {was['epochs']} epochs; to train it on to {cfg['epochs']}, add "
                        f"--force (the schedule then runs to epoch {cfg['epochs']} from where it is), or choose "
                        f"another --out for a new run")
    print(f"{out} is already finished (result.json exists); nothing to do")
    return True


def resume(cfg, out, step, device):
    """Load last.pt into the model, optimizer and schedule; returns its Progress."""
    last = os.path.join(out, "last.pt")
    try:
        ck = torch.load(last, map_location=device, weights_only=True)
    except Exception as e:  # truncated or not a checkpoint: say so rather than print a traceback
        raise UserError(f"cannot read {last} ({type(e).__name__}); delete it (and best.pt) to start "
                        f"this run again from epoch 1") from None
    config.require_current(ck["config"], last)
    changed = rundir.differences(cfg, ck["config"])
    if changed and not cfg["force"]:
        raise UserError(f"--resume with different values ({rundir.said_differences(changed)}); repeat the original "
                        f"flags, choose another --out, or add --force to continue with the new values")
    if cfg["epochs"] < ck["epoch"]:
        raise UserError(f"--epochs {cfg['epochs']} is fewer than the {ck['epoch']} epochs {out} has already "
                        f"trained; give --epochs {ck['epoch']} or more, or start a new run with another --out")
    never = rundir.fixed(changed)
    if never:
        raise UserError(f"--force cannot change {', '.join(never)} of a run in progress (the model, optimizer or "
                        f"data split would no longer fit); start a new run with another --out")
    cfg.facts["forced"] = keys.facts_of(ck["config"])["forced"] or []
    if changed:  # recorded in config.json and the checkpoints: the run's settings changed at this epoch
        print(f"--force: continuing with {rundir.said_differences(changed)}", file=sys.stderr)
        cfg.facts["forced"] = cfg.facts["forced"] + [{"after_epoch": ck["epoch"], "changed": {k: list(v) for k, v in
                                                                                              changed.items()}}]
        save_json(os.path.join(out, "config.json"), keys.record(cfg))
    step.model.load_state_dict(ck["model"])
    load_optimizer(step.opt, ck["optimizer"])
    step.sched.load_state_dict(ck["scheduler"])
    step.loss_fn.load_state_dict(ck.get("loss", {}))  # ELR's targets: what it has learnt so far
    if changed:
        apply_forced(cfg, step.opt, step.sched, ck["epoch"])
    torch.set_rng_state(ck["rng"]["torch"])
    if "cuda" in ck["rng"] and device.type == "cuda":
        torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
    if ck["best"]["epoch"] == ck["epoch"]:  # killed between last.pt and best.pt: last.pt holds the best weights
        save_torch(os.path.join(out, "best.pt"), {"model": ck["model"], "config": keys.record(cfg),
                                                  "epoch": ck["epoch"]})
    print(f"resuming {out} after epoch {ck['epoch']}")
    # log.csv is rewritten from the checkpoint's rows: no missing, partial or extra rows
    return Progress(ck["epoch"], ck["best"], ck["log"], ck["wall"], ck["test_acc_last"], ck.get("sample_loss") or {},
                    tests_last=ck.get("tests_last") or {})


def epochs_done(cfg):
    """The epochs last.pt holds (what --resume continues from): log.csv is written just after it, so an interrupt
    between the two would count one too few from log.csv alone."""
    try:
        return torch.load(os.path.join(config.run_dir(cfg), "last.pt"), map_location="cpu", weights_only=True)["epoch"]
    except Exception:  # none yet, or cut off mid-write: the log's rows, or nothing
        try:
            with open(os.path.join(config.run_dir(cfg), "log.csv"), newline="") as f:
                return len(list(csv.DictReader(f)))
        except OSError:
            return 0
