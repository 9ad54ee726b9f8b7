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

from . import keys
from . import labelfile
from . import noise
from . import owndata
from . import presets
from . import realconfig
from . import registry
from .data import DATASETS, RELEASED_STATS
from .errors import Parser, UserError
from .fetch import checksum
from .keys import Config, Facts, facts_of
from . import realnoise
from .realnoise import KINDS as REAL
from .registry import PAIRS, SINGLE, canonical, default_hp

PRESETS, DATASET_PRESETS = presets.PRESETS, presets.DATASET_PRESETS
OWN = owndata.KINDS  # the user's own data sets: read from --data-dir, named in run directories by it
COMPUTE = ("device", "deterministic", "precision", "channels_last", "compile")  # bench.py takes these too


def preset_help(key):
    """'default: V with --preset P (V' on D, ...)' for each preset, from the preset tables."""
    text = lambda v: ("on" if v else "off") if isinstance(v, bool) else str(v)  # noqa: E731
    def one(name, p):
        other = [f"{text(v[key])} on {d}" for (n, d), v in DATASET_PRESETS.items() if n == name and key in v]
        return f"{text(p[key])} with --preset {name}" + (f" ({', '.join(other)})" if other else "")
    return "default: " + ", ".join(one(n, p) for n, p in PRESETS.items())


def fragments():
    """The values the declaration's help texts name, from the tables that own them."""
    zero_wd = [n for n, r in registry.LOSSES.items() if "weight_decay" in r.setup]
    paper = lambda key: (f"else its paper's: {registry.value_help(key)}" +  # noqa: E731
                         ("; 1 for the rest" if key in ("alpha", "beta", "scale") else "")
                         if registry.value_help(key) else "else its paper's")
    return {"released_stats": "they differ on " + ", ".join(
                f"{d}: std {DATASETS[d].std[0]:.3g} suite, {st[1][0]:.3g} released" for d, st in RELEASED_STATS.items()),
            "image_size": f"{owndata.IMAGE_SIZE} for a folder; on a real-world set "
                          f"{', '.join(f'{v} on {k}' for k, v in realconfig.SIZE.items())}", "human_default": ", ".join(f"{v} on {d}" for d, v in noise.HUMAN_DEFAULT.items()),
            "loss_names": ", ".join(SINGLE + list(PAIRS)), "q_paper": registry.value_help("q"),
            "temperature": f"{registry.EVERY_LOSS['temperature']:g}",
            "zero_wd": f"{registry.LOSSES[zero_wd[0]].setup['weight_decay']:g} for {', '.join(zero_wd)} and amse's "
                       f"pairs, as their papers train them",
            **{f"paper_{k}": paper(k) for k in registry.KEYS}}


def choices(key):
    """A key's choices: the declaration's, or those of the table that owns them."""
    owned = {"dataset": list(DATASETS) + list(OWN) + list(REAL), "noise": list(noise.KINDS), "arch": list(registry.ARCHS),
             "human_label": sorted({k for sets in noise.HUMAN_LABELS.values() for k in sets})}
    return owned.get(key.name, key.choices)


def add_flag(a, key, text, defaults=False):
    """Add key's flag with a (an add_argument). Left out, a flag parses to None (defaults: to its default), so
    resolve() tells a flag given from one left out, and fills the latter from the key's origin."""
    if "default:" not in text:
        text += f" (default: {('on' if key.default else 'off') if key.type is bool else key.default})"
    kw = {"help": text.replace("%", "%%"), "default": key.default if defaults else None}
    if key.type is bool:
        kw.update(action=argparse.BooleanOptionalAction) if key.toggle else kw.update(action="store_const", const=True)
    else:
        kw["type"] = {list: _numbers}.get(key.type, key.type)
        kw.update({k: v for k, v in (("choices", choices(key)), ("metavar", key.metavar)) if v is not None})
    a(key.flag, **kw)


def add_compute_flags(a):
    """The flags of how training computes, not what (COMPUTE), with their defaults, added with a: bench.py's."""
    for name in COMPUTE:
        add_flag(a, keys.BY_NAME[name], keys.BY_NAME[name].help, defaults=True)


def parser():
    """train.py's flags, in the groups --help shows them in: keys.KEYS, each with its help."""
    p = Parser(prog="train.py", description="Train one run of the noisy-label study.")
    notes = {"loss": "a loss's own values; --gamma, --q and --temperature are accepted with every loss and used by "
                     "those that read them; the others are refused where unused",
             "compute": "how training computes, not what it computes"}
    groups = {g: p.add_argument_group(g, notes.get(g)).add_argument for g in keys.GROUPS}
    filled = fragments()
    for key in keys.KEYS:
        text = key.help.replace("{preset}", preset_help(key.name)) if "{preset}" in key.help else key.help
        add_flag(groups[key.group], key, text.format(**filled) if "{" in text else text)
    return p


def _numbers(text):
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not numbers separated by commas, e.g. 0.5,0.1,1.2,1.03") from None


def parse_args(argv=None):
    """Parse the command line and return the resolved configuration, a Config; UserError for bad input."""
    return resolve(vars(parser().parse_args(argv)))


def _wrapped(cfg, released):
    """The canonical loss, with the wrap a --logit-clip, --logit-clip-released or --sr flag asks for added."""
    loss = canonical(cfg["loss"])
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


def loss_settings(loss, dataset, noise_kind, rate, preset, given=None, setting_=None, given_as="flag"):
    """(values, sources) of a loss's values in a setting: the one resolution train.py's runs and get_loss share.

    A value given (not None) wins; then the preset's loss table (presets.LOSS_TABLE: that loss's row on that data
    set), then the loss's paper values for the data set and noise (registry.default_hp), with what its paper changes
    in the training setup (registry.setup_of: ANL's and JAL's weight decay 0), then the preset's setup values (its
    gamma and q), then registry.EVERY_LOSS. The keys are keys.LOSS_VALUES and the setup keys the loss's row or paper sets;
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
    for key in sorted(set(keys.LOSS_VALUES) | set(row) | set(registry.setup_of(loss))):
        if given.get(key) is not None:
            values[key], sources[key] = given[key], given_as
            continue
        found, source = next(((v, s) for v, s in layers if key in v), ({key: None}, f"not used by {loss}"))
        values[key], sources[key] = found[key], source or setup_sources[key]
    return values, sources


def resolve(parsed):
    """The Config of parsed flags (None: left out): each left out filled from its key's origin (keys.ORIGINS), in
    this order: the user's own data, the noise model, the loss's values (loss_settings), the preset's setup, the
    declared default. cfg.sources says where each value came from; cfg.facts holds what is known of the run so far."""
    cfg = Config({k: parsed.get(k) for k in keys.RECORDED})
    given = {k for k in keys.RECORDED if parsed.get(k) is not None}
    for k in keys.KEYS:  # the declared defaults first: the resolution below reads them
        if k.origin == "default" and k.record and cfg[k.name] is None:
            cfg[k.name] = k.default
    as_given, loss = cfg["loss"], _wrapped(cfg, parsed.get("logit_clip_released"))  # an unknown name fails here
    # Values a loss does not use are refused, and recorded as null, so config.json says what was trained.
    unused = registry.not_read(loss, cfg)
    if unused:
        raise UserError(f"--{unused}")
    data_name = owndata.resolve(cfg)
    realconfig.check_preset(cfg)
    for k in keys.KEYS:  # what the data set leaves open: the declared default (./data)
        if k.origin == "data" and k.default is not None and cfg[k.name] is None:
            cfg[k.name] = k.default
    noise.resolve_flags(cfg)
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
    if cfg["rotate"] and not cfg["augment"]:
        if sources["rotate"] == "flag":
            raise UserError(f"--rotate {cfg['rotate']:g} needs --augment (the rotation is part of the augmentation); "
                            f"add --augment or leave --rotate out")
        cfg["rotate"], sources["rotate"] = 0.0, "no augmentation (--no-augment)"
    if cfg["dataset"] != "cifar100":
        cfg["asym_cifar100"], sources["asym_cifar100"] = None, "cifar100 only"
    realconfig.resolve(cfg, sources, loss)
    cfg["sr"] = list(cfg["sr"]) if cfg["sr"] is not None else None  # JSON's, whether from the flag or the registry
    for k in keys.KEYS:  # the rest: given, the default, or what the data set and the noise model made of them
        if k.record and k.name not in sources:
            sources[k.name] = "flag" if k.name in given else "default" if cfg[k.name] == k.default else \
                ORIGIN_SOURCE[k.origin]
    cfg["loss"] = loss
    cfg.sources = dict(sorted(sources.items()))
    cfg.facts = Facts(loss_as_given=as_given, data_name=data_name or cfg["dataset"])
    cfg.facts["run_dir"] = run_dir(cfg)
    return cfg


# The source a value left out records, by its key's origin, where the resolution above names none of its own.
ORIGIN_SOURCE = {"default": "default", "data": "the data set", "noise": "the noise model", "loss": "the loss",
                 "preset": "the preset"}


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
    schedule(cfg)
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


def schedule(cfg):
    """--scheduler exp and step need --lr-gamma (step also --lr-step); the others take neither."""
    sched, gamma, step = cfg["scheduler"], cfg["lr_gamma"], cfg["lr_step"]
    for key, value, users in (("lr_gamma", gamma, ("exp", "step")), ("lr_step", step, ("step",))):
        flag = f"--{key.replace('_', '-')}"
        if value is None and sched in users:
            raise UserError(f"--scheduler {sched} needs {flag}" + (", the factor the learning rate is multiplied by "
                            f"(e.g. {0.97 if sched == 'exp' else 0.1})" if key == "lr_gamma" else
                            ", the epochs between two multiplications (e.g. 5)"))
        if value is not None and sched not in users:
            raise UserError(f"{flag} applies to --scheduler {' and '.join(users)} only, not {sched}; leave it out")
    if gamma is not None and not 0 < gamma <= 1:
        raise UserError(f"--lr-gamma must be in (0, 1], got {gamma}")
    if step is not None and step < 1:
        raise UserError(f"--lr-step must be at least 1, got {step}")


def check_files(cfg):
    """The files a run reads besides its data set must exist: --labels, --clean-labels, --pretrained (train.py and
    the grid check them, before the run directory is named from a label file's hash; the docs' commands are parsed
    without them). Each one's sha256 is a fact, so a resume on a changed file is refused, --force or not."""
    for key, given in (("labels", cfg["noise"] == "file"), ("clean_labels", cfg["clean_labels"])):
        if given:
            labelfile.check_path(cfg[key], f"--{key.replace('_', '-')}")
            cfg.facts[f"{key}_sha256"] = checksum(cfg[key], "sha256")
    if cfg["pretrained"] is not None:
        if cfg["arch"] != "resnet50-imagenet":
            raise UserError(f"--pretrained loads ImageNet weights into --arch resnet50-imagenet only, not "
                            f"{cfg['arch']}; add --arch resnet50-imagenet, or leave --pretrained out")
        if not os.path.isfile(cfg["pretrained"]):
            raise UserError(f"--pretrained {cfg['pretrained']}: no such file; give torchvision's resnet50 ImageNet "
                            f"weights file (docs/runs.md, Models)")
        cfg["pretrained"] = os.path.abspath(cfg["pretrained"])
        cfg.facts["pretrained_sha256"] = checksum(cfg["pretrained"], "sha256")
    cfg.facts["run_dir"] = run_dir(cfg)  # a --labels run's directory names the file's hash


def check_data_dir(cfg):
    """A --data-dir given on the command line must exist (./data, the default, is made and downloaded into)."""
    if cfg["dataset"] == "npz":
        if not os.path.isfile(cfg["data_dir"]):
            raise UserError(f"--data-dir {cfg['data_dir']} is not a file; --dataset npz names the .npz file itself")
        return
    if cfg["dataset"] in REAL and not os.path.isdir(cfg["data_dir"]):  # never downloaded: it must be there
        raise UserError(f"--data-dir {cfg['data_dir']} is not a folder; --dataset {cfg['dataset']} is read from "
                        f"{realnoise.LAYOUT[cfg['dataset']]} there. {realnoise.OBTAIN[cfg['dataset']]}")
    if cfg.sources["data_dir"] == "flag" and not os.path.isdir(cfg["data_dir"]):
        raise UserError(f"--data-dir {cfg['data_dir']} does not exist; fix the path, or create it "
                        f"(mkdir -p {cfg['data_dir']}) to download {cfg['dataset']} there")
    for key in ("imagenet_val", "food101"):  # a real-world set's second folder
        if cfg[key] is not None and not os.path.isdir(cfg[key]):
            raise UserError(f"--{key.replace('_', '-')} {cfg[key]} is not a folder; give the folder it names "
                            f"(docs/data-and-noise.md#real-world-noisy-data-sets)")


def require_current(recorded, where):
    """UserError unless a recorded configuration (config.json, a checkpoint's) has every key that no absent value
    stands for (keys.Key.absent)."""
    missing = [k.name for k in keys.KEYS if k.record and k.absent is keys.REQUIRED and k.resume != keys.FREE
               and k.name not in recorded]
    if missing:
        raise UserError(f"{where} is not of the current layout (it has no {', '.join(missing[:4])}"
                        f"{', ...' if len(missing) > 4 else ''}): an older version of the suite wrote it; train it "
                        f"again with another --out")


def show(cfg):
    """--show-config: every resolved value with where it came from, by group, then the facts known before a run."""
    lines = [f"configuration of {cfg.facts['run_dir']} (noisylabels/keys.py declares every key; docs/runs.md)"]
    for group in keys.GROUPS:
        lines.append(f"{group}:")
        for k in keys.KEYS:
            if k.group == group and k.record:
                lines.append(f"  {k.name:<16} {json.dumps(cfg[k.name]):<24} {cfg.sources[k.name]}")
    known = {k: v for k, v in cfg.facts.items() if v is not None}
    lines.append("facts so far: " + ", ".join(f"{k} {v}" for k, v in known.items()))
    return "\n".join(lines)


def setting(cfg):
    """<noise>-<rate>, human-<label>, human-matched-<label> or file-<file name>_<its sha256's first 8>; every clean
    run (noise none, or rate 0 of a model that is then clean: not idn, whose flip rates still average 0.08) is
    none-0.0."""
    if cfg["noise"] in ("human", "human-matched"):
        return f"{cfg['noise']}-{cfg['human_label']}"
    if cfg["noise"] == "file":  # "-" would split the setting's name; the hash tells two labels.npy apart
        stem = "".join(c if c.isalnum() or c in "._" else "_" for c in os.path.splitext(os.path.basename(cfg["labels"]))[0])
        sha = facts_of(cfg)["labels_sha256"]
        return f"file-{stem}" + (f"_{sha[:8]}" if sha else "")
    clean = cfg["noise"] == "none" or (cfg["rate"] == 0 and cfg["noise"] != "idn")
    kind, rate = ("none", 0.0) if clean else (cfg["noise"], cfg["rate"])
    return f"{kind}-{float(rate)!r}"


def run_dir(cfg):
    """OUT/<dataset>/<setting>/<loss>/seed<seed>: runs of different data sets never share a folder (own data:
    OUT/folder-<name>/..., the fact data_name)."""
    return os.path.join(cfg["out"], facts_of(cfg).get("data_name") or cfg["dataset"], setting(cfg), cfg["loss"],
                        f"seed{cfg['seed']}")


if __name__ == "__main__":  # a module, not a script: what it holds is train.py's command line
    parser().print_help()
    sys.exit(0)
