"""diagnose.py: the flip AUROC and the expected calibration error against values worked out by hand, and what a run
writes of them (log.csv, result.json, sample_loss.npz, eval.json)."""
import csv
import json
import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from noisylabels import config
from noisylabels import diagnose
from noisylabels import evaluate
from noisylabels import train
from helpers import compute, write_cifar


def logits_with_confidence(conf, pred, C=2):
    """Logits [N, C] whose softmax gives probability conf[i] to class pred[i] and shares the rest equally."""
    conf = torch.as_tensor(conf, dtype=torch.float64)
    p = ((1 - conf) / (C - 1))[:, None].repeat(1, C)
    p[torch.arange(len(conf)), torch.as_tensor(pred)] = conf
    return p.log()


def test_auroc_is_one_for_a_model_that_fits_the_clean_labels():
    y_true = torch.arange(100) % 10
    y_noisy = torch.where(torch.arange(100) % 3 == 0, (y_true + 1) % 10, y_true)  # 34 flipped
    logits = 12.0 * torch.nn.functional.one_hot(y_true, 10).float()  # every true label, confidently
    auroc = diagnose.flip_auroc(diagnose.sample_loss(logits, y_noisy), y_noisy != y_true)
    assert auroc.item() == 1.0


def test_auroc_is_one_half_for_constant_losses_and_nan_without_a_group():
    flipped = torch.tensor([True, False, False, True, False])
    assert diagnose.flip_auroc(torch.full((5,), 2.3), flipped).item() == 0.5  # every pair a tie
    assert math.isnan(diagnose.flip_auroc(torch.ones(5), torch.zeros(5, dtype=torch.bool)).item())


def test_auroc_by_hand_with_ties_and_unseen_samples():
    # flipped 2, 3 against clean 1, 2 (the NaN: a sample no batch held): 2 > 1, 2 = 2 (a half), 3 > 1, 3 > 2.
    loss = torch.tensor([1.0, 2.0, 2.0, 3.0, float("nan")])
    flipped = torch.tensor([False, True, False, True, True])
    assert diagnose.flip_auroc(loss, flipped).item() == pytest.approx(3.5 / 4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=2, max_size=40))
def test_auroc_is_the_pairwise_definition(pairs):
    loss = torch.tensor([float(v) for v, _ in pairs])  # few distinct values: many ties
    flipped = torch.tensor([f for _, f in pairs])
    pos, neg = loss[flipped].tolist(), loss[~flipped].tolist()
    got = diagnose.flip_auroc(loss, flipped).item()
    if not pos or not neg:
        assert math.isnan(got)
        return
    want = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    assert got == pytest.approx(want, abs=1e-12)


def test_ece_of_a_calibrated_prediction_is_zero():
    # Eight predictions at confidence 0.75, six right: accuracy 0.75 in the one bin they fill.
    y = torch.tensor([0] * 6 + [1] * 2)
    cal = diagnose.calibration(logits_with_confidence([0.75] * 8, [0] * 8), y)
    assert cal["ece"] == pytest.approx(0.0, abs=1e-7)
    assert cal["count"][11] == 8 and sum(cal["count"]) == 8  # 0.75 lies in (11/15, 12/15]
    assert cal["accuracy"][11] == pytest.approx(0.75) and cal["confidence"][11] == pytest.approx(0.75)


def test_ece_of_a_miscalibrated_prediction_by_hand():
    # 4 at confidence 0.65, all right (gap 0.35); 6 at 0.95, half right (gap 0.45): 0.4 * 0.35 + 0.6 * 0.45 = 0.41.
    conf = [0.65] * 4 + [0.95] * 6
    y = torch.tensor([0] * 4 + [0, 0, 0, 1, 1, 1])
    cal = diagnose.calibration(logits_with_confidence(conf, [0] * 10), y)
    assert cal["ece"] == pytest.approx(0.41, abs=1e-6)
    assert [i for i, n in enumerate(cal["count"]) if n] == [9, 14]  # (9/15, 10/15] and (14/15, 1]


def test_ece_bins_are_closed_above_and_take_a_confidence_of_one():
    cal = diagnose.calibration(torch.tensor([[50.0, -50.0, -50.0]]), torch.tensor([0]))
    assert cal["count"][14] == 1 and cal["ece"] == pytest.approx(0.0, abs=1e-6)


def test_bf16_logits_are_measured_in_float32():
    z = torch.randn(64, 10)
    y = torch.randint(0, 10, (64,))
    loss = diagnose.sample_loss(z.bfloat16(), y)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, diagnose.sample_loss(z.bfloat16().float(), y))
    assert diagnose.calibration(z.bfloat16(), y)["ece"] == pytest.approx(
        diagnose.calibration(z.bfloat16().float(), y)["ece"], abs=1e-9)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real 2-epoch run at sym 0.4 with a validation split (cnn4: the diagnostics are tested, not the network)."""
    root = tmp_path_factory.mktemp("diag")
    write_cifar(str(root / "data"), per_batch=40, n_test=100)
    return train.run(config.parse_args(["--data-dir", str(root / "data"), "--out", str(root / "r"), "--arch", "cnn4",
                                        "--epochs", "2", "--batch-size", "32", "--noise", "sym", "--rate", "0.4",
                                        "--loss", "ce", *compute(device="cpu")]))


@pytest.mark.slow
def test_a_run_writes_its_diagnostics(run):
    rows = list(csv.DictReader(open(os.path.join(run, "log.csv"))))
    res = json.load(open(os.path.join(run, "result.json")))
    z = np.load(os.path.join(run, "sample_loss.npz"))
    labels, clean = np.load(os.path.join(run, "labels.npy")), np.load(os.path.join(run, "clean_labels.npy"))
    # The split's flipped samples, by their positions in labels.npy.
    assert (z["flipped"] == (labels != clean)[z["index"]]).all() and z["flipped"].any()
    best = res["best_epoch"]
    assert int(z["best_epoch"]) == best and int(z["last_epoch"]) == 2
    # The AUROC of the saved losses is the logged one (both from the steps of that epoch).
    auroc = diagnose.flip_auroc(torch.from_numpy(z["best"]), torch.from_numpy(z["flipped"])).item()
    assert float(rows[best - 1]["train_flip_auroc"]) == pytest.approx(auroc, abs=1e-6)
    assert res["train_flip_auroc_best"] == float(rows[best - 1]["train_flip_auroc"])
    assert res["test_ece_last"] == float(rows[-1]["test_ece"])
    assert 0 <= res["test_ece_best"] <= 1 and sum(res["reliability_best"]["count"]) == 100
    n_seen = (~np.isnan(z["last"])).sum()  # drop_last leaves the split's last partial batch out
    assert n_seen == len(z["last"]) // 32 * 32


@pytest.mark.slow
def test_evaluate_reports_the_selected_models_ece(run, capsys):
    evaluate.main([run, "--device", "cpu"])
    ev = json.load(open(os.path.join(run, "eval.json")))
    res = json.load(open(os.path.join(run, "result.json")))
    assert ev["ece"] == pytest.approx(res["test_ece_best"], abs=1e-9) and ev["reliability"]["count"] == \
        res["reliability_best"]["count"]
    out = capsys.readouterr().out
    assert "expected calibration error" in out and "true class" in out and "accuracy" in out
