"""The protocols: each preset's training setup per data set, each loss's own values in it, and the named studies.

`ma2020` is Ma et al. 2020's released configuration (HanxunH/Active-Passive-Losses, configs/<dataset>/<sym|asym>/
<loss>.yaml at commit 2d18de6), `ye2023` Ye et al. 2023's (Virusdoll/Active-Negative-Loss, config/<dataset>_<loss>.json
at f8c23b3, the anl_ce_er files at 0c50009), `report` the report's ResNet-18 setup. The values were copied from
those files; where the released code has a bug, the README's "Where the presets differ from the released code"
lists it and what the suite does instead. config.py resolves a run from these tables; grid.py runs a study;
plot.py lays a study's table out in its paper's rows and columns. The losses' own paper values are registry.py's.
Nothing here imports torch.
"""
import sys

from . import realprotocols as R
from . import registry
from .noise import RATED

APL = "HanxunH/Active-Passive-Losses@2d18de6"
ANL = "Virusdoll/Active-Negative-Loss@f8c23b3"

# Every value of a run's training setup, per preset: its CIFAR-10 values, then what differs per data set.
# val_fraction 0: both papers' code trains on the whole training set; Ma et al.'s reports the last epoch.
# gamma: the report's focal loss is Lin et al.'s (gamma 2, registry.EVERY_LOSS, the value of every loss where no
# preset gives one); the released configs' is 0.5.
PRESETS = {
    "report": {"arch": "resnet18", "optimizer": "adamw", "lr": 0.01, "momentum": 0.9, "nesterov": False,
               "weight_decay": 5e-4, "epochs": 30, "scheduler": "cosine", "eta_min": 0.0, "augment": False,
               "rotate": 0.0, "grad_clip": 0.0, "gamma": registry.EVERY_LOSS["gamma"], "q": 0.7, "batch_size": 128,
               "eval_batch_size": 1024, "val_fraction": 0.15, "asym_cifar100": "superclass", "stats": "suite"},
    "ma2020": {"arch": "cnn8", "optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": False,
               "weight_decay": 1e-4, "epochs": 120, "scheduler": "cosine", "eta_min": 0.0, "augment": True,
               "rotate": 0.0, "grad_clip": 5.0, "gamma": 0.5, "q": 0.7, "batch_size": 128, "eval_batch_size": 128,
               "val_fraction": 0.0, "asym_cifar100": "blocks", "stats": "released"},
}
PRESETS["ye2023"] = {**PRESETS["ma2020"], "eval_batch_size": 256}
DATASET_PRESETS = {
    ("report", "mnist"): {"arch": "cnn4"},
    # MNIST: no augmentation in either repository; CIFAR-100: crop, flip and a random rotation of up to 20 degrees.
    ("ma2020", "cifar100"): {"arch": "resnet50", "epochs": 200, "lr": 0.1, "weight_decay": 1e-5,
                             "eval_batch_size": 256, "rotate": 20.0},
    ("ma2020", "mnist"): {"arch": "cnn4", "epochs": 50, "nesterov": True, "weight_decay": 1e-2, "eta_min": 0.001,
                          "eval_batch_size": 512, "augment": False},
    ("ye2023", "cifar100"): {"arch": "resnet34", "epochs": 200, "lr": 0.1, "weight_decay": 1e-5, "rotate": 20.0},
    ("ye2023", "mnist"): {"arch": "cnn4", "epochs": 50, "weight_decay": 1e-3, "augment": False},
}
# The real-world sets' protocols (realprotocols.py): eps2024's setup over ye2023's keys, the rest merged in.
PRESETS["eps2024"] = {**PRESETS["ye2023"], **R.EPS2024}
DATASET_PRESETS.update(R.SETUPS)
EPS, JAL, APL_WEBVISION, ONLY_ON, FROM_IMAGENET, REAL_SETS = R.EPS, R.JAL, R.APL_WEBVISION, R.ONLY_ON, \
    R.FROM_IMAGENET, R.REAL_SETS
# Where a real-world protocol's setup comes from: (the training setup's file, the transforms' file).
REAL_SOURCE = {
    ("ma2020", "webvision-mini"): (f"{APL_WEBVISION} configs/webvision_mini/*.yaml", f"{APL_WEBVISION} dataset.py"),
    ("ye2023", "webvision-mini"): (f"{ANL} config/webvision_*.json", f"{ANL} dataset.py"),
    **{("eps2024", d): (f"{EPS} main_real_world.py (the same in {JAL})", f"{EPS} datasets/transformers.py")
       for d in ONLY_ON["eps2024"]}}


def covering(dataset):
    """The presets with a protocol for a data set: every general one, and those a real-world set has a row of."""
    if dataset not in REAL_SETS:
        return [p for p in PRESETS if p not in ONLY_ON]
    return [p for p in PRESETS if (p, dataset) in DATASET_PRESETS or dataset in ONLY_ON.get(p, ())]


# Where each preset's values come from, for config.json.
PRESET_SOURCE = {"report": registry.REPORT, "ma2020": APL + " configs/{dataset}/*/*.yaml",
                 "ye2023": ANL + " config/{dataset}_*.json", "eps2024": EPS + " main_real_world.py"}

# Each loss's own values under a preset and data set. A value with "sym"/"asym" differs by noise type (clean and
# human noise take sym's, as APL's sym scripts run the clean case). ANL's weight decay of 0 is registry.py's.
_C10 = {"alpha": 1.0, "beta": 1.0}
LOSS_TABLE = {
    ("ma2020", "cifar10"): {
        "ce": {}, "fl": {}, "gce": {"q": 0.7}, "mae": {}, "rce": {}, "nce": {},
        "nfl": {"sym": {"scale": 10.0}, "asym": {"scale": 1.0}},
        "ngce": {"q": 0.1}, "sce": {"alpha": 0.1, "beta": 1.0},
        "nce+mae": _C10, "nce+rce": _C10, "nfl+mae": _C10, "nfl+rce": _C10,
        "ngce+mae": {**_C10, "q": 0.1}, "ngce+rce": {**_C10, "q": 0.1}},
    ("ma2020", "cifar100"): {
        "ce": {}, "fl": {}, "gce": {"q": 0.7}, "mae": {}, "rce": {}, "nce": {}, "nfl": {},
        "ngce": {"q": 0.7}, "sce": {"alpha": 6.0, "beta": 0.1},
        "nce+mae": {"alpha": 10.0, "beta": 1.0}, "nfl+mae": {"alpha": 10.0, "beta": 1.0},
        "ngce+mae": {"alpha": 10.0, "beta": 1.0, "q": 0.7},
        "nce+rce": {"alpha": 10.0, "beta": 0.1}, "nfl+rce": {"alpha": 10.0, "beta": 0.1},
        "ngce+rce": {"alpha": 10.0, "beta": 0.1, "q": 0.7}},
    ("ma2020", "mnist"): {
        "ce": {}, "fl": {}, "gce": {"q": 0.7}, "mae": {}, "rce": {}, "nce": {"scale": 10.0}, "nfl": {},
        "ngce": {"q": 0.1, "sym": {"scale": 10.0}, "asym": {"scale": 1.0}}, "sce": {"alpha": 0.01, "beta": 1.0},
        "nce+mae": {"alpha": 1.0, "beta": 10.0}, "nce+rce": {"alpha": 1.0, "beta": 10.0},
        "nfl+mae": {"alpha": 1.0, "beta": 10.0}, "nfl+rce": {"alpha": 1.0, "beta": 10.0},
        "ngce+mae": {"alpha": 1.0, "beta": 10.0, "q": 0.1}, "ngce+rce": {"alpha": 1.0, "beta": 10.0, "q": 0.1}},
    ("ye2023", "cifar10"): {
        "ce": {}, "fl": {}, "gce": {"q": 0.7}, "mae": {}, "sce": {"alpha": 0.1, "beta": 1.0},
        "nce+rce": _C10, "nce+mae": _C10, "nfl+rce": _C10,
        "nce+agce": {"alpha": 1.0, "beta": 4.0, "a": 6.0, "q": 1.5},
        "nce+aul": {"alpha": 1.0, "beta": 4.0, "a": 6.3, "q": 1.5},
        "nce+ael": {"alpha": 1.0, "beta": 4.0, "a": 5.0},
        "anl-ce": {"alpha": 5.0, "beta": 5.0, "delta": 5e-5},
        "anl-fl": {"alpha": 5.0, "beta": 5.0, "delta": 5e-5},
        "anl-ce-er": {"alpha": 5.0, "beta": 5.0, "delta": 5e-5, "lamb": 2.0}},
    ("ye2023", "cifar100"): {
        "ce": {}, "fl": {}, "gce": {"q": 0.7}, "mae": {}, "sce": {"alpha": 6.0, "beta": 0.1},
        "nce+rce": {"alpha": 10.0, "beta": 0.1}, "nce+mae": {"alpha": 10.0, "beta": 0.1},
        "nfl+rce": {"alpha": 10.0, "beta": 0.1},
        "nce+agce": {"alpha": 10.0, "beta": 0.1, "a": 1.8, "q": 3.0},
        "nce+aul": {"alpha": 10.0, "beta": 0.015, "a": 6.0, "q": 3.0},
        "nce+ael": {"alpha": 10.0, "beta": 0.1, "a": 1.5},
        "anl-ce": {"alpha": 10.0, "beta": 1.0, "delta": 5e-7},
        "anl-fl": {"alpha": 10.0, "beta": 1.0, "delta": 5e-7},
        "anl-ce-er": {"alpha": 10.0, "beta": 1.0, "delta": 5e-7, "lamb": 0.01}},
    ("ye2023", "mnist"): {
        "ce": {}, "fl": {}, "gce": {"q": 0.7}, "mae": {}, "sce": {"alpha": 0.01, "beta": 1.0},
        "nce+rce": {"alpha": 1.0, "beta": 10.0}, "nce+mae": {"alpha": 1.0, "beta": 10.0},
        "nfl+rce": {"alpha": 1.0, "beta": 10.0},
        # alpha 0: on MNIST their NCE+AGCE, +AUL and +AEL are the asymmetric loss alone
        "nce+agce": {"alpha": 0.0, "beta": 1.0, "a": 4.0, "q": 0.2},
        "nce+aul": {"alpha": 0.0, "beta": 1.0, "a": 3.0, "q": 0.1},
        "nce+ael": {"alpha": 0.0, "beta": 1.0, "a": 3.5},
        "anl-ce": {"alpha": 1.0, "beta": 1.0, "delta": 1e-6},
        "anl-fl": {"alpha": 1.0, "beta": 1.0, "delta": 1e-6}},
}
LOSS_TABLE.update(R.LOSS_TABLE)
# The configuration file each table row was read from, where it is not the rule's <loss>.yaml / <dataset>_<loss>.json.
FILE_NOTES = {
    ("ma2020", "cifar10", "asym", "ngce+mae"): "no such file: configs/cifar10/sym/ngce+mae.yaml's values",
    ("ma2020", "cifar10", "asym", "ngce+rce"): "the file trains NGCEandMAE; NGCE+RCE here",
    ("ma2020", "cifar100", "sym", "ngce+rce"): "the file trains NGCEandMAE; NGCE+RCE here",
    ("ma2020", "cifar100", "asym", "ngce+rce"): "the file trains NGCEandMAE; NGCE+RCE here",
    ("ye2023", "mnist", None, "ce"): "from config/mnist_mae.json, whose loss is ce",
    ("ye2023", "mnist", None, "mae"): "no MAE file (mnist_mae.json trains ce): the MNIST setup with MAE",
}

FILE_NOTES.update(R.FILE_NOTES)

# Where a paper preset's setup values come from, where it is not the configuration files themselves.
SETUP_FILES = {"augment": "dataset.py", "rotate": "dataset.py", "stats": "dataset.py",
               "asym_cifar100": "dataset.py (blocks of 5 class indices)",
               "val_fraction": "no validation split in the released training code"}

# The studies of run_grid.sh: a data set, a preset, the losses its repository has configurations for (less
# NLNL, a method rather than a loss), rates and seeds. APL's rates and seeds 0-2 are its scripts'
# (script/*.slurm, submit_*.sh); ANL's repository names neither, so its studies use the same and say so.
RATES = {"sym": "0.0 0.2 0.4 0.6 0.8", "asym": "0.1 0.2 0.3 0.4"}
# A study's noise settings: <kind>_rates for each noise model with a rate (noise.RATED; "" where it has none), then
# the human label sets of --noise human and of --noise human-matched.
NOISES = tuple(f"{k}_rates" for k in RATED) + ("human", "human_matched")
MA2020_LOSSES = "ce fl gce mae rce nce nfl ngce sce nce+mae nce+rce nfl+mae nfl+rce ngce+mae ngce+rce"
YE2023_LOSSES = "ce fl gce mae sce nce+rce nce+mae nfl+rce nce+agce nce+aul nce+ael anl-ce anl-fl anl-ce-er"
STUDIES = {"report": {"dataset": "cifar10", "preset": "report", "losses": "ce fl nce nfl nce+mae nfl+mae",
                      "seeds": "42", "sym_rates": "0.0 0.2 0.5 0.8", "asym_rates": "0.1 0.25 0.4",
                      "rates_from": "the report"}}
for _ds in ("cifar10", "cifar100", "mnist"):
    STUDIES[f"ma2020-{_ds}"] = {"dataset": _ds, "preset": "ma2020", "losses": MA2020_LOSSES, "seeds": "0 1 2",
                                "sym_rates": RATES["sym"], "asym_rates": RATES["asym"],
                                "rates_from": "APL's script/*.slurm and submit_*.sh (seeds 0, 1, 2)"}
    STUDIES[f"ye2023-{_ds}"] = {"dataset": _ds, "preset": "ye2023", "seeds": "0 1 2",
                                "losses": YE2023_LOSSES if _ds != "mnist" else YE2023_LOSSES.replace(" anl-ce-er", ""),
                                "sym_rates": RATES["sym"], "asym_rates": RATES["asym"],
                                "rates_from": "not in ANL's repository: APL's rates and seeds 0, 1, 2"}

# The baselines of today's tables (the eps-softmax paper's, Wang et al. 2024, and JAL's, 2025) under the protocol
# they share, ye2023's: its losses, and the 2017-2025 ones with their released values (registry.py). ce+lc-released
# is the tables' CE+LC column, which the eps-softmax and JAL code computed with the released clipping rule.
MODERN_LOSSES = ("ce gce sce nce+rce nce+agce anl-ce mse ls nls boot-soft boot-hard taylor-ce phuber-ce js gjs ldr-kl "
                 "ece+mae efl+mae nce+amse nfl+amse ce+lc-released ce+sr elr fwd bwd")
for _ds in ("cifar10", "cifar100"):
    STUDIES[f"modern-{_ds}"] = {"dataset": _ds, "preset": "ye2023", "losses": MODERN_LOSSES, "seeds": "0 1 2",
                                "sym_rates": "0.2 0.4 0.6 0.8", "asym_rates": "0.2 0.3 0.4", "idn_rates": "0.2 0.4",
                                "rates_from": "the eps-softmax paper's tables (seeds 0, 1, 2 as APL's scripts)"}


STUDIES.update(R.STUDIES)


def config_file(preset, dataset, kind, loss):
    """The released file a loss-table row comes from, with a note where it is not the plain one."""
    if preset == "eps2024":
        table = "WEBVISION_CONFIG" if dataset == "webvision-mini" else "CLOTHING_CONFIG"
        where = f"{JAL if 'amse' in loss else EPS} config.py {R.EPS_PLACE.get(loss, table)}"
        note = FILE_NOTES.get((preset, dataset, None, loss))
    elif preset == "ma2020" and dataset == "webvision-mini":
        where, note = f"{APL_WEBVISION} configs/webvision_mini/{loss}.yaml", None
    elif preset == "ma2020":
        name = {"fl": "focal"}.get(loss, loss)
        where = f"{APL} configs/{dataset}/{kind}/{name}.yaml"
        note = FILE_NOTES.get((preset, dataset, kind, loss))
    else:
        where = f"{ANL if loss != 'anl-ce-er' else ANL.replace('f8c23b3', '0c50009')} " \
                f"config/{dataset.replace('-mini', '')}_{loss.replace('-', '_').replace('+', '_')}.json"
        note = FILE_NOTES.get((preset, dataset, None, loss))
    return f"{where} ({note})" if note else where


def loss_values(preset, dataset, loss, noise):
    """(values, source) of a loss's own row in a preset's table; ({}, None) where the table has none, and the loss
    takes its paper's values (registry.py). anl-ce-er takes anl-ce's row (ANL has no anl_ce_er config for MNIST)."""
    table = LOSS_TABLE.get((preset, dataset), {})
    if loss == "anl-ce-er" and loss not in table and "anl-ce" in table:
        row, source = loss_values(preset, dataset, "anl-ce", noise)
        return row, f"{source} (anl-ce's row: no anl_ce_er config for {dataset})"
    if loss not in table:
        return {}, None
    kind = "asym" if noise == "asym" else "sym"
    row = dict(table[loss])
    by_kind = {k: row.pop(k) for k in ("sym", "asym") if k in row}
    row.update(by_kind.get(kind, {}))
    return row, f"{preset} loss table: {config_file(preset, dataset, kind, loss)}"


def setup_values(preset, dataset):
    """(values, {key: source}) of a preset's training setup on a data set."""
    values = {**PRESETS[preset], **DATASET_PRESETS.get((preset, dataset), {})}
    where = f"{preset} preset for {dataset}: "
    real = REAL_SOURCE.get((preset, dataset))
    if real:  # a real-world set's protocol: its own files, the transforms in the data code
        files, transforms = real
        return values, {k: where + (transforms if k in ("augment", "crop", "jitter") else files) for k in values}
    if preset == "report":
        own = DATASET_PRESETS.get((preset, dataset), {}) if dataset in REAL_SETS else {}
        return values, {k: where + ("the suite's setup of the real-world sets (docs/protocols.md)" if k in own else
                                    PRESET_SOURCE[preset]) for k in values}
    repo = APL if preset == "ma2020" else ANL
    files = {k: (f"{repo} {f}" if f.endswith(")") or f.endswith(".py") else f) for k, f in SETUP_FILES.items()}
    return values, {k: where + files.get(k, PRESET_SOURCE[preset].format(dataset=dataset)) for k in values}


def study_settings(study):
    """The study's noise settings in its table's column order, as run directories name them."""
    s = STUDIES[study] if isinstance(study, str) else study
    cols = [f"{k}-{float(r)!r}" if float(r) > 0 or k == "idn" else "none-0.0" for k in RATED
            for r in s.get(f"{k}_rates", "").split()]
    cols += [f"{k.replace('_', '-')}-{h}" for k in ("human", "human_matched") for h in s.get(k, "").split()]
    return list(dict.fromkeys(cols))


def markdown_tables():
    """The loss tables as the README shows them: one per preset, a row per loss, a column per data set."""
    names = {"alpha": "α", "beta": "β", "scale": "scale", "q": "q", "a": "a", "delta": "δ", "lamb": "λ",
             "weight_decay": "wd"}
    text = lambda v: ", ".join(f"{names[k]} {x:g}" for k, x in v.items())  # noqa: E731
    out = []
    for preset in ("ma2020", "ye2023"):
        sets = ["cifar10", "cifar100", "mnist"]
        losses = list(dict.fromkeys(n for d in sets for n in LOSS_TABLE[preset, d]))
        out += [f"| `--preset {preset}` | " + " | ".join(sets) + " |", "| --- |" + " --- |" * len(sets)]
        for loss in losses:
            cells = []
            for d in sets:
                row = LOSS_TABLE[preset, d].get(loss)
                if row is None:
                    cells.append("(no config)")
                    continue
                row = {**row, **registry.setup_of(loss)}  # ANL's weight decay, as its configs set it
                plain = {k: v for k, v in row.items() if k not in ("sym", "asym")}
                kinds = [f"{k}: {text(row[k])}" for k in ("sym", "asym") if k in row]
                cells.append("; ".join(([text(plain)] if plain else []) + kinds) or "–")
            out.append(f"| `{loss}` | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def markdown_setup():
    """The presets' training setups as the README shows them: a row per setting, a column per preset and data set."""
    cols = [("report", "cifar10"), ("report", "mnist")] + [(p, d) for p in ("ma2020", "ye2023")
                                                           for d in ("cifar10", "cifar100", "mnist")]
    values = [setup_values(p, d)[0] for p, d in cols]
    fmt = lambda v: ("yes" if v else "no") if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)  # noqa: E731
    out = ["| `--preset`, data set | " + " | ".join(f"{p}, {d}" for p, d in cols) + " |",
           "| --- |" + " --- |" * len(cols)]
    for key in PRESETS["report"]:
        cells = [fmt(v[key]) if key != "asym_cifar100" or d == "cifar100" else "–" for v, (_, d) in zip(values, cols)]
        out.append(f"| `--{key.replace('_', '-')}` | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv):
    """`list`: the studies' names; `tables`: the setup and loss tables in markdown (docs/protocols.md's)."""
    if argv[:1] == ["list"]:
        print(" ".join(STUDIES))
    elif argv[:1] == ["tables"]:
        print(markdown_setup() + "\n" + markdown_tables(), end="")
    else:
        sys.exit("usage: python presets.py list | tables")


if __name__ == "__main__":
    main(sys.argv[1:])
