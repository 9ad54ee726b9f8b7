"""Train one run of the noisy-label study: one noise setting, one loss, one model, one seed.

Everything a run produces lives in its run directory: config.json (written first),
noise.json (the realised transition matrix and rate), labels.npy and clean_labels.npy
(the training labels, noisy and clean, before the split), log.csv (one row per epoch),
sample_loss.npz (each training sample's -log p_y~ at the last and the selected epoch),
best.pt and last.pt (written atomically), result.json (written last), and while it
trains, claim.json (rundir.py): one process trains a run at a time.
"""
import errno
import os
import shlex
import signal
import sys
import time

import numpy as np

try:
    import torch
except ImportError:  # one line, not a traceback: the grid and the plots need no torch, training does
    print("error: train.py needs torch, and this Python has none: pip install torch (the README's Install says "
          "which build)", file=sys.stderr)
    sys.exit(2)

from . import config
from . import diagnose
from . import keys
from . import labelfile
from . import realnoise
from . import rundir
from . import streamdata
from . import tboard
from .atomic import save_csv, save_json, save_torch
from .engine import OOM, make_step, pick_device, set_determinism
from .errors import UserError, die
from .rundata import prepare
from .runstate import Progress, epochs_done, refuse_or_finish, resume, rng_states

# One row of log.csv per epoch. train_*: from the logits of the training steps themselves (no extra
# pass). flipped_as_noisy / flipped_as_true: of the training samples whose label was flipped, the
# fraction predicted as the noisy and as the true label (memorisation); unflipped_acc: accuracy on
# the others; flip_auroc: diagnose.flip_auroc of the steps' -log p_y~. NaN where the split has no flipped (or no
# unflipped) samples. test_ece: diagnose.calibration's ECE on the clean test set.
LOG_COLUMNS = ["epoch", "train_loss", "train_acc_noisy", "train_acc_true", "train_flipped_as_noisy",
               "train_flipped_as_true", "train_unflipped_acc", "train_flip_auroc", "val_loss", "val_acc",
               "test_loss", "test_acc", "test_ece", "lr", "seconds"]
# What needs the clean training labels: empty for own data without --clean-labels.
MEMORISATION = ["train_acc_true", "train_flipped_as_noisy", "train_flipped_as_true", "train_unflipped_acc",
                "train_flip_auroc"]


def log_columns(S):
    """log.csv's columns: LOG_COLUMNS, then the loss and accuracy of each test set after the first (the streamed
    sets': ilsvrc12 beside webvision)."""
    return LOG_COLUMNS + [f"{name}_{k}" for name in S.test_names[1:] for k in ("loss", "acc")]


def one_epoch(cfg, step, S, epoch):
    """Train and evaluate one epoch; returns its log row, validation accuracy (None without a split), test
    accuracy, and the test set's calibration and the training samples' -log p_y~ of this epoch (diagnose.py)."""
    t0, lr = time.time(), step.opt.param_groups[0]["lr"]
    step.loss_fn.start_epoch(epoch)
    tr = S.fit(step, cfg, epoch)
    bad, per_sample = tr.pop("first_bad_batch"), tr.pop("sample_loss")
    if not S.clean_known:  # own data without --clean-labels: nothing is known to be flipped
        tr.update(dict.fromkeys(MEMORISATION))
    if bad > 0 or not np.isfinite(tr["train_loss"]):
        kept = f"last.pt still holds epoch {epoch - 1}" if epoch > 1 else "no checkpoint was written"
        where = f"epoch {epoch}, batch {bad}" if bad > 0 else f"epoch {epoch}"
        raise UserError(f"the training loss became NaN or inf in {where}, most likely because the learning rate "
                        f"({cfg['lr']}) is too high for this loss; {kept}: lower --lr and start again, or continue "
                        f"with --resume --force --lr SMALLER")
    step.sched.step()
    # Without a validation split there is no selection: the "best" model is the last epoch's, and the
    # val columns are left empty (not 0) so no reader mistakes them for a measurement.
    va_loss, va_acc, _ = S.validate(step, cfg["eval_batch_size"]) or (None, None, None)
    tests = S.test(step, cfg["eval_batch_size"])  # the first is the one test_acc and the selection report
    te_loss, te_acc, te_cal = tests[S.test_names[0]]
    others = {name: tests[name] for name in S.test_names[1:]}
    values = {**tr, "val_loss": va_loss, "val_acc": va_acc, "test_loss": te_loss, "test_acc": te_acc,
              "test_ece": te_cal["ece"], **{f"{n}_{k}": v for n, (l, a, _) in others.items()
                                           for k, v in (("loss", l), ("acc", a))}}
    row = {"epoch": epoch, **{k: "" if v is None else f"{v:.6f}" for k, v in values.items()}, "lr": f"{lr:.6g}",
           "seconds": f"{time.time() - t0:.2f}"}
    clean_run = config.setting(cfg) == "none-0.0"  # its labels are the true ones: nothing is noisy
    labels = S.val_labels if S.streamed else "noisy" if not cfg["clean_val"] and not clean_run else \
        "clean" if S.clean_known else "given"
    val = f"val ({labels} labels) loss {va_loss:.4f} acc {va_acc:.3f} | " \
        if va_acc is not None else ""
    acc = f"acc {tr['train_acc_noisy']:.3f}" if clean_run else f"acc noisy {tr['train_acc_noisy']:.3f}" + \
        (f" true {tr['train_acc_true']:.3f}" if S.clean_known else "")
    test = "test" if cfg["dataset"] in config.OWN else S.test_names[0] if S.streamed else "test (clean)"
    more = "".join(f" {n} acc {a:.3f}" for n, (_, a, _) in others.items())
    print(f"epoch {epoch:3d}/{cfg['epochs']}  train loss {tr['train_loss']:.4f} {acc} | {val}{test} acc {te_acc:.3f} "
          f"ECE {te_cal['ece']:.3f}{more} | {row['seconds']} s")
    return row, va_acc, te_acc, {"calibration": te_cal, "sample_loss": per_sample,
                                 "tests": {n: a for n, (_, a, _) in tests.items()}}


def save_epoch(out, step, cfg, S, p, improved):
    """last.pt first: if the run dies before best.pt is written, resuming rewrites best.pt from last.pt."""
    rec = keys.record(cfg)
    save_torch(os.path.join(out, "last.pt"), {
        "model": step.model.state_dict(), "optimizer": step.opt.state_dict(), "scheduler": step.sched.state_dict(),
        "epoch": p.epoch, "best": p.best, "config": rec, "rng": rng_states(), "wall": p.wall, "log": p.rows,
        "test_acc_last": p.te_acc, "loss": step.loss_fn.state_dict(), "sample_loss": p.sample_loss,
        "tests_last": p.tests_last})
    if improved:
        save_torch(os.path.join(out, "best.pt"), {"model": step.model.state_dict(), "config": rec, "epoch": p.epoch})
    save_csv(os.path.join(out, "log.csv"), log_columns(S), p.rows)
    rundir.renew(out)


def finish(cfg, out, step, S, p, record):
    """Test the selected model (again only when it is not the one p.tested measured), write sample_loss.npz, then
    result.json."""
    selects, best, tested, rows, wall = S.sizes[1] > 0, p.best, p.tested, p.rows, p.wall
    test_best, cal = p.te_acc, tested and tested["calibration"]  # the best model is the one just tested
    tests_best = dict(p.tests_last)
    if best["epoch"] != (tested and tested["epoch"]):
        step.model.load_state_dict(torch.load(os.path.join(out, "best.pt"), map_location=S.device,
                                              weights_only=True)["model"])
        scores = S.test(step, cfg["eval_batch_size"])
        _, test_best, cal = scores[S.test_names[0]]
        tests_best = {n: a for n, (_, a, _) in scores.items()}
    if p.sample_loss:
        diagnose.save_sample_loss(out, p.sample_loss, S.flipped(), S.tr, best["epoch"], len(rows), S.clean_known)
    result = {"selection": "best validation" if selects else "last epoch", "best_epoch": best["epoch"],
              "best_val_acc": best["val_acc"] if selects else None, "test_acc_best": test_best,
              "test_acc_last": p.te_acc, **diagnose.result_fields(rows, best["epoch"], cal),
              "realised_noise_rate": record["realised_rate"], "wall_seconds": round(wall, 2),
              "torch": torch.__version__, "device": str(S.device), "precision": cfg.facts["precision_used"],
              "git_commit": rundir.git_commit(), "command": shlex.join([os.path.basename(sys.executable)] + sys.argv)}
    if S.streamed:  # every test set of a real-world set, by name; test_acc_* above are the first's
        result.update(test_set=S.test_names[0], tests={n: {"acc_best": tests_best.get(n), "acc_last": p.tests_last.get(n)}
                                                       for n in S.test_names},
                      skipped_images={n: len(v) for n, v in sorted(S.skipped.items()) if v})
        if result["skipped_images"]:  # the accuracies are over the images that could be read
            print(f"warning: --skip-bad-images left out images that could not be read: "
                  f"{', '.join(f'{n} {k}' for n, k in result['skipped_images'].items())} (result.json's "
                  f"skipped_images); the accuracies are over the others", file=sys.stderr)
    save_json(os.path.join(out, "result.json"), result)
    how = f"val acc {best['val_acc']:.4f}" if selects else "no validation split, the last epoch"
    print(f"best epoch {best['epoch']} ({how}): test acc {test_best:.4f} -> {out}")


def run(cfg):
    """Train the run cfg describes (config.parse_args), or resume it; returns its run directory."""
    config.check(cfg)
    config.check_data_dir(cfg)
    config.check_files(cfg)
    out = config.run_dir(cfg)
    if refuse_or_finish(cfg, out):
        return out
    if cfg["resume"] and not os.path.exists(os.path.join(out, "last.pt")):
        print(f"note: --resume, and {out} holds no checkpoint (last.pt) yet: training it from epoch 1",
              file=sys.stderr)
    if cfg["tensorboard"]:
        tboard.require()
    device = pick_device(cfg["device"])
    set_determinism(cfg["deterministic"])
    cfg = cfg.copy()
    cfg["data_dir"], cfg.facts["forced"] = os.path.abspath(cfg["data_dir"]), []  # evaluate.py finds it
    S, record, labels, spec = (streamdata.prepare if cfg["dataset"] in realnoise.KINDS else prepare)(cfg, device)
    step = make_step(cfg, device, spec)
    step.loss_fn.bind(S.sizes[0], S.T, device, step.dtype)  # ELR's targets; fwd and bwd's transition matrix
    cfg.facts["precision_used"] = "bf16" if step.amp else "fp64" if step.dtype == torch.float64 else "fp32"
    rundir.claim(out)  # nothing written before this line
    tb = None
    try:
        p = Progress()
        if cfg["resume"] and os.path.exists(os.path.join(out, "last.pt")):
            p = resume(cfg, out, step, device)
        else:
            save_json(os.path.join(out, "config.json"), keys.record(cfg))
            save_json(os.path.join(out, "noise.json"), record)
            labelfile.save(out, *labels)  # --noise file --labels OUT/labels.npy trains on the same labels
            if record["warning"]:
                print(f"warning: {record['warning']}; training anyway", file=sys.stderr)
        save_csv(os.path.join(out, "log.csv"), log_columns(S), p.rows)
        rate = f"realised noise rate {record['realised_rate']:.4f}" if record["realised_rate"] is not None else \
            "its own noisy labels"
        tests = f"{S.sizes[2]} test" if not S.streamed else \
            " + ".join(f"{len(S.tests[n])} {n}" for n in S.test_names) + " test"
        print(f"{out}: {cfg['dataset']}, {cfg['arch']} on {device} ({cfg.facts['precision_used']}), {S.sizes[0]} "
              f"train / {S.sizes[1]} val / {tests}, {rate}")
        t_start = time.time() - p.wall
        tb = tboard.writer(out, p.epoch + 1, cfg) if cfg["tensorboard"] else None
        for epoch in range(p.epoch + 1, cfg["epochs"] + 1):
            row, va_acc, p.te_acc, diag = one_epoch(cfg, step, S, epoch)
            if tb:
                tboard.epoch(tb, row)
            p.epoch, p.tested = epoch, {"epoch": epoch, "calibration": diag["calibration"]}
            p.tests_last = diag["tests"]
            improved = va_acc is None or va_acc > p.best["val_acc"]  # selection on validation only, never on test
            if improved:
                p.best = {"epoch": epoch, "val_acc": va_acc}
            p.sample_loss = {"last": diag["sample_loss"],
                             "best": diag["sample_loss"] if improved else p.sample_loss.get("best")}
            p.rows.append(row)
            p.wall = time.time() - t_start
            save_epoch(out, step, cfg, S, p, improved)
        p.wall = time.time() - t_start
        finish(cfg, out, step, S, p, record)
    finally:
        if tb:
            tb.close()
        rundir.release(out)
    return out


def main(argv=None):
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill (the grid's, Slurm's) ends it as Ctrl-C does
    cfg = None
    try:
        flags = vars(config.parser().parse_args(argv))
        cfg = config.resolve(flags)
        if flags["show_config"]:  # the run as it would train, every value with its source; nothing trained
            config.check(cfg)
            config.check_files(cfg)
            print(config.show(cfg))
            return
        run(cfg)
    except UserError as e:  # data.DataError too; any other exception is a bug, and keeps its traceback
        die(e)
    except KeyboardInterrupt:
        n = epochs_done(cfg) if cfg else 0
        die(f"interrupted after epoch {n}; run the same command with --resume to continue" if n else
            "interrupted before the first epoch ended; run the same command again", 130)
    except OOM:
        b = cfg["batch_size"]
        die(f"out of GPU memory at --batch-size {b}; start again with --batch-size {max(b // 2, 1)} (and a smaller "
            f"--eval-batch-size), or continue with --resume --force --batch-size {max(b // 2, 1)}")
    except BrokenPipeError:  # the reader of stdout went away (python train.py --show-config | head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
    except OSError as e:  # disk full, a read-only or unwritable folder: the files written so far are whole
        die(cannot_write(e, cfg))


def cannot_write(e, cfg):
    """What an OSError while training says: which flag's folder, the fix, and whether --resume has anything to
    continue (a checkpoint written), so the user is not sent to resume a run that never started."""
    path = os.path.abspath(e.filename) if e.filename else ""
    flag = "--data-dir" if cfg and path.startswith(os.path.abspath(cfg["data_dir"])) else "--out"
    fix = "free some disk space" if e.errno == errno.ENOSPC else f"make {flag} writable, or give another {flag}"
    started = cfg is not None and os.path.exists(os.path.join(config.run_dir(cfg), "last.pt"))
    then = "run the same command with --resume; the files already written are intact" if started else \
        "run the same command again (no epoch of this run was saved)"
    return f"cannot write {e.filename or 'a file'} ({e.strerror or e}); {fix}, then {then}"


if __name__ == "__main__":
    main()
