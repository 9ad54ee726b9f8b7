"""Own data (owndata.py): a folder of real CIFAR-10 images written as PNGs, the same images as an .npz, the cache,
--clean-labels, and what plot.py draws where no clean labels are known. The bad inputs are test_reliability.py's."""
import csv
import json
import os
import shutil

import numpy as np
import torch
import pytest
from PIL import Image

from noisylabels import batches
from noisylabels import config
from noisylabels import data
from noisylabels import evaluate
from noisylabels import figures
from noisylabels import owndata
from noisylabels import rundata
from noisylabels import train
from helpers import compute, shared

N_TRAIN, N_TEST = 200, 60


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The first 200 training and 60 test images of ../shared's CIFAR-10 as PNGs in train/<class>/, test/<class>/
    (the names sort in the original order), and the arrays they must read back as."""
    d = data.load("cifar10", shared("cifar10-subset"), fetch=False)
    root = tmp_path_factory.mktemp("own") / "pets"
    for part, x, y, n in (("train", d.x_train, d.y_train, N_TRAIN), ("test", d.x_test, d.y_test, N_TEST)):
        for i in range(n):
            os.makedirs(root / part / d.classes[y[i]], exist_ok=True)
            Image.fromarray(x[i].transpose(1, 2, 0)).save(root / part / d.classes[y[i]] / f"{i:04d}.png")
    # The folder's order: classes sorted by name (CIFAR-10's are alphabetical already), files by name.
    tr, te = np.lexsort((np.arange(N_TRAIN), d.y_train[:N_TRAIN])), np.lexsort((np.arange(N_TEST), d.y_test[:N_TEST]))
    return str(root), (d.x_train[tr], d.y_train[tr], d.x_test[te], d.y_test[te])


def folder_copy(real, tmp_path):
    root = str(tmp_path / "pets")
    shutil.copytree(real[0], root)
    return root


def test_a_folder_reads_back_as_its_images_with_their_statistics(real, tmp_path):
    root = folder_copy(real, tmp_path)
    d, spec, keep = owndata.load("folder", root)
    for got, want in zip(d[:4], real[1]):
        np.testing.assert_array_equal(got, want)
    assert d.classes == list(data.CLASSES) and spec.num_classes == 10 and spec.shape == (3, 32, 32)
    x = real[1][0] / 255.0
    np.testing.assert_allclose(spec.mean, x.mean((0, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(spec.std, x.std((0, 2, 3)), atol=1e-6)
    assert spec.digest == owndata.digest(*real[1])
    assert keep is not None and not os.path.exists(os.path.join(root, ".cache-32px.npz"))  # written by keep() only
    keep()
    assert os.path.isfile(os.path.join(root, ".cache-32px.npz"))


def test_the_cache_is_reused_then_rebuilt_when_a_file_is_added(real, tmp_path, monkeypatch):
    root = folder_copy(real, tmp_path)
    owndata.load("folder", root)[2]()
    decoded = []
    real_decode = owndata.decode
    monkeypatch.setattr(owndata, "decode", lambda *a: decoded.append(1) or real_decode(*a))
    d, _, keep = owndata.load("folder", root)
    assert not decoded and keep is None and len(d.y_train) == N_TRAIN  # from the cache
    Image.fromarray(np.full((40, 20, 3), 200, np.uint8)).save(os.path.join(root, "train", "cat", "zz.png"))
    d, _, keep = owndata.load("folder", root)
    assert decoded == [1] and len(d.y_train) == N_TRAIN + 1
    # the new image is the last cat, its 20-pixel side resized to 32 and the centre cut: all 200 still
    cat = np.flatnonzero(d.y_train == d.classes.index("cat"))[-1]
    assert (d.x_train[cat] == 200).all()


def test_images_of_other_sizes_and_mixed_channels_are_converted_and_said_once(tmp_path, capsys):
    for part, c, i, im in [("train", "a", 0, Image.new("L", (64, 48), 7)), ("train", "a", 1, Image.new("RGB", (32, 32))),
                           ("train", "b", 0, Image.new("RGBA", (10, 90))), ("test", "b", 0, Image.new("L", (32, 32)))]:
        os.makedirs(tmp_path / "m" / part / c, exist_ok=True)
        im.save(tmp_path / "m" / part / c / f"{i}.png")
    d, spec, _ = owndata.load("folder", str(tmp_path / "m"), size=16)
    assert d.x_train.shape == (3, 3, 16, 16) and d.x_test.shape == (1, 3, 16, 16)
    assert (d.x_train[0] == 7).all()  # grey 7 is RGB (7, 7, 7)
    err = capsys.readouterr().err
    assert err.count("greyscale and colour images; all are converted to RGB") == 1
    for part, c in [("train", "a"), ("train", "b"), ("test", "b")]:  # all grey: one channel
        for f in os.listdir(tmp_path / "m" / part / c):
            Image.new("L", (16, 16), 3).save(tmp_path / "m" / part / c / f)
    assert owndata.load("folder", str(tmp_path / "m"), size=16)[1].shape == (1, 16, 16)


def run_args(path, out, dataset="folder", *extra):
    return ["--dataset", dataset, "--data-dir", path, "--out", str(out), "--arch", "cnn4", "--epochs", "2",
            "--batch-size", "32", "--noise", "sym", "--rate", "0.2", *compute(precision="fp32"), *extra]


def log_rows(run):
    with open(os.path.join(run, "log.csv"), newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


@pytest.mark.slow
def test_a_folder_run_evaluates_to_its_result_and_its_npz_gives_the_same_run(real, tmp_path, capsys):
    root = folder_copy(real, tmp_path)
    clean = tmp_path / "clean.npy"
    np.save(clean, real[1][1])  # the folder's labels are CIFAR-10's own: clean
    run = train.run(config.parse_args(run_args(root, tmp_path / "r", "folder", "--clean-labels", str(clean))))
    assert run == str(tmp_path / "r" / "folder-pets" / "sym-0.2" / "ce" / "seed42")
    cfg = json.load(open(os.path.join(run, "config.json")))
    assert cfg["facts"]["data_sha256"] == owndata.digest(*real[1]) and cfg["image_size"] == 32
    rows = log_rows(run)
    assert all(r["train_flipped_as_noisy"] and r["train_flip_auroc"] for r in rows)  # known: clean labels given
    noise_ = json.load(open(os.path.join(run, "noise.json")))
    flips = sum(round(0.2 * n) for n in np.bincount(real[1][1]))  # exactly round(rate n_c) of each class
    assert noise_["n_flipped"] == flips and noise_["clean_labels"] == str(clean)
    evaluate.main([run])
    assert "on 60 test images" in capsys.readouterr().out
    assert json.load(open(os.path.join(run, "eval.json")))["test_acc"] == \
        json.load(open(os.path.join(run, "result.json")))["test_acc_best"]
    x, y, xt, yt = real[1]
    npz = tmp_path / "pets.npz"
    np.savez(npz, x_train=x.transpose(0, 2, 3, 1), y_train=y, x_test=xt, y_test=yt, class_names=data.CLASSES)
    other = train.run(config.parse_args(run_args(str(npz), tmp_path / "r", "npz", "--clean-labels", str(clean))))
    assert other.endswith(os.path.join("npz-pets", "sym-0.2", "ce", "seed42")) and log_rows(other) == rows


@pytest.mark.slow
def test_without_clean_labels_memorisation_is_empty_and_the_figures_say_so(real, tmp_path, capsys):
    root = folder_copy(real, tmp_path)
    run = train.run(config.parse_args(run_args(root, tmp_path / "r")))
    rows = log_rows(run)
    assert all(r[k] == "" for r in rows for k in train.MEMORISATION) and all(r["train_acc_noisy"] for r in rows)
    assert "true" not in capsys.readouterr().out.split("epoch   1/2")[1].split("\n")[0]
    assert json.load(open(os.path.join(run, "noise.json")))["clean_labels"].startswith("unknown")
    z = np.load(os.path.join(run, "sample_loss.npz"))
    assert not z["clean_known"] and not z["flipped"].any()
    assert np.isfinite(z["last"]).sum() == len(z["last"]) // 32 * 32  # the losses are there (full batches only)
    from noisylabels import plot
    plot.main([str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert "memorisation_sym-0.2: no clean labels are known for folder-pets" in out
    assert os.path.isfile(tmp_path / "r" / "figures" / "folder-pets" / "memorisation_sym-0.2.png")
    said = []
    figures.unknown_clean({"title": "pets", "name": "folder-pets"}, "sym-0.2", "memorisation", lambda fig, name:
                          said.append((name, [t.get_text() for t in fig.texts])), "memorisation")
    assert said[0][0] == "memorisation_sym-0.2" and "No clean labels are known" in said[0][1][0]


def test_skip_bad_images_leaves_them_out_and_counts_them(real, tmp_path, capsys):
    root = folder_copy(real, tmp_path)
    with open(os.path.join(root, "train", "cat", "broken.png"), "wb") as f:
        f.write(b"\x89PNG not really")
    d, _, keep = owndata.load("folder", root, skip_bad=True)
    keep()
    assert len(d.y_train) == N_TRAIN and "left out 1 file(s) Pillow cannot open (--skip-bad-images), the first " \
        f"{os.path.join(root, 'train', 'cat', 'broken.png')}" in capsys.readouterr().err
    with pytest.raises(data.DataError, match="Pillow cannot open .*broken.png as an image"):
        owndata.load("folder", root)  # the cache of a skipping run does not hide the file from one that does not


@pytest.mark.slow
def test_a_run_is_not_resumed_on_other_images(real, tmp_path, capsys):
    root = folder_copy(real, tmp_path)
    argv = run_args(root, tmp_path / "r", "folder", "--epochs", "1")
    train.run(config.parse_args(argv))
    train.run(config.parse_args(argv + ["--resume"]))  # the same images: finished, nothing to do
    assert "is already finished" in capsys.readouterr().out
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(os.path.join(root, "train", "dog", "new.png"))
    with pytest.raises(SystemExit) as e:
        train.main(argv + ["--resume", "--force", "--epochs", "2"])
    assert "--force cannot change data_sha256 of a run in progress" in e.value.message


def test_own_data_on_the_presets_resnet_warns_and_an_arch_given_does_not(real, tmp_path, capsys):
    root = folder_copy(real, tmp_path)
    for extra in ([], ["--arch", "cnn4"]):
        cfg = config.parse_args(["--dataset", "folder", "--data-dir", root, "--out", str(tmp_path / "r"), *extra])
        rundata.prepare(cfg, torch.device("cpu"))  # the data, the noise and the split: no network is built
    err = capsys.readouterr().err
    n = len(batches.stratified_split(real[1][1], 0.15, [42, 1], 10)[0])  # the training split of these labels
    assert err.count("warning: ") == 1 and f"warning: --dataset folder trains the preset's resnet18 on " \
        f"{n} training images; on a small data set it can collapse to chance: start " \
        f"with --arch cnn4 or cnn8, into another --out (docs/data-and-noise.md#your-own-data)\n" in err
