"""config.py: presets, the order in which values are resolved, and the run directory."""

import pytest

from noisylabels import config
from noisylabels.errors import UserError


def test_report_preset_is_the_default():
    cfg = config.parse_args([])
    assert cfg["preset"] == "report"
    assert {k: cfg[k] for k in config.PRESETS["report"]} == {
        "arch": "resnet18", "optimizer": "adamw", "lr": 0.01, "momentum": 0.9, "nesterov": False, "weight_decay": 5e-4,
        "epochs": 30, "scheduler": "cosine", "eta_min": 0.0, "augment": False, "rotate": 0.0, "grad_clip": 0.0,
        "gamma": 2.0, "q": 0.7, "batch_size": 128, "eval_batch_size": 1024, "val_fraction": 0.15,
        "asym_cifar100": None, "stats": "suite"}  # CIFAR-10: no CIFAR-100 noise map to record
    # ce has no weights and no L1 term: recorded as null, not as values that did nothing
    assert (cfg["alpha"], cfg["beta"], cfg["delta"], cfg["batch_size"], cfg["seed"]) == (None, None, None, 128, 42)


def test_ma2020_preset_and_explicit_flags_win():
    cfg = config.parse_args(["--preset", "ma2020"])
    assert (cfg["arch"], cfg["optimizer"], cfg["lr"], cfg["momentum"], cfg["weight_decay"]) == \
        ("cnn8", "sgd", 0.01, 0.9, 1e-4)
    assert (cfg["epochs"], cfg["scheduler"], cfg["augment"], cfg["grad_clip"], cfg["gamma"]) == \
        (120, "cosine", True, 5.0, 0.5)
    assert (cfg["val_fraction"], cfg["eval_batch_size"], cfg["eta_min"], cfg["nesterov"]) == (0.0, 128, 0.0, False)
    cfg = config.parse_args(["--preset", "ma2020", "--epochs", "3", "--no-augment", "--gamma", "2", "--lr", "0.1"])
    assert (cfg["epochs"], cfg["augment"], cfg["gamma"], cfg["lr"], cfg["arch"]) == (3, False, 2.0, 0.1, "cnn8")


@pytest.mark.parametrize("argv, expected", [
    (["--loss", "sce"], (0.1, 1.0, 5e-4)),
    (["--loss", "sce", "--alpha", "0.5"], (0.5, 1.0, 5e-4)),
    (["--loss", "anl-ce"], (5.0, 5.0, 0.0)),
    (["--loss", "anl-fl", "--weight-decay", "1e-4", "--beta", "2"], (5.0, 2.0, 1e-4)),
    (["--loss", "nce+rce"], (1.0, 1.0, 5e-4)),
])
def test_loss_defaults_sit_between_flags_and_preset(argv, expected):
    cfg = config.parse_args(argv)
    assert (cfg["alpha"], cfg["beta"], cfg["weight_decay"]) == expected


def test_aliases_resolve_and_share_a_run_directory():
    cfg = config.parse_args(["--loss", "apl-nce-mae", "--noise", "asym", "--rate", "0.25"])
    assert (cfg["loss"], cfg.facts["loss_as_given"]) == ("nce+mae", "apl-nce-mae")
    assert config.run_dir(cfg) == "results/cifar10/asym-0.25/nce+mae/seed42"
    assert config.run_dir(config.parse_args(["--noise", "sym", "--rate", "0"])) == "results/cifar10/none-0.0/ce/seed42"


def test_unknown_loss_fails_while_parsing():
    with pytest.raises(ValueError, match=r"unknown loss 'nce\+ce'.*active\+passive"):
        config.parse_args(["--loss", "nce+ce"])


@pytest.mark.parametrize("argv, message", [
    (["--loss", "gce", "--q", "0"], r"--q must be in \(0, 1\]"), (["--temperature", "0"], "--temperature must be > 0"),
    (["--grad-clip", "-1"], "--grad-clip must be >= 0"), (["--lr", "0"], "--lr must be > 0"),
])
def test_checks_name_the_flag(argv, message):
    with pytest.raises(ValueError, match=message):
        config.check(config.parse_args(argv))


@pytest.mark.parametrize("argv, flag", [
    (["--loss", "nce", "--alpha", "10"], "--alpha"), (["--loss", "ce", "--beta", "2"], "--beta"),
    (["--loss", "nce+mae", "--delta", "1e-3"], "--delta"),
])
def test_flags_a_loss_does_not_use_are_refused(argv, flag):
    with pytest.raises(ValueError, match=f"{flag} does not apply to the loss"):
        config.parse_args(argv)


def test_anl_records_its_delta():
    assert config.parse_args(["--loss", "anl-fl"])["delta"] == 5e-5
    assert config.parse_args(["--loss", "anl-ce", "--delta", "0"])["delta"] == 0.0


def test_a_configuration_of_an_older_layout_is_refused_in_one_line():
    cfg = config.parse_args([])
    config.require_current(cfg, "here")  # its own layout
    old = {k: v for k, v in cfg.items() if k not in ("stats", "asym_cifar100")}  # as runs of an older layout lack
    with pytest.raises(UserError, match=r"^here is not of the current layout \(it has no stats, asym_cifar100\): an "
                                        r"older version of the suite wrote it; train it again with another --out$"):
        config.require_current(old, "here")


@pytest.mark.parametrize("argv, expected", [
    # configs/cifar100/sym/nce+rce.yaml: ResNet50, 200 epochs, lr 0.1, wd 1e-5, eval batch 256, alpha 10, beta 0.1
    ("--preset ma2020 --dataset cifar100 --loss nce+rce",
     {"alpha": 10.0, "beta": 0.1, "arch": "resnet50", "epochs": 200, "lr": 0.1, "weight_decay": 1e-5,
      "eval_batch_size": 256, "rotate": 20.0, "asym_cifar100": "blocks", "val_fraction": 0.0}),
    # configs/mnist/*/nce.yaml: scale 10, Nesterov, wd 1e-2, eta_min 0.001, eval batch 512
    ("--preset ma2020 --dataset mnist --loss nce",
     {"scale": 10.0, "alpha": None, "nesterov": True, "weight_decay": 1e-2, "eta_min": 0.001, "eval_batch_size": 512,
      "augment": False, "arch": "cnn4", "epochs": 50}),
    # configs/cifar10/sym/nfl.yaml has scale 10, configs/cifar10/asym/nfl.yaml scale 1
    ("--preset ma2020 --loss nfl --noise sym --rate 0.4", {"scale": 10.0, "gamma": 0.5}),
    ("--preset ma2020 --loss nfl --noise asym --rate 0.4", {"scale": 1.0, "gamma": 0.5}),
    ("--preset ma2020 --dataset mnist --loss ngce --noise sym --rate 0.2", {"scale": 10.0, "q": 0.1}),
    ("--preset ma2020 --dataset mnist --loss ngce --noise asym --rate 0.2", {"scale": 1.0, "q": 0.1}),
    # config/cifar100_anl_ce.json: alpha 10, beta 1, delta 5e-7, weight decay 0, resnet34
    ("--preset ye2023 --dataset cifar100 --loss anl-ce",
     {"alpha": 10.0, "beta": 1.0, "delta": 5e-7, "weight_decay": 0.0, "arch": "resnet34", "eval_batch_size": 256}),
    ("--preset ye2023 --dataset cifar10 --loss anl-ce-er", {"alpha": 5.0, "beta": 5.0, "lamb": 2.0, "delta": 5e-5}),
    ("--preset ye2023 --dataset mnist --loss nce+agce",
     {"alpha": 0.0, "beta": 1.0, "a": 4.0, "q": 0.2, "weight_decay": 1e-3, "nesterov": False, "eta_min": 0.0}),
    ("--preset ye2023 --dataset cifar100 --loss nce+aul", {"alpha": 10.0, "beta": 0.015, "a": 6.0, "q": 3.0}),
    # a loss the preset has no row for: Zhou et al.'s values for the data set (hitcszx/ALFs config.py)
    ("--preset ma2020 --loss nce+agce", {"alpha": 1.0, "beta": 4.0, "a": 6.0, "q": 1.5, "weight_decay": 1e-4}),
    ("--preset ma2020 --dataset mnist --loss nce+agce", {"alpha": 0.0, "beta": 1.0, "a": 4.0, "q": 0.2}),
    ("--dataset mnist --loss aul", {"a": 3.0, "q": 0.1, "scale": 1.0}),
    ("--preset ma2020 --dataset mnist --loss nfl+agce", {"alpha": 1.0, "beta": 1.0, "a": 4.0, "q": 0.2}),  # agce's
    ("--dataset cifar100 --loss nce+ael", {"alpha": 10.0, "beta": 0.1, "a": 1.5}),
    # anl-ce-er without an MNIST config: anl-ce's row, and its own lambda
    ("--preset ye2023 --dataset mnist --loss anl-ce-er", {"alpha": 1.0, "beta": 1.0, "delta": 1e-6, "lamb": 2.0,
                                                           "weight_decay": 0.0}),
    # the preset's rotation is part of its augmentation: none without it
    ("--preset ma2020 --dataset cifar100 --no-augment", {"rotate": 0.0, "augment": False}),
])
def test_presets_take_each_losss_values_from_the_released_configs(argv, expected):
    cfg = config.parse_args(argv.split())
    assert {k: cfg[k] for k in expected} == expected


def test_config_records_where_each_value_came_from():
    cfg = config.parse_args("--preset ye2023 --dataset cifar100 --loss anl-ce --alpha 3 --epochs 2".split())
    src = cfg.sources
    assert (cfg["alpha"], src["alpha"], src["epochs"]) == (3.0, "flag", "flag")
    assert src["beta"] == "ye2023 loss table: Virusdoll/Active-Negative-Loss@f8c23b3 config/cifar100_anl_ce.json"
    assert src["arch"].startswith("ye2023 preset for cifar100") and src["lamb"] == "not used by anl-ce"
    src = config.parse_args("--preset ma2020 --dataset cifar100 --loss ngce+rce --noise asym --rate 0.2".split()).sources
    assert src["beta"].endswith("configs/cifar100/asym/ngce+rce.yaml (the file trains NGCEandMAE; NGCE+RCE here)")
    src = config.parse_args(["--loss", "nce+ael", "--preset", "ma2020"]).sources
    assert src["a"] == "Zhou et al. 2021's values for cifar10: hitcszx/ALFs@898961f config.py"
    assert src["val_fraction"] == "ma2020 preset for cifar10: no validation split in the released training code"
    assert src["rotate"] == "ma2020 preset for cifar10: HanxunH/Active-Passive-Losses@2d18de6 dataset.py"
    assert config.parse_args(["--loss", "nce+ael", "--q", "2"]).sources["q"] == "flag"


def test_every_study_loss_has_its_row_and_every_row_fits_its_loss():
    from noisylabels import presets
    from noisylabels import registry
    from noisylabels.losses import uses
    for (preset, dataset), table in presets.LOSS_TABLE.items():
        for loss, row in table.items():
            keys = set(row) - {"sym", "asym", "weight_decay"} | {k for v in ("sym", "asym") for k in row.get(v, {})}
            assert keys <= uses(loss) | {"q"}, (preset, dataset, loss)
    for name, s in presets.STUDIES.items():
        if s["preset"] != "report":  # a loss the preset's configs lack takes released values named in the registry
            table, generic = presets.LOSS_TABLE[s["preset"], s["dataset"]], "the loss's paper values"
            for loss in set(s["losses"].split()) - set(table):
                assert uses(loss) <= {"scale"} or not registry.source_of(loss, s["dataset"]).startswith(generic), \
                    (name, loss)


@pytest.mark.parametrize("argv, message", [
    ("--val-fraction 1", r"--val-fraction must be in \[0, 1\)"),
    ("--val-fraction 0 --clean-val", "--clean-val needs a validation split"),
    ("--nesterov", "--nesterov needs --optimizer sgd"),
    ("--loss gce --q 1.5", r"--q must be in \(0, 1\] for gce"),
    ("--loss aul --a 1", "--a must be > 1 for aul"),
    ("--loss nce+agce --a 0", "--a must be > 0"),
    ("--loss agce --scale 0", "--scale must be > 0"),
    ("--loss anl-ce-er --lamb -1", "--lamb must be >= 0"),
    ("--eta-min -0.1", "--eta-min must be >= 0"),
    ("--augment --rotate 200", r"--rotate must be in \[0, 180\]"),
])
def test_the_new_checks_name_the_flag(argv, message):
    with pytest.raises(ValueError, match=message):
        config.check(config.parse_args(argv.split()))


@pytest.mark.parametrize("argv, message", [
    ("--loss ce --a 2", "--a does not apply to the loss 'ce'"),
    ("--loss anl-ce --lamb 1", "--lamb does not apply to the loss 'anl-ce'"),
    ("--loss nce+mae --scale 2", "--scale does not apply to the loss 'nce\\+mae'"),
    ("--asym-cifar100 blocks", "--asym-cifar100 only applies to --dataset cifar100"),
    ("--rotate 20", "--rotate 20 needs --augment"),
])
def test_values_a_run_cannot_use_are_refused(argv, message):
    with pytest.raises(ValueError, match=message):
        config.parse_args(argv.split())


def test_the_papers_settings_that_pass_the_checks():
    for argv in ["--val-fraction 0", "--loss agce --q 1.5", "--loss nce+agce --preset ye2023 --dataset cifar100",
                 "--optimizer sgd --nesterov", "--dataset cifar100 --asym-cifar100 blocks --noise asym --rate 0.4"]:
        config.check(config.parse_args(argv.split()))


def test_a_loss_name_in_upper_case_gets_its_lower_case_name_suggested():
    with pytest.raises(UserError, match=r"^unknown loss 'NCE\+RCE' \(did you mean nce\+rce\?\); choose one of"):
        config.parse_args(["--loss", "NCE+RCE"])
