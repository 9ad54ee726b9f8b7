"""config.py: presets, the order in which values are resolved, and the run directory."""
import os

import pytest

import config


def test_report_preset_is_the_default():
    cfg = config.parse_args([])
    assert cfg["preset"] == "report"
    assert {k: cfg[k] for k in config.PRESETS["report"]} == {
        "arch": "resnet18", "optimizer": "adamw", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "epochs": 30,
        "scheduler": "cosine", "augment": False, "grad_clip": 0.0, "gamma": 2.0}
    # ce has no weights and no L1 term: recorded as null, not as values that did nothing
    assert (cfg["alpha"], cfg["beta"], cfg["delta"], cfg["batch_size"], cfg["seed"]) == (None, None, None, 128, 42)


def test_ma2020_preset_and_explicit_flags_win():
    cfg = config.parse_args(["--preset", "ma2020"])
    assert (cfg["arch"], cfg["optimizer"], cfg["lr"], cfg["momentum"], cfg["weight_decay"]) == \
        ("cnn8", "sgd", 0.01, 0.9, 1e-4)
    assert (cfg["epochs"], cfg["scheduler"], cfg["augment"], cfg["grad_clip"], cfg["gamma"]) == \
        (120, "cosine", True, 5.0, 0.5)
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
    assert (cfg["loss"], cfg["loss_as_given"]) == ("nce+mae", "apl-nce-mae")
    assert config.run_dir(cfg) == "results/cifar10/asym-0.25/nce+mae/seed42"
    assert config.run_dir(config.parse_args(["--noise", "sym", "--rate", "0"])) == "results/cifar10/none-0.0/ce/seed42"


def test_unknown_loss_fails_while_parsing():
    with pytest.raises(ValueError, match=r"unknown loss 'nce\+ce'.*active\+passive"):
        config.parse_args(["--loss", "nce+ce"])


@pytest.mark.parametrize("argv, message", [
    (["--q", "0"], r"--q must be in \(0, 1\]"), (["--temperature", "0"], "--temperature must be > 0"),
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


def test_a_run_in_the_layout_from_before_datasets_is_not_started_again(tmp_path):
    cfg = config.parse_args(["--out", str(tmp_path), "--noise", "sym", "--rate", "0.5"])
    old = tmp_path / "sym-0.5" / "ce" / "seed42"
    old.mkdir(parents=True)
    (old / "last.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=f"{old} holds this run from before .* mv {old} {config.run_dir(cfg)}"):
        config.check(cfg)
    os.makedirs(os.path.dirname(config.run_dir(cfg)))
    os.rename(old, config.run_dir(cfg))  # moved as the message says: nothing is in the way any more
    config.check(cfg)
    mnist = config.parse_args(["--out", str(tmp_path), "--noise", "sym", "--rate", "0.5", "--dataset", "mnist"])
    (old).mkdir(parents=True)
    (old / "last.pt").write_bytes(b"")
    config.check(mnist)  # the old layout only ever held CIFAR-10 runs
