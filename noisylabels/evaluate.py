"""Evaluate a trained model on its data set's clean test set: accuracy, per-class accuracy, confusion matrix,
and calibration (expected calibration error over 15 confidence bins, diagnose.py). A run on a real-world set is
evaluated on each of its test sets (webvision and ilsvrc12 for WebVision mini), streamed from disk.

Takes a run directory (uses its best.pt) or a checkpoint file, and writes eval.json
beside the checkpoint. Its accuracy is computed by the same code as train.py's, so
it equals result.json's test_acc_best exactly on the same device.
"""
import os
import sys

import numpy as np
import torch

from . import config
from . import data
from . import datasets
from . import diagnose
from . import keys
from . import realnoise
from . import streamdata
from .errors import Parser, UserError, die
from .engine import amp_dtype, model_dtype, model_for, pick_device, predict, set_determinism
from .atomic import save_json


def parser():
    p = Parser(prog="evaluate.py", description="Evaluate a checkpoint on its data set's clean test set.")
    p.add_argument("path", help="run directory (its best.pt is used) or a .pt checkpoint")
    p.add_argument("--data-dir", default=None, help="the data set's folder (default: the run's own --data-dir)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto picks cuda when present (default: auto)")
    return p


def load_checkpoint(path):
    """(checkpoint path, checkpoint) of a run directory's best.pt, or of a .pt file, checked to be this suite's."""
    ckpt_path = os.path.join(path, "best.pt") if os.path.isdir(path) else path
    if not os.path.isfile(ckpt_path):
        raise UserError(f"no checkpoint at {ckpt_path}; give a run directory that holds best.pt, or a .pt file")
    try:
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        ck["config"]["arch"]
    except Exception as e:  # not a torch file, or not one of ours
        raise UserError(f"{ckpt_path} is not a checkpoint of this suite ({type(e).__name__}); "
                         f"point at a best.pt or last.pt written by train.py") from None
    config.require_current(ck["config"], ckpt_path)
    return ckpt_path, ck


def model_of(ckpt_path, ck, spec):
    """The checkpoint's network, shaped for the data set's Spec, with its weights."""
    arch = ck["config"]["arch"]
    model = model_for(arch, spec)
    try:
        model.load_state_dict(ck["model"])
    except (RuntimeError, KeyError, TypeError) as e:
        raise UserError(f"the weights in {ckpt_path} do not fit its architecture '{arch}' "
                         f"({str(e).splitlines()[0].rstrip(':. ')}); the file was changed after train.py wrote it, "
                         f"evaluate the run's own best.pt") from None
    return model


def confusion(y, pred, num_classes):
    """C[i, j] = number of test images of class i predicted as j."""
    return np.bincount(y * num_classes + pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def main(argv=None):
    try:
        args = parser().parse_args(argv)
        device = pick_device(args.device)
        ckpt_path, ck = load_checkpoint(args.path)
        cfg = ck["config"]
        set_determinism(cfg["deterministic"])  # before any CUDA work, as in train.py
        if cfg["dataset"] in realnoise.KINDS:
            return streamed(args, ckpt_path, ck, device)
        # A named data set's shape is known without its files: the weights are checked before any data is read.
        model = None if cfg["dataset"] in config.OWN else model_of(ckpt_path, ck, data.spec_for(cfg["dataset"]))
        d, spec, keep_cache = datasets.for_run({**cfg, "data_dir": args.data_dir or cfg["data_dir"]})
        if keep_cache:
            keep_cache()
        if spec.digest and spec.digest != keys.facts_of(cfg)["data_sha256"]:
            print(f"note: these images differ from the ones {ckpt_path} was trained and tested on (data_sha256); "
                  f"the accuracy is not result.json's", file=sys.stderr)
        model = (model_of(ckpt_path, ck, spec) if model is None else model).to(device)
    except UserError as e:  # data.DataError too
        die(f"{e}")
    model, amp, fmt = as_trained(model, cfg, device)
    logits = predict(model, torch.from_numpy(d.x_test).to(device), cfg["eval_batch_size"], spec, amp, fmt)
    out = {"checkpoint": ckpt_path, "epoch": ck.get("epoch"), **scores(logits, d.y_test, d.classes),
           "dataset": spec.name}
    where = os.path.join(os.path.dirname(ckpt_path), "eval.json")
    save_json(where, out)
    clean = "" if cfg["dataset"] in config.OWN else "clean "
    said(ckpt_path, out, f"{clean}test images", where, d.classes)


def as_trained(model, cfg, device):
    """The model in the run's own precision and layout, so the accuracy matches its result.json: (model, amp, fmt)."""
    precision = keys.facts_of(cfg)["precision_used"]
    fmt = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
    return model.to(device, model_dtype(precision), memory_format=fmt), amp_dtype(precision, device), fmt


def scores(logits, y, classes):
    """eval.json's measures of logits [N, C] against labels y [N] (numpy)."""
    pred, cal = logits.argmax(1).cpu().numpy(), diagnose.calibration(logits, torch.as_tensor(y).to(logits.device))
    C = confusion(np.asarray(y), pred, len(classes))
    n_c = C.sum(1)  # a class with no test image has no accuracy: null, not 0
    per_class = [round(float(h / n), 6) if n else None for h, n in zip(C.diagonal(), n_c)]
    return {"test_acc": int(C.diagonal().sum()) / len(y), "n_test": len(y), "per_class_acc": dict(zip(classes, per_class)),
            "confusion_matrix": C.tolist(), "ece": cal["ece"],
            "reliability": {k: cal[k] for k in ("count", "confidence", "accuracy")}}


def said(ckpt_path, out, what, where, classes):
    print(f"{ckpt_path} (epoch {out['epoch']}): test accuracy {out['test_acc']:.4f} on {out['n_test']} {what}, "
          f"expected calibration error {out['ece']:.4f} ({diagnose.ECE_BINS} bins)")
    if len(classes) > 10:  # a 100 x 100 matrix is for eval.json, not the terminal
        print(f"per-class accuracy and the {len(classes)} x {len(classes)} confusion matrix: {where}")
        return
    print(table(classes, np.asarray(out["confusion_matrix"])))


def streamed(args, ckpt_path, ck, device):
    """A real-world set's run: every one of its test sets, decoded from disk as train.py decodes them; eval.json holds
    each under "tests", and the first at the top level, as result.json's test_acc."""
    cfg = ck["config"]
    try:
        listing = realnoise.read(cfg["dataset"], args.data_dir or cfg["data_dir"], imagenet_val=cfg["imagenet_val"],
                                 food101=cfg["food101"])
        spec = streamdata.spec_of(cfg, listing.classes)
        model, amp, fmt = as_trained(model_of(ckpt_path, ck, spec), cfg, device)
        workers = cfg["workers"] or 0
        tests = {}
        for name, items in listing.tests.items():
            logits, y = streamdata.predict(model, streamdata.images_of(cfg, items), cfg["eval_batch_size"], workers,
                                           spec, amp, fmt, set())
            tests[name] = scores(logits, y.cpu().numpy(), listing.classes)
    except UserError as e:
        die(f"{e}")
    first = next(iter(tests))
    out = {"checkpoint": ckpt_path, "epoch": ck.get("epoch"), "test_set": first, **tests[first],
           "dataset": cfg["dataset"], "tests": tests}
    where = os.path.join(os.path.dirname(ckpt_path), "eval.json")
    save_json(where, out)
    for name, t in tests.items():
        said(ckpt_path, {**t, "epoch": out["epoch"]}, f"images of {name}", where, listing.classes)


def table(classes, C):
    """Per-class accuracy and the confusion matrix as one headed table: a row per true class, a column per
    predicted class (numbered; the key is the row's number), then the class's images and accuracy."""
    w = max(5, len(str(C.max())) + 1)
    head = f"{'':>3} {'true class':<12}" + "".join(f"{j:>{w}}" for j in range(len(C))) + f"{'images':>8}{'accuracy':>10}"
    lines = [f"{'':>16}predicted as class:", head]
    for i, (name, row) in enumerate(zip(classes, C)):
        n = row.sum()
        lines.append(f"{i:>3} {name[:12]:<12}" + "".join(f"{v:>{w}d}" for v in row)
                     + f"{n:>8d}" + (f"{row[i] / n:>10.4f}" if n else f"{'-':>10}"))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
