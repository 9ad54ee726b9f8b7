"""The papers' protocols: training without validation, rotation, CIFAR-100's index blocks, the studies and their table."""
import csv
import json
import os

import numpy as np
import pytest
import torch

from noisylabels import batches
from noisylabels import config
from noisylabels import evaluate
from noisylabels import noise
from noisylabels import plot
from noisylabels import presets
from noisylabels import train
from helpers import compute, grid_list, write_mnist, write_run


# Augmentation and noise ----------------------------------------------------------------------------------------

def test_rotation_by_zero_is_the_image_and_by_a_quarter_turn_is_rot90():
    x = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(batches.rotate_images(x, torch.zeros(3)), x)
    quarter = batches.rotate_images(x, torch.full((3,), 90.0))
    assert torch.equal(quarter, torch.rot90(x, 1, (2, 3))) or torch.equal(quarter, torch.rot90(x, -1, (2, 3)))
    assert torch.equal(batches.rotate_images(x, torch.full((3,), 180.0)), x.flip(2, 3))
    some = batches.rotate_images(x, torch.tensor([10.0, -20.0, 15.0]))
    for i in range(3):  # nearest pixel: every value is one the image had, or the zero fill of the corners
        assert set(some[i].unique().tolist()) <= set(x[i].unique().tolist()) | {0}


def test_augment_rotates_after_the_crops_and_flips_it_always_drew():
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(7)
    plain = batches.augment(x, g)
    angles = (torch.rand(6, generator=g) * 2 - 1) * 20  # the next draw of the same generator
    assert angles.abs().max() <= 20
    rotated = batches.augment(x, torch.Generator().manual_seed(7), rotate=20.0)
    assert torch.equal(rotated, batches.rotate_images(plain, angles))
    assert torch.equal(batches.augment(x, torch.Generator().manual_seed(7), rotate=0.0), plain)  # unchanged without


def test_the_released_codes_cifar100_blocks():
    m = noise.index_blocks()
    assert (m[0], m[3], m[4], m[5], m[99]) == (1, 4, 0, 6, 95)
    assert sorted(m.values()) == list(range(100)) and all(m[c] // 5 == c // 5 and m[c] != c for c in m)
    y = np.repeat(np.arange(100), 20)
    noisy, T = noise.make_noisy_labels(y, "asym", 0.4, 0, 100, noise.asym_map("cifar100", None, "blocks"))
    assert all(T[c, m[c]] == pytest.approx(0.4) and T[c, c] == pytest.approx(0.6) for c in range(100))


# Training on the whole training set ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def no_val_run(tmp_path_factory):
    data = write_mnist(str(tmp_path_factory.mktemp("mnist")))
    out = str(tmp_path_factory.mktemp("runs"))
    run = train.run(config.parse_args(["--dataset", "mnist", "--data-dir", data, "--out", out, "--preset", "ma2020",
                                       "--epochs", "2", "--noise", "sym", "--rate", "0.2", "--loss", "nce+rce",
                                       *compute(device="cpu", precision="fp32")]))
    return data, out, run


@pytest.mark.slow
def test_no_validation_trains_on_everything_and_keeps_the_last_epoch(no_val_run):
    data, out, run = no_val_run
    rows = list(csv.DictReader(open(os.path.join(run, "log.csv"))))
    assert len(rows) == 2 and all(r["val_loss"] == "" and r["val_acc"] == "" for r in rows)  # empty, not 0
    res = json.load(open(os.path.join(run, "result.json")))
    assert (res["selection"], res["best_epoch"], res["best_val_acc"]) == ("last epoch", 2, None)
    assert res["test_acc_best"] == res["test_acc_last"] == pytest.approx(float(rows[-1]["test_acc"]), abs=1e-6)
    best, last = (torch.load(os.path.join(run, f), weights_only=True)["model"] for f in ("best.pt", "last.pt"))
    assert all(torch.equal(best[k], last[k]) for k in last)
    cfg = json.load(open(os.path.join(run, "config.json")))
    assert (cfg["val_fraction"], cfg["nesterov"], cfg["eta_min"], cfg["beta"]) == (0.0, True, 0.001, 10.0)
    assert cfg["sources"]["beta"].endswith("configs/mnist/sym/nce+rce.yaml")
    assert float(rows[1]["lr"]) == pytest.approx(0.001 + 0.5 * 0.009)  # cosine halfway, towards eta_min
    evaluate.main([run, "--data-dir", data, "--device", "cpu"])
    assert json.load(open(os.path.join(run, "eval.json")))["test_acc"] == res["test_acc_best"]


@pytest.mark.slow
def test_plot_draws_runs_without_validation(no_val_run):
    _, out, _ = no_val_run
    plot.main([out])
    table = open(os.path.join(out, "figures", "mnist", "table.md")).read()
    assert "last epoch" in table and "best-validation" not in table
    assert os.path.isfile(os.path.join(out, "figures", "mnist", "accuracy_vs_rate_sym.png"))


@pytest.mark.slow
@pytest.mark.parametrize("loss, key, value", [("anl-ce-er", "lamb", 2.0), ("nce+agce", "a", 6.0)])
def test_the_new_losses_train_under_ye2023(tiny_cifar_dir, tmp_path, loss, key, value):
    # 100 images: the losses' values and their training are tested, not what they learn
    run = train.run(config.parse_args(["--data-dir", tiny_cifar_dir, "--out", str(tmp_path), "--preset", "ye2023",
                                       "--epochs", "1", "--loss", loss, "--noise", "asym", "--rate", "0.2",
                                       *compute(device="cpu")]))
    row = next(csv.DictReader(open(os.path.join(run, "log.csv"))))
    cfg = json.load(open(os.path.join(run, "config.json")))
    assert np.isfinite(float(row["train_loss"])) and np.isfinite(float(row["test_loss"]))
    assert cfg[key] == value and cfg["sources"][key].startswith("ye2023 loss table: Virusdoll/Active-Negative-Loss")
    evaluate.main([run, "--device", "cpu"])  # with the released statistics the run trained with
    assert cfg["stats"] == "released"
    assert json.load(open(os.path.join(run, "eval.json")))["test_acc"] == \
        json.load(open(os.path.join(run, "result.json")))["test_acc_best"]


def test_the_paper_presets_standardise_with_the_released_statistics():
    from noisylabels import engine
    step = lambda *argv: engine.make_step(config.parse_args([*argv, "--device", "cpu"]), torch.device("cpu"))  # noqa: E731
    assert step("--preset", "ma2020").spec.std == (0.24703233, 0.24348505, 0.26158768)
    assert step().spec.std == (0.2023, 0.1994, 0.2010)  # the report's
    assert step("--preset", "ye2023", "--dataset", "mnist").spec.std == (0.3081,)  # the same in both


# Studies ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("study, runs", [("report", 42), ("ma2020-mnist", 405), ("ye2023-cifar100", 378),
                                         ("ye2023-mnist", 351), ("eps2024-webvision-mini", 10), ("eps2024-clothing1m", 9)])
def test_each_study_lists_its_whole_grid(tmp_path, study, runs):
    p = grid_list(tmp_path, STUDY=study)
    assert p.returncode == 0, p.stderr
    s = presets.STUDIES[study]
    lines = p.stdout.splitlines()
    assert lines[0].startswith(f"study {study}: {s['dataset']}, --preset {s['preset']}")
    assert lines[-1].startswith(f"{runs} runs")
    where = "results" if study == "report" else f"results/{study}"
    assert sum(line.split()[-1].startswith(f"{where}/{s['dataset']}/") for line in lines[4:-1]) == runs


def test_variables_win_over_the_study(tmp_path):
    p = grid_list(tmp_path, STUDY="ye2023-mnist", LOSSES="ce nce+ael", SEEDS="5", ASYM_RATES="0.3")
    assert p.returncode == 0 and p.stdout.splitlines()[-1].startswith("12 runs")  # 2 losses x (5 sym + 1 asym)
    assert "results/ye2023-mnist/mnist/asym-0.3/nce+ael/seed5" in p.stdout
    assert "rates and seeds from: given here (the study's own: not in ANL's repository" in p.stdout
    p = grid_list(tmp_path, PRESET="ma2020")  # the report's grid under another protocol: a folder of its own
    assert p.stdout.splitlines()[0] == "study report: cifar10, --preset ma2020, into results/ma2020"
    p = grid_list(tmp_path, STUDY="ma2020-mnist", EXTRA="--preset report")
    assert p.returncode == 2 and "EXTRA may not hold --preset" in p.stderr
    p = grid_list(tmp_path, STUDY="ma2020-svhn")
    assert p.returncode == 2 and "unknown study 'ma2020-svhn'; choose one of: report, ma2020-cifar10" in p.stderr


def write_study(root, name, losses, seeds="1 2"):
    study = {**presets.STUDIES[name], "name": name, "losses": losses, "seeds": seeds}
    os.makedirs(root, exist_ok=True)
    json.dump(study, open(os.path.join(root, "study.json"), "w"))
    return study


@pytest.mark.slow  # plot.main draws a folder's figures: 3 to 7 s here, no process and no training
def test_the_study_table_has_the_papers_rows_and_columns(tmp_path):
    root = str(tmp_path / "results" / "ma2020-cifar10")
    write_study(root, "ma2020-cifar10", "nfl+mae ce nce")  # the study's own order, not the report's
    for loss in ("ce", "nfl+mae", "nce"):
        for setting in ("none-0.0", "sym-0.2", "asym-0.4"):
            for seed in (1, 2):
                if (loss, setting, seed) != ("nce", "asym-0.4", 2):  # one cell with a seed missing
                    write_run(root, setting, loss, seed, dataset="cifar10")
    plot.main([str(tmp_path / "results")])
    md = open(os.path.join(root, "figures", "cifar10", "study.md")).read().splitlines()
    head = next(line for line in md if line.startswith("| loss"))
    assert head == "| loss | clean | sym 0.2 | sym 0.4 | sym 0.6 | sym 0.8 | asym 0.1 | asym 0.2 | asym 0.3 | asym 0.4 |"
    rows = [line for line in md if line.startswith("| ") and not line.startswith(("| loss", "| ---"))]
    assert [r.split(" | ")[0][2:] for r in rows] == ["nfl+mae", "ce", "nce"]
    cells = {r.split(" | ")[0][2:]: r.strip("| ").split(" | ")[1:] for r in rows}
    # test_plot's made-up accuracies: last epoch = 0.85 - rate * (0.5 for ce, else 0.2) + 0.01 * index + 0.02 * seed
    ce = [100 * (0.85 - 0.2 * 0.5 + 0.02 * s) for s in (1, 2)]
    assert cells["ce"][1] == f"{np.mean(ce):.2f} ± {np.std(ce, ddof=1):.2f}"
    assert cells["ce"][2] == "–"  # sym 0.4 was not run
    assert cells["nce"][-1].endswith("(n=1)") and " ± " not in cells["nce"][-1]
    nfl_mae = 100 * (0.85 - 0.2 * 0.2 + 0.01 * 5 + 0.03)  # the highest mean of its column
    assert cells["nfl+mae"][1] == f"**{nfl_mae:.2f} ± 1.41**" and not cells["ce"][1].startswith("**")
    study_csv = list(csv.DictReader(open(os.path.join(root, "figures", "cifar10", "study.csv"))))
    assert {(r["loss"], r["setting"]) for r in study_csv} == {(l, s) for l in ("ce", "nfl+mae", "nce")
                                                              for s in ("none-0.0", "sym-0.2", "asym-0.4")}


@pytest.mark.slow  # plot.main draws a folder's figures: 3 to 7 s here, no process and no training
def test_two_studies_in_one_results_folder_stay_apart(tmp_path):
    for name in ("ma2020-mnist", "ye2023-mnist"):
        root = str(tmp_path / name)
        write_study(root, name, "ce", seeds="1")
        write_run(root, "sym-0.2", "ce", 1, dataset="mnist")
    plot.main([str(tmp_path)])
    for name in ("ma2020-mnist", "ye2023-mnist"):
        md = open(tmp_path / name / "figures" / "mnist" / "study.md").read()
        assert f"study {name}" in md and "| **77.00** |" in md  # one seed each, not two seeds of one cell
    assert not os.path.exists(tmp_path / "figures")
    plot.main([str(tmp_path), "--out", str(tmp_path / "figs")])  # each study in its place under --out
    for name in ("ma2020-mnist", "ye2023-mnist"):
        assert f"study {name}" in open(tmp_path / "figs" / name / "mnist" / "study.md").read()
    assert sorted(os.listdir(tmp_path / "figs")) == ["ma2020-mnist", "ye2023-mnist"]


def test_force_continues_the_cosine_towards_eta_min():
    import math

    from noisylabels import engine
    cfg = config.parse_args("--preset ma2020 --dataset mnist --epochs 4 --device cpu".split())  # eta_min 0.001
    model = torch.nn.Linear(2, 2)
    opt, sched = engine.make_optimizer(cfg, model, torch.device("cpu"))
    for _ in range(2):
        opt.step()
        sched.step()
    closed = lambda e, T: 0.001 + 0.5 * (0.01 - 0.001) * (1 + math.cos(math.pi * e / T))  # noqa: E731
    assert opt.param_groups[0]["lr"] == pytest.approx(closed(2, 4))
    engine.apply_forced({**cfg, "epochs": 8}, opt, sched, 2)  # --resume --force --epochs 8 after epoch 2
    assert opt.param_groups[0]["lr"] == pytest.approx(closed(2, 8))
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(closed(3, 8))


def test_a_run_of_another_preset_is_not_taken_for_this_ones(tmp_path):
    cfg = config.parse_args(["--preset", "ma2020", "--out", str(tmp_path), "--noise", "sym", "--rate", "0.4"])
    os.makedirs(config.run_dir(cfg))
    json.dump({"preset": "ma2020"}, open(os.path.join(config.run_dir(cfg), "config.json"), "w"))
    config.check(cfg)  # its own protocol: fine
    other = config.parse_args(["--preset", "ye2023", "--out", str(tmp_path), "--noise", "sym", "--rate", "0.4"])
    with pytest.raises(ValueError, match=r"holds a run of --preset ma2020, not ye2023; give this protocol its own --out"):
        config.check(other)
    p = grid_list(tmp_path, STUDY="ma2020-mnist", PRESET="ye2023")  # a study under another preset: its own folder
    assert p.stdout.splitlines()[0].endswith("into results/ma2020-mnist-ye2023")
