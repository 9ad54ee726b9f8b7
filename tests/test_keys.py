"""keys.py, the one declaration of a run: the parser, config.json, the resume rules, --show-config and docs/runs.md's
table all come from it."""
import json
import os
import re

import pytest

from noisylabels import config
from noisylabels import keys
from noisylabels import rundir
from noisylabels import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_parser_has_a_flag_for_every_declared_key_and_no_other():
    p = config.parser()
    flags = {o for a in p._actions for o in a.option_strings if o.startswith("--") and not o.startswith("--no-")}
    assert flags == {k.flag for k in keys.KEYS} | {"--help"}
    for group in p._action_groups[2:]:
        names = [a.dest for a in group._group_actions]
        assert names == [k.name for k in keys.KEYS if k.group == group.title], group.title


def test_a_resolved_configuration_has_every_recorded_key_and_a_source_for_each():
    cfg = config.parse_args(["--loss", "gce", "--noise", "asym", "--rate", "0.3", "--dataset", "mnist"])
    assert list(cfg) == keys.RECORDED and list(cfg.sources) == sorted(keys.RECORDED)
    assert cfg.sources["noise"] == "flag" and cfg.sources["seed"] == "default" and cfg["seed"] == 42
    assert cfg.sources["lr"].startswith("report preset for mnist") and cfg["lr"] == 0.01
    assert set(cfg.facts) == set(keys.FACT_NAMES) and cfg.facts["run_dir"] == config.run_dir(cfg)


def test_a_key_nobody_declared_is_an_error_not_a_silent_none():
    cfg = config.parse_args([])
    for use in (lambda: cfg["learning_rate"], lambda: cfg.get("learning_rate"),
                lambda: cfg.__setitem__("learning_rate", 0.1), lambda: cfg.facts["precison_used"]):
        with pytest.raises(KeyError, match=r"is not a key of a run's (configuration|facts) \(noisylabels/keys.py"):
            use()
    assert cfg.get("lr") == 0.01  # a declared key reads as before


def test_resume_rules_come_from_the_declaration():
    cfg = config.parse_args([])
    was = {**keys.record(cfg), "out": "elsewhere", "lr": 0.5, "arch": "cnn8"}  # free, checked, fixed
    diff = rundir.differences(cfg, was)
    assert diff == {"arch": ("cnn8", "resnet18"), "lr": (0.5, 0.01)}
    assert rundir.fixed(diff) == ["arch"]
    # A fact is compared where this process knows it (train.py: once the device is resolved), and may be FIXED.
    cfg.facts.update(precision_used="fp32", data_sha256="b" * 64)
    was["facts"] = {"precision_used": "bf16", "data_sha256": "a" * 64}
    diff = rundir.differences(cfg, was)
    assert diff["precision_used"] == ("bf16", "fp32") and rundir.fixed(diff) == ["arch", "data_sha256"]
    # Every declared FIXED key is refused by --force; none of the FREE ones is ever a difference.
    fixed = {k.name for k in keys.KEYS if k.record and k.resume == keys.FIXED}
    assert fixed >= {"arch", "optimizer", "scheduler", "dataset", "val_fraction"}
    free = {k.name: "changed" for k in keys.KEYS if k.record and k.resume == keys.FREE}
    assert rundir.differences(config.parse_args([]), {**keys.record(config.parse_args([])), **free}) == {}


def test_a_label_file_s_hash_is_compared_even_where_the_resume_leaves_the_file_out():
    # --clean-labels given at the start and left out on --resume: the labels memorisation is measured against
    # would change under the run, so it is refused (fixed), whereas a late fact this process does not know is not
    was = {**keys.record(config.parse_args([])), "facts": {"clean_labels_sha256": "c" * 64, "precision_used": "bf16"}}
    diff = rundir.differences(config.parse_args([]), was)
    assert diff == {"clean_labels_sha256": ("c" * 64, None)} and rundir.fixed(diff) == ["clean_labels_sha256"]


def test_a_record_of_the_flat_layout_gives_its_facts():
    flat = {**keys.record(config.parse_args([])), "precision_used": "bf16", "forced": []}
    del flat["facts"]
    assert keys.facts_of(flat)["precision_used"] == "bf16" and keys.facts_of(flat)["run_dir"] is None


def test_show_config_prints_every_value_with_its_source_and_trains_nothing(tmp_path, capsys):
    out = tmp_path / "results"
    train.main(["--show-config", "--preset", "ma2020", "--dataset", "cifar100", "--noise", "sym", "--rate", "0.4",
                "--loss", "nce+rce", "--out", str(out)])
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith(f"configuration of {out}/cifar100/sym-0.4/nce+rce/seed42")
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in text[1:-1] if line.startswith("  ")}
    assert list(rows) == keys.RECORDED
    assert rows["alpha"] == ["10.0", "ma2020 loss table: HanxunH/Active-Passive-Losses@2d18de6 "
                                     "configs/cifar100/sym/nce+rce.yaml"]
    assert rows["lr"][0] == "0.1" and rows["rate"] == ["0.4", "flag"] and rows["seed"] == ["42", "default"]
    assert [t for t in text if not t.startswith(" ")][1:-1] == [f"{g}:" for g in keys.GROUPS]
    assert text[-1].startswith("facts so far: run_dir ") and not out.exists()


def test_docs_table_is_the_declaration():
    text = open(os.path.join(ROOT, "docs", "runs.md")).read()
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \| (\w+) \|$", text, re.M)
    documented = {name: (group.strip(), left.strip(), resume) for name, group, left, resume in rows}
    origins = {"loss": "the loss's values", "preset": "the preset", "noise": "the noise model", "data": "the data set"}
    for k in keys.KEYS:
        if not k.record:
            assert k.name not in documented
            continue
        left = f"`{json.dumps(k.default)}`" if k.origin == "default" else origins[k.origin] + \
            (f", else `{json.dumps(k.default)}`" if k.default is not None else "")
        assert documented.pop(k.name) == (k.group, left, k.resume), k.name
    facts = re.findall(r"^\| `(\w+)` \| ([^|]+) \| (\w+) \|$", text, re.M)
    assert [(n, r) for n, _, r in facts] == [(f.name, f.resume) for f in keys.FACTS]
    assert not documented


def test_the_tables_pool_runs_by_the_declared_protocol():
    from noisylabels import tables
    assert {"epochs", "arch", "lr", "lr_gamma", "lr_step", "scheduler", "preset", "dataset"} <= set(tables.PROTOCOL)
    assert not set(tables.PROTOCOL) & {"alpha", "q", "seed", "loss", "noise", "device", "out", "eval_batch_size"}
