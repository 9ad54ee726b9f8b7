"""The configuration of one run: flags, their resolution through the presets, their checks, and the run directory.

A value is resolved in this order: the flag as given on the command line, then the preset's
loss table (that loss's own values on that data set, presets.LOSS_TABLE), then the loss's
paper values for the data set (registry.py, with what its paper changes in the setup: ANL's
weight decay of 0), then the preset's value for the data set. `config.json` records every
resolved value, and in "sources" where each one came from. Nothing here imports torch: the grid
checks every point with this module on a machine that has none.
"""
import argparse
import json
import os
import sys

from . import labelfile
from . import noise
from . import owndata
from . import presets
from . import registry
from .data import DATASETS, RELEASED_STATS
from .errors import Parser, UserError
from .registry import OWN_KEYS, PAIRS, SINGLE, canonical, default_hp, uses

PRESETS, DATASET_PRESETS = presets.PRESETS, presets.DATASET_PRESETS
# Keys that may differ between a run and its --resume without changing any result.
# noise, rate, human_label, loss and seed are equal whenever the run directory is (sym 0.0 and asym 0.0 are
# both the clean run); "forced" is the record of earlier --force changes, "sources" of where values came from.
# channels_last and compile change how the same maths is laid out and scheduled, not what is computed.
# precision is only the request: what a resume compares is precision_used, bf16 or fp32 as resolved
# on this machine, so an auto run cannot switch silently when it moves to other hardware.
RESUME_FREE = {"resume", "force", "data_dir", "data_dir_given", "out", "loss_as_given", "run_dir", "forced", "sources",
               "noise", "rate", "human_label", "loss", "seed", "channels_last", "compile", "precision", "labels",
               "noise_warning", "tensorboard", "data_name", "clean_labels", "skip_bad_images"}
# What --force may not change in a run in progress: the checkpoint's model, optimizer, schedule, split or labels
# would not fit.
# The values of the losses of 2026-12-02: a run written before has none, and they are null for every loss it could
# have trained.
ADDED_LATER = {"t", "order", "tau", "pi", "M", "margin", "m", "logit_clip", "sr", "sr_normalise",
               "labels", "labels_key", "labels_sha256", "expected_rate",  # the noise models of 2026-12-02
               "image_size", "skip_bad_images", "clean_labels", "clean_labels_sha256", "data_sha256", "data_name",
               "tensorboard"}  # own data and TensorBoard, 2026-12-03
FORCE_NEVER = {"arch", "optimizer", "scheduler", "val_fraction", "clean_val", "dataset", "nesterov", "eta_min",
               "asym_cifar100", "stats", "labels_sha256", "labels_key",
               "data_sha256", "clean_labels_sha256", "image_size"}
OWN = owndata.KINDS  # the user's own data sets: read from --data-dir, named in run directories by it


def preset_help(key):
    """'default: V with --preset P (V' on D, ...)' for each preset, from the preset tables."""
    text = lambda v: ("on" if v else "off") if isinstance(v, bool) else str(v)  # noqa: E731
    def one(name, p):
        other = [f"{text(v[key])} on {d}" for (n, d), v in DATASET_PRESETS.items() if n == name and key in v]
        return f"{text(p[key])} with --preset {name}" + (f" ({', '.join(other)})" if other else "")
    return "default: " + ", ".join(one(n, p) for n, p in PRESETS.items())


def add_compute_flags(a):
    """The flags of how training computes, not what, added with a (an add_argument): train.py's and bench.py's."""
    a("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto picks cuda when present (default: auto)")
    a("--deterministic", action=argparse.BooleanOptionalAction, default=True,
      help="deterministic algorithms, cudnn.benchmark off (default: on)")
    a("--precision", default="auto", choices=["auto", "bf16", "fp32", "fp64"],
      help="bf16 autocast for the model (losses stay float32); auto picks bf16 where the hardware has it: "
           "CUDA GPUs of compute capability 8.0+, CPUs with AVX512-BF16 or AMX; fp64 is for reference runs whose "
           "numbers must not depend on the CPU (slow) (default: auto)")
    a("--channels-last", action=argparse.BooleanOptionalAction, default=True,
      help="NHWC memory layout for the model and its inputs, faster convolutions (default: on)")
    a("--compile", action="store_true", help="torch.compile the training model; the first epoch pays for "
                                             "the compilation (default: off)")


def parser():
    """train.py's flags, in the groups --help shows them in."""
    p = Parser(prog="train.py", description="Train one run of the noisy-label study.")
    a = p.add_argument_group("protocol").add_argument
    a("--preset", default="report", choices=list(PRESETS),
      help="protocol the defaults below come from: report, ma2020 (Ma et al. 2020's released configs), ye2023 "
           "(Ye et al. 2023's); each sets its losses' own values per data set too (default: report)")
    a = p.add_argument_group("data").add_argument
    a("--dataset", default="cifar10", choices=list(DATASETS) + list(OWN),
      help="data set; folder: your own images in --data-dir's train/<class>/ and test/<class>/, npz: your own "
           "arrays in the .npz file --data-dir names (docs/data-and-noise.md#your-own-data) (default: %(default)s)")
    a("--data-dir", help="folder with the data set; ./data is made and the data set downloaded there on first use, "
                         "a folder given here must exist; with --dataset npz, the .npz file (default: ./data)")
    a("--image-size", type=int, metavar="PX", help="with --dataset folder, the side every image is resized to "
                                                   "(default: 32)")
    a("--skip-bad-images", action="store_true", help="with --dataset folder, leave out the files Pillow cannot open, "
                                                     "and count them, instead of stopping (default: off)")
    a("--clean-labels", metavar="PATH", help="with --dataset folder or npz, the clean labels of the training images, "
                                             "in --labels' formats: memorisation is measured against them (default: "
                                             "none; the memorisation columns stay empty)")
    a("--val-fraction", type=float, help="fraction of the training set held out for model selection; 0 trains on "
                                         "all of it and keeps the last epoch (" + preset_help("val_fraction") + ")")
    a("--augment", action=argparse.BooleanOptionalAction,
      help="random crop (4-pixel padding) and horizontal flip, no flip on mnist (" + preset_help("augment") + ")")
    a("--rotate", type=float, metavar="DEG", help="with --augment, also rotate each image by a random angle in [-DEG, DEG] "
                                   "(" + preset_help("rotate") + ")")
    a("--stats", choices=["suite", "released"],
      help="channel statistics the inputs are standardised with: the suite's, or the released code's (they differ "
           "on " + ", ".join(f"{d}: std {DATASETS[d].std[0]:.3g} suite, {s[1][0]:.3g} released" for d, s in
                             RELEASED_STATS.items()) + ") (" + preset_help("stats") + ")")
    a = p.add_argument_group("noise").add_argument
    a("--noise", default="none", choices=noise.KINDS, metavar="TYPE",
      help="label noise: none, sym, asym, pairflip (c to c+1), uniform (resampled from all C classes), idn "
           "(instance-dependent, Xia et al. 2020), human (CIFAR-N), human-matched (the human labels' transition "
           "counts on random images), file (--labels); docs/noise.md (default: %(default)s)")
    a("--rate", type=float, help="for sym, asym and pairflip the fraction of each (source) class whose label is "
                                 "flipped, for uniform the chance a label is resampled, for idn the mean flip rate; "
                                 "those need it (default: none, a clean run)")
    a("--human-label", choices=sorted({k for sets in noise.HUMAN_LABELS.values() for k in sets}),
      help="human label set for --noise human and human-matched: CIFAR-10N's aggre, random1-3 or worse, CIFAR-100N's "
           "noisy (default: " + ", ".join(f"{v} on {d}" for d, v in noise.HUMAN_DEFAULT.items()) + ")")
    a("--labels", metavar="PATH", help="the noisy training labels of --noise file: .npy/.npz, .pt, .csv (index,label), "
                                       ".json list, or a run's labels.npy (default: none)")
    a("--labels-key", metavar="KEY", help="the array to read from a --labels file holding several, such as a CIFAR-N "
                                          "dict's aggre_label (default: the file's only array)")
    a("--asym-cifar100", choices=["superclass", "blocks"],
      help="CIFAR-100's asymmetric noise: each class to the next of its superclass, or the released code's "
           "blocks of 5 consecutive class indices (" + preset_help("asym_cifar100") + ")")
    a("--clean-val", action="store_true", help="give the validation split its clean labels (default: off, noisy)")
    a = p.add_argument_group("loss", "a loss's own values; --gamma, --q and --temperature are accepted with every loss "
                                     "and used by those that read them; the others are refused where unused").add_argument
    a("--loss", default="ce", metavar="NAME", help=f"one of: {', '.join(SINGLE + list(PAIRS))}, or active+passive "
                                                   f"such as nce+rce; docs/losses.md lists them all (default: ce)")
    rest = lambda key: "; 1 for the rest" if key in ("alpha", "beta", "scale") else ""  # noqa: E731
    paper = lambda key: (f"else its paper's: {registry.value_help(key)}{rest(key)}"  # noqa: E731
                         if registry.value_help(key) else "else its paper's")
    for key, what in registry.KEYS.items():  # a loss's own values: registry.py says which loss reads which
        if key not in ("gamma", "q"):
            a(f"--{key}", type=int if key in registry.WHOLE else float,
              help=f"{what} (default: the preset's loss table, {paper(key)}; docs/losses.md has every value)")
    a("--gamma", type=float, help="focal exponent of fl, nfl, nfl-exp, anl-fl (" + preset_help("gamma") + ")")
    a("--q", type=float, help="exponent of gce, ngce, agce and aul, one for the whole loss (default: the loss "
                              "table, else its paper's for the data set; on cifar10 " + registry.value_help("q") +
                              " (" + preset_help("q") + ")")
    a("--logit-clip", type=float, metavar="DELTA", help="clip the logits' L2 norm at DELTA, as Wei et al. 2023 define "
      "it; makes the loss LOSS+lc (default: off; with --loss LOSS+lc, its paper's for the data set and noise)")
    a("--logit-clip-released", type=float, metavar="DELTA", help="the released code's logit clipping: norms above "
      "1/DELTA scaled to DELTA; makes the loss LOSS+lc-released (default: off; with that loss, as --logit-clip)")
    a("--sr", type=_numbers, metavar="TAU,P,LAMBDA,RHO[,FREQ]", help="sparse regularisation (Zhou et al. 2021): "
      "the loss of z / (TAU ||z||) plus LAMBDA sum_k p_k^P, LAMBDA times RHO every FREQ epochs (1); makes the loss "
      "LOSS+sr (default: off; with --loss LOSS+sr, its paper's for the data set and noise)")
    a("--sr-normalise", action=argparse.BooleanOptionalAction, help="with LOSS+sr, normalise the logits before "
      "dividing them by TAU; the released code does not on MNIST (default: on, off on mnist)")
    a("--temperature", type=float, help="T of the report's nce-exp and nfl-exp (default: "
                                        f"{registry.EVERY_LOSS['temperature']:g})")
    a = p.add_argument_group("model and optimisation").add_argument
    a("--arch", choices=list(registry.ARCHS), help="model (" + preset_help("arch") + ")")
    a("--epochs", type=int, help="training epochs (" + preset_help("epochs") + ")")
    a("--batch-size", type=int, help="training batch size (" + preset_help("batch_size") + ")")
    a("--optimizer", choices=["adamw", "sgd"], help="optimizer (" + preset_help("optimizer") + ")")
    a("--lr", type=float, help="initial learning rate (" + preset_help("lr") + ")")
    zero_wd = [n for n, r in registry.LOSSES.items() if "weight_decay" in r.setup]
    a("--weight-decay", type=float, help=f"weight decay ({registry.LOSSES[zero_wd[0]].setup['weight_decay']:g} for "
                                         f"{', '.join(zero_wd)} and amse's pairs, as their papers train them; otherwise "
                                         + preset_help("weight_decay") + ")")
    a("--momentum", type=float, help="SGD momentum (" + preset_help("momentum") + ")")
    a("--nesterov", action=argparse.BooleanOptionalAction, help="SGD with Nesterov momentum ("
                                                                + preset_help("nesterov") + ")")
    a("--scheduler", choices=["cosine", "none"], help="lr schedule over the epochs (" + preset_help("scheduler") + ")")
    a("--eta-min", type=float, help="the cosine schedule's last learning rate (" + preset_help("eta_min") + ")")
    a("--grad-clip", type=float, help="clip the gradient norm to this, 0 for off (" + preset_help("grad_clip") + ")")
    a = p.add_argument_group("compute", "how training computes, not what it computes").add_argument
    a("--eval-batch-size", type=int, help="batch size for validation and test (" + preset_help("eval_batch_size") + ")")
    add_compute_flags(a)
    a = p.add_argument_group("run and resume").add_argument
    a("--seed", type=int, default=42, help="seed of the noise, the split, the model and the data order "
                                           "(default: %(default)s)")
    a("--out", default="results", help="results root; the run goes to "
                                      "OUT/<dataset>/<noise>-<rate or human label>/<loss>/seed<seed> (default: %(default)s)")
    a("--resume", action="store_true", help="continue the run from its last.pt (default: off)")
    a("--tensorboard", action="store_true", help="also write each epoch's scalars and the configuration for "
                                                 "TensorBoard, under the run directory's tb/ (needs pip install "
                                                 "tensorboard) (default: off)")
    a("--force", action="store_true", help="with --resume: continue even where a setting that changes results "
                                           "differs from the checkpoint's, e.g. a lower --lr (default: off)")
    return p


def _numbers(text):
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not numbers separated by commas, e.g. 0.5,0.1,1.2,1.03") from None


def parse_args(argv=None):
    """Parse the command line and return the resolved configuration as a dict; UserError for bad input."""
    return resolve(vars(parser().parse_args(argv)))


def _wrapped(cfg):
    """The canonical loss, with the wrap a --logit-clip, --logit-clip-released or --sr flag asks for added."""
    loss, released = canonical(cfg["loss"]), cfg.pop("logit_clip_released", None)
    flags = {"lc": cfg["logit_clip"], "lc-released": released, "sr": cfg["sr"]}
    asked = [w for w, v in flags.items() if v is not None]
    base, wraps = registry.unwrap(loss)
    if len(asked) > 1 or (asked and wraps and wraps != (asked[0],)):
        both = [f"--{w.replace('lc', 'logit-clip')}" for w in asked] + [f"--loss {loss}" for _ in wraps]
        raise UserError(f"{' and '.join(both)} each set the logits' norm; choose one (LOSS+lc, LOSS+lc-released or "
                        f"LOSS+sr)")
    if released is not None:
        cfg["logit_clip"] = released
    if cfg["sr_normalise"] is not None and "sr" not in asked + list(wraps):
        raise UserError("--sr-normalise and --no-sr-normalise apply to sparse regularisation only; add --sr or use "
                        "--loss LOSS+sr, or leave them out")
    return canonical(f"{base}+{asked[0]}") if asked and not wraps else loss


# The values a loss is built with (get_loss's keyword arguments): its own, those of every loss, q, its wrap's.
LOSS_KEYS = OWN_KEYS + tuple(registry.EVERY_LOSS) + ("q",) + registry.WRAP_KEYS


def loss_settings(loss, dataset, noise_kind, rate, preset, given=None, setting_=None, given_as="flag"):
    """(values, sources) of a loss's values in a setting: the one resolution train.py's runs and get_loss share.

    A value given (not None) wins; then the preset's loss table (presets.LOSS_TABLE: that loss's row on that data
    set), then the loss's paper values for the data set and noise (registry.default_hp), with what its paper changes
    in the training setup (registry.setup_of: ANL's and JAL's weight decay 0), then the preset's setup values (its
    gamma and q), then registry.EVERY_LOSS. The keys are LOSS_KEYS and the setup keys the loss's row or paper sets;
    a key none of them has is None, "not used by" the loss. loss: a canonical name; setting_: config.setting's
    name of the noise (default: from noise_kind and rate); given_as: the source of a given value."""
    given = given or {}
    if setting_ is None:
        setting_ = setting({"noise": noise_kind, "rate": rate, "human_label": None, "labels": "given"})
    row, row_source = presets.loss_values(preset, dataset, loss, noise_kind)
    own = {**default_hp(loss, dataset, setting_), **registry.setup_of(loss)}
    setup, setup_sources = presets.setup_values(preset, dataset)
    layers = [(row, row_source), (own, registry.source_of(loss, dataset)), (setup, None),
              (registry.EVERY_LOSS, "registry.py")]
    values, sources = {}, {}
    for key in sorted(set(LOSS_KEYS) | set(row) | set(registry.setup_of(loss))):
        if given.get(key) is not None:
            values[key], sources[key] = given[key], given_as
            continue
        found, source = next(((v, s) for v, s in layers if key in v), ({key: None}, f"not used by {loss}"))
        values[key], sources[key] = found[key], source or setup_sources[key]
    return values, sources


def resolve(cfg):
    """Fill every flag left unset from the preset's loss table, the loss's paper values, then the preset."""
    cfg = dict(cfg)
    loss = _wrapped(cfg)  # an unknown name fails here, before anything is written
    # Values a loss does not use are refused, and recorded as null, so config.json says what was trained.
    unused = registry.not_read(loss, cfg)
    if unused:
        raise UserError(f"--{unused}")
    owndata.resolve(cfg)
    noise.resolve_flags(cfg, DATASETS[cfg["dataset"]].num_classes if cfg["dataset"] in DATASETS else None)
    if cfg["asym_cifar100"] is not None and cfg["dataset"] != "cifar100":
        raise UserError(f"--asym-cifar100 only applies to --dataset cifar100, not {cfg['dataset']}; leave it out")
    values, sources = loss_settings(loss, cfg["dataset"], cfg["noise"], cfg["rate"], cfg["preset"], cfg, setting(cfg))
    cfg.update(values)
    setup, setup_sources = presets.setup_values(cfg["preset"], cfg["dataset"])
    for key in sorted(set(setup) - set(values)):  # the rest of the training setup: the flag, else the preset's
        if cfg.get(key) is not None:
            sources[key] = "flag"
        else:
            cfg[key], sources[key] = setup[key], setup_sources[key]
    sources = dict(sorted(sources.items()))
    if cfg["rotate"] and not cfg["augment"]:
        if sources["rotate"] == "flag":
            raise UserError(f"--rotate {cfg['rotate']:g} needs --augment (the rotation is part of the augmentation); "
                            f"add --augment or leave --rotate out")
        cfg["rotate"], sources["rotate"] = 0.0, "no augmentation (--no-augment)"
    if cfg["dataset"] != "cifar100":
        cfg["asym_cifar100"], sources["asym_cifar100"] = None, "cifar100 only"
    cfg["sr"] = list(cfg["sr"]) if cfg["sr"] is not None else None  # JSON's, whether from the flag or the registry
    cfg["data_dir_given"] = cfg["data_dir"] is not None
    cfg["data_dir"] = cfg["data_dir"] or "./data"
    cfg["sources"] = sources
    cfg["loss_as_given"], cfg["loss"] = cfg["loss"], loss
    return cfg


def check(cfg):
    """Raise UserError, naming the flag, for values argparse cannot check."""
    if cfg["rate"] is not None and not 0.0 <= cfg["rate"] <= 1.0:
        raise UserError(f"--rate must be in [0, 1], got {cfg['rate']}")
    if not 0.0 <= cfg["val_fraction"] < 1.0:
        raise UserError(f"--val-fraction must be in [0, 1), got {cfg['val_fraction']}; 0 trains on the whole "
                        f"training set with no model selection")
    if cfg["clean_val"] and cfg["val_fraction"] == 0:
        raise UserError("--clean-val needs a validation split, and --val-fraction is 0; give --val-fraction "
                        "0.15 (or more than 0), or leave --clean-val out")
    if cfg["nesterov"] and (cfg["optimizer"] != "sgd" or cfg["momentum"] <= 0):
        raise UserError("--nesterov needs --optimizer sgd with --momentum above 0; add them or use --no-nesterov")
    for key in ("epochs", "batch_size", "eval_batch_size"):
        if cfg[key] < 1:
            raise UserError(f"--{key.replace('_', '-')} must be at least 1, got {cfg[key]}")
    for key, need, ok in [("lr", "> 0", cfg["lr"] > 0), ("eta_min", ">= 0", cfg["eta_min"] >= 0),
                          ("rotate", "in [0, 180]", 0 <= cfg["rotate"] <= 180),
                          ("weight_decay", ">= 0", cfg["weight_decay"] >= 0), ("grad_clip", ">= 0", cfg["grad_clip"] >= 0)]:
        if not ok:
            raise UserError(f"--{key.replace('_', '-')} must be {need}, got {cfg[key]}")
    bad = registry.out_of_domain(cfg["loss"], cfg)  # the loss's own values: registry.py knows their ranges
    if bad:  # "q must be ..." said as the flag: "--q must be ..."
        key, _, need = bad.partition(" must be ")
        raise UserError(f"--{key.replace('_', '-')} must be {need}")
    if cfg["M"] is not None and cfg["M"] > 2 and not cfg["augment"]:
        raise UserError(f"gjs with --M {cfg['M']} reads {cfg['M'] - 1} augmented views of each image, and --augment is "
                        f"off, so they would all be the same image; add --augment, or use --M 2 (JS)")
    there = os.path.join(run_dir(cfg), "config.json")
    if os.path.isfile(there):  # run directories do not name the preset: another protocol's run must not pass as this one's
        try:
            with open(there) as f:
                was = json.load(f).get("preset")
        except (OSError, ValueError):
            was = cfg["preset"]  # unreadable: train.py's own checks of the run say so
        if was != cfg["preset"]:
            raise UserError(f"{run_dir(cfg)} holds a run of --preset {was}, not {cfg['preset']}; give this protocol "
                            f"its own --out (run_grid.sh: RESULTS), or --preset {was} to continue that run")


def check_labels(cfg):
    """A --labels file must exist (train.py and the grid check it, before the run directory is named from it; the
    docs' commands are parsed without it); its sha256 goes into config.json, so a resume on a changed file is
    refused, --force or not."""
    for key, given in (("labels", cfg["noise"] == "file"), ("clean_labels", cfg.get("clean_labels"))):
        if given:
            labelfile.check_path(cfg[key], f"--{key.replace('_', '-')}")
            cfg[f"{key}_sha256"] = labelfile.sha256(cfg[key])


def check_data_dir(cfg):
    """A --data-dir given on the command line must exist (./data, the default, is made and downloaded into)."""
    if cfg["dataset"] == "npz":
        if not os.path.isfile(cfg["data_dir"]):
            raise UserError(f"--data-dir {cfg['data_dir']} is not a file; --dataset npz names the .npz file itself")
        return
    if cfg["data_dir_given"] and not os.path.isdir(cfg["data_dir"]):
        raise UserError(f"--data-dir {cfg['data_dir']} does not exist; fix the path, or create it "
                        f"(mkdir -p {cfg['data_dir']}) to download {cfg['dataset']} there")


def require_current(recorded, where):
    """UserError unless a recorded configuration (config.json, a checkpoint's) has every key this version writes."""
    missing = sorted(set(parse_args([])) - RESUME_FREE - {"precision_used"} - set(recorded) - ADDED_LATER)
    if missing:
        raise UserError(f"{where} is not of the current layout (it has no {', '.join(missing[:4])}"
                        f"{', ...' if len(missing) > 4 else ''}): it was written before 2026-12-01; train it again "
                        f"with another --out")


def loss_values(cfg):
    """The values a run's loss is built with (engine.loss_from builds it)."""
    return {k: cfg.get(k) for k in LOSS_KEYS}


def setting(cfg):
    """<noise>-<rate>, human-<label>, human-matched-<label> or file-<file name>_<its sha256's first 8>; every clean
    run (noise none, or rate 0 of a model that is then clean: not idn, whose flip rates still average 0.08) is
    none-0.0."""
    if cfg["noise"] in ("human", "human-matched"):
        return f"{cfg['noise']}-{cfg['human_label']}"
    if cfg["noise"] == "file":  # "-" would split the setting's name; the hash tells two labels.npy apart
        stem = "".join(c if c.isalnum() or c in "._" else "_" for c in os.path.splitext(os.path.basename(cfg["labels"]))[0])
        return f"file-{stem}" + (f"_{cfg['labels_sha256'][:8]}" if cfg.get("labels_sha256") else "")
    clean = cfg["noise"] == "none" or (cfg["rate"] == 0 and cfg["noise"] != "idn")
    kind, rate = ("none", 0.0) if clean else (cfg["noise"], cfg["rate"])
    return f"{kind}-{float(rate)!r}"


def run_dir(cfg):
    """OUT/<dataset>/<setting>/<loss>/seed<seed>: runs of different data sets never share a folder (own data:
    OUT/folder-<name>/..., owndata.resolve)."""
    return os.path.join(cfg["out"], cfg.get("data_name") or cfg["dataset"], setting(cfg), cfg["loss"],
                        f"seed{cfg['seed']}")


if __name__ == "__main__":  # a module, not a script: what it holds is train.py's command line
    parser().print_help()
    sys.exit(0)
