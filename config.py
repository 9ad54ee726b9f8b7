"""The configuration of one run: flags, presets, the resolved values, their checks, and the run directory.

Run as a script (`python config.py < points`), it reads one train.py command line per line and
prints each one's run directory, or stops at the first bad one: run_grid.sh uses it to check a
whole grid before anything starts, and to know which runs are finished.

A value is resolved in this order: the flag as given on the command line, then the
loss's own paper default (sce's and ANL's weights, ANL's weight decay of 0), then the
preset's value for the data set (DATASET_PRESETS), then the preset. `config.json` records the
preset and every resolved value.
"""
import argparse
import contextlib
import io
import os
import sys

import noise
from losses import ANL_DELTA, PAIRS, SINGLE, canonical, default_weights, get_loss
from data import DATASETS
from model import ARCHS

# The protocols a preset stands for. `report`: the report's ResNet-18 setup.
# `ma2020`: Ma et al. 2020's CIFAR-10 protocol (8-layer CNN, SGD, 120 epochs, augmentation, clipping).
PRESETS = {
    "report": {"arch": "resnet18", "optimizer": "adamw", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4,
               "epochs": 30, "scheduler": "cosine", "augment": False, "grad_clip": 0.0, "gamma": 2.0},
    "ma2020": {"arch": "cnn8", "optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4,
               "epochs": 120, "scheduler": "cosine", "augment": True, "grad_clip": 5.0, "gamma": 0.5},
}
# Where a data set's defaults differ from its preset's CIFAR-10 ones. MNIST trains Ma et al.'s 4-layer CNN,
# without augmentation as in their code; CIFAR-100 under ma2020 the ResNet-34 their paper names.
DATASET_PRESETS = {
    ("report", "mnist"): {"arch": "cnn4"},
    ("ma2020", "mnist"): {"arch": "cnn4", "augment": False},
    ("ma2020", "cifar100"): {"arch": "resnet34"},
}
# Keys that may differ between a run and its --resume without changing any result.
# noise, rate, human_label, loss and seed are equal whenever the run directory is (sym 0.0 and asym 0.0 are
# both the clean run); "forced" is the record of earlier --force changes.
# channels_last and compile change how the same maths is laid out and scheduled, not what is computed.
# precision is only the request: what a resume compares is precision_used, bf16 or fp32 as resolved
# on this machine, so an auto run cannot switch silently when it moves to other hardware.
RESUME_FREE = {"resume", "force", "data_dir", "out", "loss_as_given", "run_dir", "forced",
               "noise", "rate", "human_label", "loss", "seed", "channels_last", "compile", "precision"}
# What --force may not change in a run in progress: the checkpoint's model, optimizer or split would not fit.
FORCE_NEVER = {"arch", "optimizer", "scheduler", "val_fraction", "clean_val", "dataset"}


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (its own are a usage block, then the error)."""

    def error(self, message):
        self.exit(2, f"error: {message}; see {self.prog} --help\n")


def preset_help(key):
    def one(name, p):
        other = [f"{v[key]} on {d}" for (n, d), v in DATASET_PRESETS.items() if n == name and key in v]
        return f"{p[key]} with --preset {name}" + (f" ({', '.join(other)})" if other else "")
    return "default: " + ", ".join(one(n, p) for n, p in PRESETS.items())


def add_compute_flags(p):
    """The flags of how training computes, not what: train.py's and bench.py's."""
    a = p.add_argument
    a("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto picks cuda when present (default: auto)")
    a("--deterministic", action=argparse.BooleanOptionalAction, default=True,
      help="deterministic algorithms, cudnn.benchmark off (default: on)")
    a("--precision", default="auto", choices=["auto", "bf16", "fp32"],
      help="bf16 autocast for the model (losses stay float32); auto picks bf16 where the hardware has it: "
           "CUDA GPUs of compute capability 8.0+, CPUs with AVX512-BF16 or AMX (default: auto)")
    a("--channels-last", action=argparse.BooleanOptionalAction, default=True,
      help="NHWC memory layout for the model and its inputs, faster convolutions (default: on)")
    a("--compile", action="store_true", help="torch.compile the training model; the first epoch pays for "
                                             "the compilation (default: off)")


def parse_args(argv=None):
    """Parse the command line and return the resolved configuration as a dict."""
    p = Parser(prog="train.py", description="Train one run of the noisy-label study.", allow_abbrev=False)
    a = p.add_argument
    a("--preset", default="report", choices=list(PRESETS),
      help="protocol the defaults below come from (default: report)")
    a("--dataset", default="cifar10", choices=list(DATASETS), help="data set (default: cifar10)")
    a("--data-dir", default="./data", help="folder with the data set, downloaded there on first use (default: ./data)")
    a("--out", default="results", help="results root; the run goes to "
                                      "OUT/<dataset>/<noise>-<rate or human label>/<loss>/seed<seed> (default: results)")
    a("--noise", default="none", choices=noise.KINDS, help="label noise type (default: none)")
    a("--rate", type=float, help="fraction of each (source) class whose label is flipped; not for human "
                                 "noise (default: 0.0)")
    a("--human-label", choices=sorted({k for sets in noise.HUMAN_LABELS.values() for k in sets}),
      help="human label set for --noise human: CIFAR-10N's aggre, random1-3 or worse, CIFAR-100N's noisy "
           "(default: worse on cifar10, noisy on cifar100)")
    a("--clean-val", action="store_true", help="give the validation split its clean labels (default: off, noisy)")
    a("--val-fraction", type=float, default=0.15, help="fraction of the training set held out (default: 0.15)")
    a("--loss", default="ce", metavar="NAME", help=f"one of: {', '.join(SINGLE + list(PAIRS))}, or active+passive "
                                                   f"such as nce+rce; the README lists them all (default: ce)")
    a("--alpha", type=float, help="weight of the first (active) part of an APL, sce or anl loss "
                                  "(default: 0.1 for sce, 5 for anl-*, else 1)")
    a("--beta", type=float, help="weight of the second (passive) part (default: 1 for sce, 5 for anl-*, else 1)")
    a("--gamma", type=float, help="focal exponent of fl, nfl, nfl-exp, anl-fl (" + preset_help("gamma") + ")")
    a("--q", type=float, default=0.7, help="exponent of gce and ngce (default: 0.7)")
    a("--delta", type=float, help=f"anl-* L1 weight on the parameters (default: {ANL_DELTA})")
    a("--temperature", type=float, default=1.0, help="T of the report's nce-exp and nfl-exp (default: 1.0)")
    a("--arch", choices=list(ARCHS), help="model (" + preset_help("arch") + ")")
    a("--epochs", type=int, help="training epochs (" + preset_help("epochs") + ")")
    a("--batch-size", type=int, default=128, help="training batch size (default: 128)")
    a("--eval-batch-size", type=int, default=1024, help="batch size for validation and test (default: 1024)")
    a("--optimizer", choices=["adamw", "sgd"], help="optimizer (" + preset_help("optimizer") + ")")
    a("--lr", type=float, help="initial learning rate (" + preset_help("lr") + ")")
    a("--weight-decay", type=float, help="weight decay (0 for anl-*; otherwise " + preset_help("weight_decay") + ")")
    a("--momentum", type=float, help="SGD momentum (" + preset_help("momentum") + ")")
    a("--scheduler", choices=["cosine", "none"], help="lr schedule over the epochs (" + preset_help("scheduler") + ")")
    a("--augment", action=argparse.BooleanOptionalAction,
      help="random crop (4-pixel padding) and horizontal flip, no flip on mnist (" + preset_help("augment") + ")")
    a("--grad-clip", type=float, help="clip the gradient norm to this, 0 for off (" + preset_help("grad_clip") + ")")
    a("--seed", type=int, default=42, help="seed of the noise, the split, the model and the data order (default: 42)")
    add_compute_flags(p)
    a("--resume", action="store_true", help="continue the run from its last.pt (default: off)")
    a("--force", action="store_true", help="with --resume: continue even where a setting that changes results "
                                           "differs from the checkpoint's, e.g. a lower --lr (default: off)")
    return resolve(vars(p.parse_args(argv)))


def resolve(cfg):
    """Fill every flag left unset from the loss's paper defaults, then from the preset."""
    cfg = dict(cfg)
    loss = canonical(cfg["loss"])  # an unknown name fails here, before anything is written
    # Weights a loss does not use are refused, and recorded as null, so config.json says what was trained.
    weighted, anl = "+" in loss or loss in PAIRS, loss.startswith("anl")
    for key, used in [("alpha", weighted), ("beta", weighted), ("delta", anl)]:
        if cfg[key] is not None and not used:
            raise ValueError(f"--{key} does not apply to the loss '{loss}'; leave it out, or use a loss that "
                             f"has it ({'APL, sce or anl-*' if key != 'delta' else 'anl-ce, anl-fl'})")
    if cfg["noise"] == "human":
        sets = noise.HUMAN_LABELS.get(cfg["dataset"])
        if sets is None:
            raise ValueError(f"--noise human needs human labels, and {cfg['dataset']} has none; they exist for "
                             f"cifar10 (CIFAR-10N) and cifar100 (CIFAR-100N)")
        if cfg["rate"] is not None:
            raise ValueError("--rate does not apply to --noise human: the human labels come with their own noise "
                             "(CIFAR-10N worse 40%, random1-3 17-18%, aggre 9%; CIFAR-100N noisy 40%); leave --rate "
                             "out and pick --human-label")
        cfg["human_label"] = cfg["human_label"] or noise.HUMAN_DEFAULT[cfg["dataset"]]
        if cfg["human_label"] not in sets:
            raise ValueError(f"--human-label {cfg['human_label']} is not a label set of {cfg['dataset']}; choose "
                             f"one of: {', '.join(sets)}")
    elif cfg["human_label"] is not None:
        raise ValueError("--human-label only applies to --noise human; add --noise human or leave it out")
    elif cfg["rate"] is None:
        cfg["rate"] = 0.0
    a, b = default_weights(loss) if weighted else (None, None)
    cfg["alpha"] = a if cfg["alpha"] is None else cfg["alpha"]
    cfg["beta"] = b if cfg["beta"] is None else cfg["beta"]
    cfg["delta"] = (ANL_DELTA if cfg["delta"] is None else cfg["delta"]) if anl else None
    if loss.startswith("anl") and cfg["weight_decay"] is None:
        cfg["weight_decay"] = 0.0  # ANL regularises with its own L1 term instead
    for key, value in {**PRESETS[cfg["preset"]], **DATASET_PRESETS.get((cfg["preset"], cfg["dataset"]), {})}.items():
        if cfg[key] is None:
            cfg[key] = value
    cfg["loss_as_given"], cfg["loss"] = cfg["loss"], loss
    return cfg


def check(cfg):
    """Raise ValueError, naming the flag, for values argparse cannot check."""
    old = legacy_dir(cfg)
    if old:
        raise ValueError(f"{old} holds this run from before runs were kept per data set; move it to its new "
                         f"place first (mkdir -p {os.path.dirname(run_dir(cfg))} && mv {old} {run_dir(cfg)}), "
                         f"then run again")
    if cfg["rate"] is not None and not 0.0 <= cfg["rate"] <= 1.0:
        raise ValueError(f"--rate must be in [0, 1], got {cfg['rate']}")
    if not 0.0 < cfg["val_fraction"] < 1.0:
        raise ValueError(f"--val-fraction must be in (0, 1), got {cfg['val_fraction']}")
    for key in ("epochs", "batch_size", "eval_batch_size"):
        if cfg[key] < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be at least 1, got {cfg[key]}")
    for key, need, ok in [("lr", "> 0", cfg["lr"] > 0), ("temperature", "> 0", cfg["temperature"] > 0),
                          ("q", "in (0, 1]", 0 < cfg["q"] <= 1), ("gamma", ">= 0", cfg["gamma"] >= 0),
                          ("weight_decay", ">= 0", cfg["weight_decay"] >= 0),
                          ("delta", ">= 0", (cfg["delta"] or 0) >= 0), ("grad_clip", ">= 0", cfg["grad_clip"] >= 0)]:
        if not ok:
            raise ValueError(f"--{key.replace('_', '-')} must be {need}, got {cfg[key]}")


def loss_from(cfg):
    return get_loss(cfg["loss"], DATASETS[cfg["dataset"]].num_classes, gamma=cfg["gamma"], q=cfg["q"], alpha=cfg["alpha"], beta=cfg["beta"],
                    temperature=cfg["temperature"], delta=cfg["delta"])


def setting(cfg):
    """<noise>-<rate>, or human-<label>; every clean run (noise none or rate 0) is none-0.0."""
    if cfg["noise"] == "human":
        return f"human-{cfg['human_label']}"
    kind, rate = (cfg["noise"], cfg["rate"]) if cfg["noise"] != "none" and cfg["rate"] > 0 else ("none", 0.0)
    return f"{kind}-{float(rate)!r}"


def run_dir(cfg):
    """OUT/<dataset>/<setting>/<loss>/seed<seed>: runs of different data sets never share a folder."""
    return os.path.join(cfg["out"], cfg["dataset"], setting(cfg), cfg["loss"], f"seed{cfg['seed']}")


def legacy_dir(cfg):
    """The folder a CIFAR-10 run had before --dataset (OUT/<setting>/<loss>/seed<seed>), if it holds this run
    and the run has not been moved to run_dir(cfg): resuming or skipping it must not start it again."""
    old = os.path.join(cfg["out"], setting(cfg), cfg["loss"], f"seed{cfg['seed']}")
    started = lambda d: any(os.path.exists(os.path.join(d, f)) for f in ("last.pt", "result.json"))  # noqa: E731
    return old if cfg["dataset"] == "cifar10" and started(old) and not os.path.exists(run_dir(cfg)) else None


def main(lines):
    for line in lines:
        said = io.StringIO()
        try:
            if {"-h", "--help"} & set(line.split()):
                raise ValueError("--help is not a training flag")
            with contextlib.redirect_stderr(said):  # argparse's own refusal, caught to name the grid point
                cfg = parse_args(line.split())
            check(cfg)
        except (ValueError, SystemExit) as e:
            why = e if isinstance(e, ValueError) else said.getvalue().strip().removeprefix("error: ")
            sys.exit(f"error: grid point ({line.strip()}): {why}")
        print(run_dir(cfg), os.path.abspath(cfg["data_dir"]), cfg["dataset"], cfg["noise"] == "human", sep="\t")


if __name__ == "__main__":
    main(sys.stdin.read().splitlines())
