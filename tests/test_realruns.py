"""train.py on the real-world noisy sets, streamed from disk: real CIFAR-10 images written into each official layout
(real_layouts.py), trained end to end; what a run writes, resume, unreadable images, the protocols' values and
every refusal. Nothing is downloaded."""
import json
import os
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import real_layouts as R
from helpers import cli, in_process, interrupt_after_epoch
from noisylabels import config, presets, realconfig, realnoise, results, tables
from noisylabels.errors import UserError
from noisylabels.evaluate import main as evaluate_main
from noisylabels.losses import get_loss
from noisylabels.plot import main as plot_main
from noisylabels.train import main as train_main

# Small and fast: 16-px crops on the 4-layer CNN, fp32 whatever the CPU, decoded in the training process.
FAST = ["--image-size", "16", "--arch", "cnn4", "--batch-size", "16", "--eval-batch-size", "64", "--precision", "fp32",
        "--workers", "0", "--lr", "0.003"]


def per_class(y, n):
    """The first n images of each class, in order."""
    return np.sort(np.concatenate([np.flatnonzero(y == c)[:n] for c in range(10)]))


@pytest.fixture(scope="module")
def cifar():
    return R.cifar10()


@pytest.fixture(scope="module")
def small(cifar, tmp_path_factory):
    """Every layout with 8 training images of each class and 60 test images."""
    x, y, xt, yt = cifar
    k, root = per_class(y, 8), tmp_path_factory.mktemp("layouts")
    args = (x[k], y[k], xt[:60], yt[:60])
    return {"webvision-mini": R.webvision(f"{root}/webvision", *args),
            "ilsvrc12": R.imagenet_val(f"{root}/ilsvrc12", xt[:60], yt[:60]),
            "animal10n": R.animal10n(f"{root}/animal10n", *args),
            "clothing1m": R.clothing1m(f"{root}/clothing1m", *args, n_val=20),
            "food101n": R.food101n(f"{root}/food101n", f"{root}/food-101", *args)}


def train(tmp_path, *argv, expect=0):
    r = cli("train.py", *argv, "--out", str(tmp_path / "out"), timeout=600)
    assert r.returncode == expect, r.stdout + r.stderr
    return r


def run_dir(tmp_path, dataset, loss="ce", seed=42):
    return tmp_path / "out" / dataset / "none-0.0" / loss / f"seed{seed}"


def read(path):
    with open(path) as f:
        return json.load(f)


def test_webvision_mini_reports_both_test_sets(small, tmp_path):
    r = train(tmp_path, "--dataset", "webvision-mini", "--data-dir", small["webvision-mini"], "--imagenet-val",
              small["ilsvrc12"], "--epochs", "2", *FAST)
    d = run_dir(tmp_path, "webvision-mini")
    result, noise = read(d / "result.json"), read(d / "noise.json")
    assert result["test_set"] == "webvision" and list(result["tests"]) == ["webvision", "ilsvrc12"]
    assert result["tests"]["webvision"]["acc_last"] == result["test_acc_last"]
    assert result["skipped_images"] == {} and result["realised_noise_rate"] is None
    header = open(d / "log.csv").readline().strip().split(",")
    assert header[-2:] == ["ilsvrc12_loss", "ilsvrc12_acc"]
    # 80 training images, 15% held out stratified by class: 1.2 of each class's 8, rounded to 1, so 10 val and 70 train;
    # 60 test images, and 60 + 40 grey ILSVRC12 ones
    assert noise["n_train_total"] == 80 and noise["tests"] == {"webvision": 60, "ilsvrc12": 100}
    assert noise["transition_matrix"] is None and noise["clean_labels"].startswith("unknown")
    assert "70 train / 10 val / 60 webvision + 100 ilsvrc12 test" in r.stdout and " ilsvrc12 acc " in r.stdout
    assert np.array_equal(np.load(d / "labels.npy"), np.asarray([y for _, y in realnoise.read(
        "webvision-mini", small["webvision-mini"]).train]))
    assert not (d / "clean_labels.npy").exists()  # unknown: not written as if it were known
    assert "note: 2 training rows of classes 50..999 left out (the mini setting)" in r.stderr
    # result.json is strict JSON (an unknown flip AUROC is null, not NaN)
    strict = json.loads((d / "result.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in result.json"))
    assert strict["train_flip_auroc_best"] is None
    # table.md: a table per test set, its one column the set's own labels
    runs = results.find_runs(str(tmp_path / "out"))
    by_setting = {"none-0.0": {"ce": runs}}
    tables.tables(by_setting, {"name": "webvision-mini", "title": "webvision-mini"}, 1, str(tmp_path))
    md = (tmp_path / "table.md").read_text()
    assert "### webvision-mini: test accuracy on ilsvrc12 (%), best-validation model" in md
    assert f"| ce | **{100 * result['tests']['ilsvrc12']['acc_best']:.2f}** |" in md and "| loss | its own labels |" in md
    # evaluate.py measures each test set of the selected model as train.py did: the same accuracies exactly
    e = in_process(evaluate_main, [str(d)], tmp_path)
    assert e.returncode == 0 and e.stdout.count(" test accuracy ") == 2, e.stderr
    ev = read(d / "eval.json")
    assert {n: t["test_acc"] for n, t in ev["tests"].items()} == {n: t["acc_best"] for n, t in result["tests"].items()}
    assert ev["test_set"] == "webvision" and ev["tests"]["ilsvrc12"]["n_test"] == 100


@pytest.mark.slow
def test_clothing1m_selects_on_its_clean_val_and_estimates_its_noise(small, tmp_path):
    train(tmp_path, "--dataset", "clothing1m", "--data-dir", small["clothing1m"], "--epochs", "2", *FAST)
    d = run_dir(tmp_path, "clothing1m")
    cfg, result, noise = read(d / "config.json"), read(d / "result.json"), read(d / "noise.json")
    assert cfg["val_fraction"] == 0.0 and cfg["sources"]["val_fraction"] == "clothing1m: its clean validation list"
    assert cfg["crop"] == "resize-random" and cfg["jitter"] is False  # the report preset's Clothing1M crop
    assert result["selection"] == "best validation" and list(result["tests"]) == ["clean-test"]
    assert noise["val"] == "the set's clean validation list" and noise["tests"] == {"clean-test": 40}
    # every 5th of the 80 training images has a clean label, the same as its noisy one: 16 images, none wrong
    assert noise["estimated_rate"] == {"rate": 0.0, "over": 16, "how": "noisy label differs from clean_label_kv.txt's"}
    # plot.py lays the clothing1m study out by test set, last epoch and best-validation model
    out = tmp_path / "out"
    (out / "study.json").write_text(json.dumps({**presets.STUDIES["eps2024-clothing1m"], "name": "eps2024-clothing1m"}))
    assert in_process(plot_main, [str(out)], tmp_path).returncode == 0
    table = (out / "figures" / "clothing1m" / "study.md").read_text().splitlines()
    assert "| loss | clean-test (last) | clean-test (best) |" in table
    assert f"| ce | **{100 * result['test_acc_last']:.2f}** | **{100 * result['test_acc_best']:.2f}** |" in table
    assert "| fl | – | – |" in table


@pytest.mark.slow
def test_food101n_and_animal10n_train_on_their_layouts(small, tmp_path):
    train(tmp_path, "--dataset", "food101n", "--data-dir", small["food101n"][0], "--food101", small["food101n"][1],
          "--epochs", "1", *FAST)
    noise = read(run_dir(tmp_path, "food101n") / "noise.json")
    assert noise["estimated_rate"]["over"] == 20 + 10 and noise["estimated_rate"]["rate"] == 0.0  # [::4] and [1::8]
    assert len(noise["classes"]) == 101
    train(tmp_path, "--dataset", "animal10n", "--data-dir", small["animal10n"], "--epochs", "1", *FAST)
    assert read(run_dir(tmp_path, "animal10n") / "result.json")["tests"]["test"]["acc_last"] is not None


@pytest.mark.slow
def test_a_resumed_streamed_run_is_the_unbroken_one(small, tmp_path, monkeypatch):
    """Crops, flips, jitter and the balanced sample are functions of (seed, epoch, index): a run stopped after epoch 1
    and resumed, with another number of workers, trains what an unbroken run trains."""
    common = ["--dataset", "clothing1m", "--data-dir", small["clothing1m"], "--jitter", "--crop", "random-resized",
              "--per-epoch", "40", *FAST, "--epochs", "2"]
    train(tmp_path / "a", *common)
    interrupt_after_epoch(monkeypatch, common + ["--out", str(tmp_path / "b" / "out")], epoch=1)
    train(tmp_path / "b", *common, "--workers", "2", "--resume")
    a, b = (torch.load(run_dir(t, "clothing1m") / "last.pt", weights_only=True) for t in (tmp_path / "a", tmp_path / "b"))
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(a["log"]) == strip(b["log"]) and a["tests_last"] == b["tests_last"]


def bad_animals(cifar, tmp_path):
    """ANIMAL-10N with 4 images of each class, one of them not a JPEG."""
    x, y, xt, yt = cifar
    k = per_class(y, 4)
    root = R.animal10n(str(tmp_path / "animal10n"), x[k], y[k], xt[:30], yt[:30])
    with open(f"{root}/training/3_2.jpg", "wb") as f:
        f.write(b"not a jpeg")
    return root, ["--dataset", "animal10n", "--data-dir", root, "--epochs", "1", *FAST]


def said_bad(r, root):
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"error: cannot read image {root}/training/3_2.jpg") and "--skip-bad-images" in r.stderr


def test_an_unreadable_image_is_one_line(cifar, tmp_path):
    root, argv = bad_animals(cifar, tmp_path)
    said_bad(in_process(train_main, argv + ["--out", str(tmp_path / "out")], tmp_path), root)


@pytest.mark.slow
def test_an_unreadable_image_in_a_worker_is_one_line_or_skipped_and_counted(cifar, tmp_path):
    root, argv = bad_animals(cifar, tmp_path)
    said_bad(train(tmp_path / "w", *argv, "--workers", "1", expect=2), root)
    train(tmp_path / "skip", *argv, "--skip-bad-images")
    assert read(run_dir(tmp_path / "skip", "animal10n") / "result.json")["skipped_images"] in ({"train": 1}, {"val": 1})


def test_protocol_values_and_their_sources():
    cfg = config.parse_args(["--dataset", "clothing1m", "--preset", "eps2024", "--loss", "anl-ce"])
    assert (cfg["lr"], cfg["scheduler"], cfg["lr_gamma"], cfg["lr_step"], cfg["epochs"], cfg["batch_size"]) == \
        (5e-3, "step", 0.1, 5, 10, 256)
    assert (cfg["alpha"], cfg["beta"], cfg["delta"], cfg["weight_decay"]) == (5.0, 0.1, 0.0, 1e-3)
    assert cfg.sources["alpha"] == "eps2024 loss table: cswjl/eps-softmax@f81685c config.py CLOTHING_CONFIG"
    assert cfg["crop"] == "resize-random" and cfg.sources["crop"].endswith("datasets/transformers.py")
    wv = config.parse_args(["--dataset", "webvision-mini", "--preset", "ye2023", "--loss", "anl-ce"])
    assert (wv["lr"], wv["scheduler"], wv["lr_gamma"], wv["batch_size"], wv["grad_clip"], wv["nesterov"]) == \
        (0.4, "exp", 0.97, 512, 5.0, True)
    assert (wv["alpha"], wv["beta"], wv["delta"], wv["weight_decay"]) == (20.0, 1.0, 5e-6, 0.0)  # ANL: L1, no L2
    assert wv["jitter"] is True and wv["image_size"] == 224 and wv["arch"] == "resnet50-imagenet"
    jal = config.parse_args(["--dataset", "webvision-mini", "--preset", "eps2024", "--loss", "nce+amse"])
    assert (jal["alpha"], jal["beta"], jal["a"], jal["delta"], jal["weight_decay"]) == (50.0, 1.0, 30.0, 0.0, 3e-5)
    assert config.parse_args(["--dataset", "animal10n"])["image_size"] == 64
    # get_loss takes the same values, its preset the first paper protocol whose table lists the loss
    assert get_loss("anl-ce", dataset="clothing1m").values == {"alpha": 5.0, "beta": 0.1, "delta": 0.0}
    assert get_loss("nce+rce", dataset="webvision-mini").values == {"alpha": 50.0, "beta": 0.1}
    assert presets.REAL_SETS == realnoise.KINDS == tuple(realconfig.SIZE)


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "webvision-mini", "--noise", "sym", "--rate", "0.2"], "--dataset webvision-mini's labels are its "
     "own real-world noisy ones; --noise and --rate add synthetic noise to cifar10, cifar100, mnist or your own "
     "data: leave them out"),
    (["--dataset", "clothing1m", "--preset", "ma2020"], "--preset ma2020 has no protocol for clothing1m; choose "
     "--preset report or eps2024 (docs/protocols.md)"),
    (["--dataset", "cifar10", "--preset", "eps2024"], "--preset eps2024 is the protocol of webvision-mini and "
     "clothing1m only, not cifar10; for that data set choose --preset report or ma2020 or ye2023"),
    (["--imagenet-val", "/tmp"], "--imagenet-val applies to --dataset webvision-mini only, not cifar10; leave it out"),
    (["--dataset", "cifar10", "--jitter"], "--jitter applies to the real-world sets (webvision-mini, clothing1m, "
     "animal10n, food101n) only, not cifar10; leave it out"),
    (["--dataset", "food101n"], "--dataset food101n is tested on Food-101's test split: add --food101 DIR, the "
     "Food-101 folder holding meta/test.txt and images/ (docs/data-and-noise.md#real-world-noisy-data-sets)"),
    (["--dataset", "clothing1m", "--per-epoch", "13"], "--per-epoch must be at least clothing1m's 14 classes (a "
     "balanced sample takes per_epoch // classes of each), got 13"),
    (["--dataset", "clothing1m", "--val-fraction", "0.1"], "--dataset clothing1m selects on its clean validation list "
     "(clean_val_key_list.txt); leave --val-fraction out"),
    (["--dataset", "animal10n", "--loss", "fwd"], "--loss fwd corrects with the noise's transition matrix, which "
     "animal10n does not give; choose another loss (docs/losses.md)"),
    (["--dataset", "animal10n", "--image-size", "8"], "--image-size must be between 16 and 512 pixels, got 8"),
    (["--dataset", "clothing1m", "--stats", "released"], "--stats chooses CIFAR-10's statistics; clothing1m is "
     "normalised with its own (clothing1m's): leave --stats out"),
])
def test_refusals(argv, message):
    with pytest.raises(UserError) as e:
        config.parse_args(argv)
    assert str(e.value) == message


def test_a_missing_layout_is_one_line_with_where_to_get_it(tmp_path):
    r = in_process(train_main, ["--dataset", "clothing1m", "--data-dir", str(tmp_path), *FAST], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "on request" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["webvision-mini", "animal10n"])
def test_64px_runs_learn_above_chance(cifar, tmp_path, kind):
    """100 real CIFAR-10 images of each class in the layout, 3 epochs of the 4-layer CNN on 64-px crops: test accuracy
    of 10 classes well above chance (0.1). Measured on the AVX2 EPYC in fp32 (pinned): 0.343 (webvision-mini, its
    random-resized crops and jitter-free report preset) and 0.407 (animal10n) on 300 test images."""
    x, y, xt, yt = cifar
    k = per_class(y, 100)
    write = R.webvision if kind == "webvision-mini" else R.animal10n
    root = write(str(tmp_path / kind), x[k], y[k], xt[:300], yt[:300])
    train(tmp_path, "--dataset", kind, "--data-dir", root, "--epochs", "3", *FAST, "--image-size", "64",
          "--batch-size", "32")
    assert read(run_dir(tmp_path, kind) / "result.json")["test_acc_last"] > 0.2


def test_a_grid_on_a_missing_data_folder_stops_before_any_run(tmp_path):
    from noisylabels import grid
    env = {"PATH": os.environ["PATH"], "PYTHON": sys.executable, "GPUS": "0", "STUDY": "eps2024-clothing1m",
           "LOSSES": "ce gce", "RESULTS": str(tmp_path / "r"), "EXTRA": f"--data-dir {tmp_path / 'nowhere'}"}
    r = in_process(grid.main, [], tmp_path, env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "on request" in r.stderr, r.stderr
    assert not (tmp_path / "r" / "clothing1m").exists()  # no run was started
    listed = in_process(grid.main, ["--list"], tmp_path, env)  # planning needs no data
    assert listed.returncode == 0 and "noise: the data set's own labels" in listed.stdout
    assert "--noise" not in listed.stdout
