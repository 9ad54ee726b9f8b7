"""Train one run of the noisy-label study: one noise setting, one loss, one model, one seed.

Everything a run produces lives in its run directory: config.json (written first),
noise.json (the realised transition matrix and rate), log.csv (one row per epoch),
best.pt and last.pt (written atomically) and result.json (written last).
"""
import errno
import json
import math
import os
import shlex
import subprocess
import sys
import time

import numpy as np
import torch

import batches
import config
import data
import noise
from engine import epoch_generators, evaluate, load_optimizer, make_step, pick_device, set_determinism, train_epoch

# One row of log.csv per epoch. train_*: from the logits of the training steps themselves (no extra
# pass). flipped_as_noisy / flipped_as_true: of the training samples whose label was flipped, the
# fraction predicted as the noisy and as the true label (memorisation); unflipped_acc: accuracy on
# the others. NaN where the split has no flipped (or no unflipped) samples.
OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)  # torch.OutOfMemoryError from 2.5
LOG_COLUMNS = ["epoch", "train_loss", "train_acc_noisy", "train_acc_true", "train_flipped_as_noisy",
               "train_flipped_as_true", "train_unflipped_acc", "val_loss", "val_acc", "test_loss", "test_acc",
               "lr", "seconds"]


def save_atomic(path, write):
    """Write through write(f) to a temporary name, then rename: a reader never sees half a file."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # a full disk says so at write or flush time, without naming the file
        raise OSError(e.errno, e.strerror, path) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_json(path, obj):
    save_atomic(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


def save_torch(path, obj):
    save_atomic(path, lambda f: torch.save(obj, f))


def rng_states():
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def git_commit():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=here,
                              capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def prepare(cfg, device):
    """Load the data set, corrupt the training labels, split; returns device tensors and the noise record."""
    spec = data.DATASETS[cfg["dataset"]]
    d = data.load(spec, cfg["data_dir"])
    x, y_true, x_test, y_test, C = d.x_train, d.y_train, d.x_test, d.y_test, spec.num_classes
    # Noise is applied to the whole training set before the split, as in the literature.
    if cfg["noise"] == "human":
        table = data.load_human(spec, cfg["data_dir"])
        y_noisy, T = noise.human_noisy_labels(table, cfg["human_label"], y_true, C, cfg["dataset"])
    else:
        flip_to = noise.asym_map(cfg["dataset"], d.superclass_of, cfg.get("asym_cifar100") or "superclass") \
            if cfg["noise"] == "asym" else None
        y_noisy, T = noise.make_noisy_labels(y_true, cfg["noise"], cfg["rate"], cfg["seed"], C, flip_to)
    # Stratified by the labels a researcher would actually see: the noisy ones.
    tr, va = batches.stratified_split(y_noisy, cfg["val_fraction"], [cfg["seed"], 1], C)
    if cfg["val_fraction"] > 0 and (len(va) == 0 or len(tr) == 0):
        raise ValueError(f"--val-fraction {cfg['val_fraction']} of classes this small ({len(y_true) / C:.1f} images "
                         f"each on average) leaves {'no validation' if len(va) == 0 else 'no training'} images; "
                         f"choose a {'larger' if len(va) == 0 else 'smaller'} --val-fraction")
    on = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
    splits = {"x_tr": on(x[tr]), "y_tr": on(y_noisy[tr]), "y_tr_true": on(y_true[tr]), "x_va": on(x[va]),
              "y_va": on(y_true[va] if cfg["clean_val"] else y_noisy[va]), "x_te": on(x_test), "y_te": on(y_test)}
    record = {"dataset": cfg["dataset"], "setting": config.setting(cfg), "transition_matrix": T.round(6).tolist(),
              "realised_rate": float((y_noisy != y_true).mean()), "n_flipped": int((y_noisy != y_true).sum()),
              "n_train_total": int(len(y_true)), "classes": d.classes}
    if d.superclass_of is not None:  # plot.py draws CIFAR-100's matrix within each superclass from these
        record.update(superclass_of=d.superclass_of.tolist(), superclasses=d.superclasses)
    return splits, record


def apply_forced(cfg, opt, sched, epoch):
    """--force: the restored optimizer and schedule take the new lr, weight decay, momentum and epochs.

    Loading their state brought back the old values; the schedule continues from `epoch` as if
    the new ones had held from the start.
    """
    for g in opt.param_groups:
        g["initial_lr"], g["weight_decay"] = cfg["lr"], cfg["weight_decay"]
        if "momentum" in g:
            g["momentum"] = cfg["momentum"]
    sched.base_lrs = [cfg["lr"]] * len(opt.param_groups)
    lr = cfg["lr"]
    if isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR):
        sched.T_max = cfg["epochs"]
        lo = cfg.get("eta_min") or 0.0
        lr = lo + 0.5 * (cfg["lr"] - lo) * (1 + math.cos(math.pi * epoch / cfg["epochs"]))  # its closed form at `epoch`
    for g in opt.param_groups:
        g["lr"] = lr


def write_log(path, rows):
    def write(f):
        f.write((",".join(LOG_COLUMNS) + "\n").encode())
        for r in rows:
            f.write((",".join(str(r[c]) for c in LOG_COLUMNS) + "\n").encode())
    save_atomic(path, write)


def run(cfg):
    config.check(cfg)
    device = pick_device(cfg["device"])
    set_determinism(cfg["deterministic"])
    out = config.run_dir(cfg)
    last_path, best_path, log_path = (os.path.join(out, f) for f in ("last.pt", "best.pt", "log.csv"))
    if os.path.exists(last_path) and not cfg["resume"]:
        raise ValueError(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
    if cfg["resume"] and os.path.exists(os.path.join(out, "result.json")):
        print(f"{out} is already finished (result.json exists); nothing to do")
        return out
    cfg = {**cfg, "run_dir": out, "data_dir": os.path.abspath(cfg["data_dir"]),  # so evaluate.py finds it
           "forced": []}

    S, record = prepare(cfg, device)
    step = make_step(cfg, device)
    model, opt, sched = step.model, step.opt, step.sched
    cfg["precision_used"] = "bf16" if step.amp else "fp64" if step.dtype == torch.float64 else "fp32"

    start, best, rows, wall0 = 1, {"epoch": 0, "val_acc": -1.0}, [], 0.0
    if cfg["resume"] and os.path.exists(last_path):
        try:
            ck = torch.load(last_path, map_location=device, weights_only=True)
        except Exception as e:  # truncated or not a checkpoint: say so rather than print a traceback
            raise ValueError(f"cannot read {last_path} ({type(e).__name__}); delete it (and best.pt) to start "
                             f"this run again from epoch 1") from None
        # Checkpoints from before --precision ran in fp32, those from before --dataset on CIFAR-10.
        was = config.upgrade(ck["config"], cfg)
        changed = sorted(k for k in set(cfg) | set(was) if k not in config.RESUME_FREE and cfg.get(k) != was.get(k))
        if changed and not cfg["force"]:
            raise ValueError(f"--resume with a different setting ({', '.join(changed)}); repeat the original "
                             f"flags, choose another --out, or add --force to continue with the new values")
        if cfg["epochs"] < ck["epoch"]:
            raise ValueError(f"--epochs {cfg['epochs']} is fewer than the {ck['epoch']} epochs {out} has already "
                             f"trained; give --epochs {ck['epoch']} or more, or start a new run with another --out")
        if set(changed) & config.FORCE_NEVER:
            raise ValueError(f"--force cannot change {', '.join(sorted(set(changed) & config.FORCE_NEVER))} of a "
                             f"run in progress (the model, optimizer or data split would no longer fit); "
                             f"start a new run with another --out")
        cfg["forced"] = ck["config"].get("forced", [])
        if changed:  # recorded in config.json and the checkpoints: the run's settings changed at this epoch
            print(f"--force: continuing with changed {', '.join(changed)}", file=sys.stderr)
            cfg["forced"] = cfg["forced"] + [{"after_epoch": ck["epoch"], "changed": {
                k: [was.get(k), cfg.get(k)] for k in changed}}]
            save_json(os.path.join(out, "config.json"), cfg)
        model.load_state_dict(ck["model"])
        load_optimizer(opt, ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        if changed:
            apply_forced(cfg, opt, sched, ck["epoch"])
        torch.set_rng_state(ck["rng"]["torch"])
        if "cuda" in ck["rng"] and device.type == "cuda":
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
        te_acc = ck["test_acc_last"]
        start, best, wall0 = ck["epoch"] + 1, ck["best"], ck["wall"]
        if best["epoch"] == ck["epoch"]:  # killed between last.pt and best.pt: last.pt holds the best weights
            save_torch(best_path, {"model": ck["model"], "config": cfg, "epoch": ck["epoch"]})
        rows = ck["log"]  # log.csv is rewritten from the checkpoint: no missing, partial or extra rows
        print(f"resuming {out} after epoch {ck['epoch']}")
    os.makedirs(out, exist_ok=True)
    if start == 1:
        save_json(os.path.join(out, "config.json"), cfg)
        save_json(os.path.join(out, "noise.json"), record)
    write_log(log_path, rows)
    print(f"{out}: {cfg['dataset']}, {cfg['arch']} on {device} ({cfg['precision_used']}), {len(S['x_tr'])} train / {len(S['x_va'])} "
          f"val / {len(S['x_te'])} test, realised noise rate {record['realised_rate']:.4f}")

    t_start = time.time() - wall0
    selects = len(S["x_va"]) > 0
    tested = None  # the epoch whose model this process last tested: te_acc is its test accuracy
    for epoch in range(start, cfg["epochs"] + 1):
        t0, lr = time.time(), opt.param_groups[0]["lr"]
        gens = epoch_generators(cfg["seed"], epoch, device)
        tr = train_epoch(step, S["x_tr"], S["y_tr"], S["y_tr_true"], cfg["batch_size"], gens, cfg["augment"],
                         cfg.get("rotate") or 0.0)
        bad = tr.pop("first_bad_batch")
        if bad > 0 or not np.isfinite(tr["train_loss"]):
            kept = f"last.pt still holds epoch {epoch - 1}" if epoch > 1 else "no checkpoint was written"
            where = f"epoch {epoch}, batch {bad}" if bad > 0 else f"epoch {epoch}"
            raise ValueError(f"the training loss became NaN or inf in {where}, most likely "
                             f"because the learning rate ({cfg['lr']}) is too high for this loss; {kept}: lower "
                             f"--lr and start again, or continue with --resume --force --lr SMALLER")
        sched.step()
        # Without a validation split there is no selection: the "best" model is the last epoch's, and the
        # val columns are left empty (not 0) so no reader mistakes them for a measurement.
        va_loss, va_acc = evaluate(step, S["x_va"], S["y_va"], cfg["eval_batch_size"]) if selects else (None, None)
        te_loss, te_acc = evaluate(step, S["x_te"], S["y_te"], cfg["eval_batch_size"])
        tested = epoch
        values = {**tr, "val_loss": va_loss, "val_acc": va_acc, "test_loss": te_loss, "test_acc": te_acc}
        row = {"epoch": epoch, **{k: "" if v is None else f"{v:.6f}" for k, v in values.items()}, "lr": f"{lr:.6g}",
               "seconds": f"{time.time() - t0:.2f}"}
        improved = va_acc > best["val_acc"] if selects else True  # selection on validation only, never on test
        if improved:
            best = {"epoch": epoch, "val_acc": va_acc}
        rows.append(row)
        # last.pt first: if the run dies before best.pt is written, resuming rewrites it from last.pt.
        save_torch(last_path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                               "scheduler": sched.state_dict(), "epoch": epoch, "best": best, "config": cfg,
                               "rng": rng_states(), "wall": time.time() - t_start, "log": rows,
                               "test_acc_last": te_acc})
        if improved:
            save_torch(best_path, {"model": model.state_dict(), "config": cfg, "epoch": epoch})
        write_log(log_path, rows)
        val = f"val {va_loss:.4f} {va_acc:.3f} | " if selects else ""
        print(f"epoch {epoch:3d}/{cfg['epochs']}  train loss {tr['train_loss']:.4f} acc noisy "
              f"{tr['train_acc_noisy']:.3f} true {tr['train_acc_true']:.3f} | {val}test {te_acc:.3f} | "
              f"{row['seconds']} s")

    test_best = te_acc  # when the best model is the one just tested, with this device and precision
    if best["epoch"] != tested:
        model.load_state_dict(torch.load(best_path, map_location=device, weights_only=True)["model"])
        _, test_best = evaluate(step, S["x_te"], S["y_te"], cfg["eval_batch_size"])
    result = {"selection": "best validation" if selects else "last epoch", "best_epoch": best["epoch"],
              "best_val_acc": best["val_acc"] if selects else None, "test_acc_best": test_best,
              "test_acc_last": te_acc, "realised_noise_rate": record["realised_rate"],
              "wall_seconds": round(time.time() - t_start, 2), "torch": torch.__version__, "device": str(device),
              "precision": cfg["precision_used"],
              "git_commit": git_commit(), "command": shlex.join([os.path.basename(sys.executable)] + sys.argv)}
    save_json(os.path.join(out, "result.json"), result)
    if selects:
        print(f"best epoch {best['epoch']}: val acc {best['val_acc']:.4f}, test acc {test_best:.4f} -> {out}")
    else:
        print(f"last epoch {best['epoch']} (no validation split): test acc {test_best:.4f} -> {out}")
    return out


def main(argv=None):
    cfg = None
    try:
        cfg = config.parse_args(argv)
        run(cfg)
    except (ValueError, data.DataError) as e:
        sys.exit(f"error: {e}")
    except OOM:
        b = cfg["batch_size"]
        sys.exit(f"error: out of GPU memory at --batch-size {b}; start again with --batch-size {max(b // 2, 1)} "
                 f"(and a smaller --eval-batch-size), or continue with --resume --force --batch-size {max(b // 2, 1)}")
    except OSError as e:  # disk full, a read-only or unwritable folder: the files written so far are whole
        fix = "free some disk space" if e.errno == errno.ENOSPC else "check that --out and --data-dir are writable"
        sys.exit(f"error: cannot write {e.filename or 'a file'} ({e.strerror or e}); {fix}, then run the same "
                 f"command with --resume; the files already written are intact")

if __name__ == "__main__":
    main()
