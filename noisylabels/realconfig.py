"""The flags of a run on a real-world noisy data set (realnoise.KINDS): resolved and checked, no torch.

config.resolve calls resolve() once the preset's setup is filled in. A real-world set's labels are its own noisy
ones, so synthetic noise and what needs the noise's transition matrix (forward and backward correction) are
refused; the flags that only a streamed set reads (--imagenet-val, --food101, --per-epoch, --crop, --jitter,
--workers) are refused on the others, and recorded as null there.
"""
import os

from . import presets
from .errors import UserError
from .realnoise import KINDS, MINI_CLASSES

# The side of the crops each set trains and is tested on: the papers' 224 (ResNet-50 on ImageNet-sized photos);
# ANIMAL-10N's images are 64 x 64 and its papers train on them as they are.
SIZE = {"webvision-mini": 224, "clothing1m": 224, "animal10n": 64, "food101n": 224}
NUM_CLASSES = {"webvision-mini": MINI_CLASSES, "clothing1m": 14, "animal10n": 10, "food101n": 101}
# Channel statistics on the 0..1 scale: ImageNet's, as the WebVision code of APL and ANL normalises; Clothing1M's
# own, as the DivideMix, eps-softmax and JAL code does.
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
STATS = {"webvision-mini": IMAGENET, "animal10n": IMAGENET, "food101n": IMAGENET,
         "clothing1m": ((0.6959, 0.6537, 0.6371), (0.3113, 0.3192, 0.3214))}
STREAMED_ONLY = ("per_epoch", "crop", "jitter", "workers")
MAX_WORKERS = 8  # the default's cap: past about 8 decoding processes a GPU host's other work starves


def flag(key):
    return "--" + key.replace("_", "-")


def check_preset(cfg):
    """A preset applies to a real-world set only where it has that set's protocol (presets.DATASET_PRESETS), and
    eps2024 to nothing else."""
    kind, preset = cfg["dataset"], cfg["preset"]
    covers = presets.covering(kind)
    if kind in KINDS and preset not in covers:
        raise UserError(f"--preset {preset} has no protocol for {kind}; choose --preset {' or '.join(covers)} "
                        f"(docs/protocols.md)")
    only = presets.ONLY_ON.get(preset)
    if only and kind not in only:
        raise UserError(f"--preset {preset} is the protocol of {' and '.join(only)} only, not {kind}; for that data "
                        f"set choose --preset {' or '.join(p for p in presets.PRESETS if p not in presets.ONLY_ON)}")


def resolve(cfg, sources, loss):
    """Fill and check the streamed flags of cfg (a Config being resolved; sources: its sources so far; loss: the
    canonical loss)."""
    kind = cfg["dataset"]
    real = kind in KINDS
    for key, applies, where in (("imagenet_val", kind == "webvision-mini", "--dataset webvision-mini"),
                                ("food101", kind == "food101n", "--dataset food101n"),
                                *((k, real, "the real-world sets (" + ", ".join(KINDS) + ")") for k in STREAMED_ONLY)):
        if cfg[key] is not None and not applies:  # crop and jitter too: no preset gives them on other sets
            raise UserError(f"{flag(key)} applies to {where} only, not {kind}; leave it out")
    if not real:
        for key in STREAMED_ONLY:
            cfg[key], sources[key] = None, "real-world sets only"
        return
    if cfg["noise"] != "none":
        raise UserError(f"--dataset {kind}'s labels are its own real-world noisy ones; --noise and --rate add "
                        f"synthetic noise to cifar10, cifar100, mnist or your own data: leave them out")
    if loss.split("+")[0] in ("fwd", "bwd"):
        raise UserError(f"--loss {loss} corrects with the noise's transition matrix, which {kind} does not "
                        f"give; choose another loss (docs/losses.md)")
    if cfg.get("M") is not None and cfg["M"] > 2:
        raise UserError(f"gjs with --M {cfg['M']} needs {cfg['M'] - 1} augmented views of each image, and "
                        f"{kind}'s images are decoded once per step; use --M 2 (JS)")
    if cfg["rotate"]:
        raise UserError(f"--rotate applies to cifar10, cifar100, mnist and your own data; {kind}'s augmentation "
                        f"is --crop and --jitter: leave --rotate out")
    if kind == "food101n" and cfg["food101"] is None:
        raise UserError("--dataset food101n is tested on Food-101's test split: add --food101 DIR, the Food-101 "
                        "folder holding meta/test.txt and images/ (docs/data-and-noise.md#real-world-noisy-data-sets)")
    for key in ("imagenet_val", "food101"):  # their folders are checked with --data-dir's (config.check_data_dir)
        if cfg[key] is not None:
            cfg[key] = os.path.abspath(cfg[key])
    if sources.get("stats") == "flag":
        raise UserError(f"--stats chooses CIFAR-10's statistics; {kind} is normalised with its own "
                        f"({'ImageNet' if STATS[kind] == IMAGENET else kind}'s): leave --stats out")
    cfg["stats"], sources["stats"] = None, f"{kind}'s own statistics (realconfig.STATS)"
    if cfg["image_size"] is None:
        cfg["image_size"], sources["image_size"] = SIZE[kind], f"{kind}'s crop side"
    if not 16 <= cfg["image_size"] <= 512:
        raise UserError(f"--image-size must be between 16 and 512 pixels, got {cfg['image_size']}")
    if cfg["per_epoch"] is not None and cfg["per_epoch"] < NUM_CLASSES[kind]:
        raise UserError(f"--per-epoch must be at least {kind}'s {NUM_CLASSES[kind]} classes (a balanced sample takes "
                        f"per_epoch // classes of each), got {cfg['per_epoch']}")
    if kind == "clothing1m" and cfg["val_fraction"]:
        if sources.get("val_fraction") == "flag":
            raise UserError("--dataset clothing1m selects on its clean validation list (clean_val_key_list.txt); "
                            "leave --val-fraction out")
        cfg["val_fraction"], sources["val_fraction"] = 0.0, "clothing1m: its clean validation list"
    if cfg["workers"] is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        cfg["workers"], sources["workers"] = min(cores, MAX_WORKERS), f"the {cores} CPU cores, at most {MAX_WORKERS}"
    if cfg["workers"] < 0:
        raise UserError(f"--workers must be 0 (decode in the training process) or more, got {cfg['workers']}")
