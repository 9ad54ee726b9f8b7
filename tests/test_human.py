"""CIFAR-10N human labels: reading the file safely, its download, alignment, and a run with --noise human."""
import dataclasses
import hashlib
import json
import os
import pickle

import numpy as np
import pytest
import torch

from noisylabels import config
from noisylabels import data
from noisylabels import noise
from noisylabels import train
from helpers import SHARED, compute, human_table, write_cifar

C10 = data.DATASETS["cifar10"]
HUMAN_FILE = C10.human.file
SUBSET = os.path.join(SHARED, "cifar10-subset")


def labels_of(folder):
    return np.concatenate([data.read_batch(os.path.join(folder, b))[1] for b in data.TRAIN_BATCHES])


def torch_save_bytes(obj, tmp_path):
    path = tmp_path / "saved.pt"
    torch.save(obj, path)  # the official file was written this way: a zip holding one pickle
    return path.read_bytes()


def test_reads_torch_save_and_old_numpy_pickles(tmp_path):
    table = human_table(np.arange(50) % 10)
    path = tmp_path / HUMAN_FILE
    path.write_bytes(torch_save_bytes(table, tmp_path))
    got = data.read_human(str(path), C10.human_keys)
    assert sorted(got) == sorted(table)
    for k in table:
        np.testing.assert_array_equal(got[k], table[k])
    # The official file names numpy.core.multiarray (numpy < 2); numpy >= 2 writes numpy._core.
    raw = pickle.dumps(table, protocol=2)
    assert b"numpy._core.multiarray" in raw or b"numpy.core.multiarray" in raw
    path.write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    np.testing.assert_array_equal(data.read_human(str(path), C10.human_keys)["worse_label"], table["worse_label"])


class Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("content, match", [
    (lambda t, tmp: pickle.dumps({**t, "x": Boom()}, protocol=2), "refusing to load"),  # code is never run
    (lambda t, tmp: torch_save_bytes({**t, "x": torch.zeros(3)}, tmp), "cannot read"),  # tensors are refused too
    (lambda t, tmp: pickle.dumps({k: v for k, v in t.items() if k != "worse_label"}), "worse_label"),
    (lambda t, tmp: pickle.dumps({**t, "aggre_label": t["aggre_label"][:-1]}), "as long as clean_label"),
    (lambda t, tmp: pickle.dumps({**t, "aggre_label": t["aggre_label"] * 0.5}), "integer"),
    (lambda t, tmp: b"not a pickle at all", "cannot read"),
])
def test_bad_files_are_clear_errors(tmp_path, monkeypatch, content, match):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / HUMAN_FILE
    path.write_bytes(content(human_table(np.arange(30) % 10), tmp_path))
    with pytest.raises(data.DataError, match=match):
        data.read_human(str(path), C10.human_keys)
    assert not (tmp_path / "pwned").exists()


def served(url, sha256):
    """CIFAR-10's spec with its CIFAR-10N file at another address and checksum."""
    return dataclasses.replace(C10, human=data.Source(HUMAN_FILE, (url,), sha256, "sha256"))


def test_download_is_checked_by_sha256(tmp_path, server):
    url, state = server
    state["body"] = pickle.dumps(human_table(np.arange(40) % 10), protocol=2)
    sha = hashlib.sha256(state["body"]).hexdigest()
    got = data.load_human(served(url, sha), str(tmp_path / "d"))
    assert got["clean_label"].tolist() == (np.arange(40) % 10).tolist()
    assert os.listdir(tmp_path / "d") == [HUMAN_FILE]
    data.load_human(served(url, "unused: the file is found"), str(tmp_path / "d"))
    assert state["hits"] == 1
    with pytest.raises(data.DataError, match="sha256"):
        data.load_human(served(url, "0" * 64), str(tmp_path / "e"))
    assert not (tmp_path / "e").exists()  # the wrong file was removed, and the folder made for it
    with pytest.raises(data.DataError, match="no CIFAR-10_human.pt"):
        data.load_human(C10, str(tmp_path / "f"), fetch=False)


def test_noisy_labels_and_alignment():
    clean = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 2)
    table = human_table(clean)
    table["worse_label"] = clean.copy()
    table["worse_label"][[0, 5]] = [1, 3]  # airplane->automobile, dog->cat
    y, T = noise.human_noisy_labels(table, "worse", clean)
    assert (y != clean).sum() == 2 and T[0, 1] == 0.5 and T[5, 3] == 0.5 and T[1, 1] == 1.0
    with pytest.raises(ValueError, match="unknown CIFAR-10N label set 'best'"):
        noise.human_noisy_labels(table, "best", clean)
    with pytest.raises(ValueError, match="19 labels but the training set 20"):
        noise.human_noisy_labels({**table, "clean_label": clean[:-1]}, "worse", clean)
    shifted = np.roll(clean, 1)
    with pytest.raises(ValueError, match="differs from the training labels at 20 images"):
        noise.human_noisy_labels(table, "worse", shifted)
    with pytest.raises(ValueError, match="human noise needs the CIFAR-N table: human="):
        noise.make_noisy_labels(clean, "human", 0.0, 0)


def test_config_refuses_rate_and_stray_label():
    cfg = config.parse_args(["--noise", "human"])
    assert (cfg["human_label"], cfg["rate"]) == ("worse", None)
    assert config.run_dir(cfg) == os.path.join("results", "cifar10", "human-worse", "ce", "seed42")
    assert config.parse_args(["--noise", "human", "--human-label", "aggre"])["human_label"] == "aggre"
    assert config.parse_args(["--noise", "sym", "--rate", "0.2"])["human_label"] is None
    with pytest.raises(ValueError, match="--rate does not apply to --noise human"):
        config.parse_args(["--noise", "human", "--rate", "0.2"])
    with pytest.raises(ValueError, match="--human-label only applies to --noise human"):
        config.parse_args(["--noise", "sym", "--rate", "0.2", "--human-label", "worse"])


@pytest.mark.slow
def test_run_with_human_noise(tmp_path):
    folder = write_cifar(str(tmp_path), per_batch=40, n_test=50)
    table = human_table(labels_of(folder), seed=3)
    with open(tmp_path / HUMAN_FILE, "wb") as f:
        pickle.dump(table, f, protocol=2)
    out = train.run(config.parse_args(["--data-dir", str(tmp_path), "--out", str(tmp_path / "r"), "--arch", "cnn4",
                                       "--epochs", "1", "--batch-size", "32", "--noise", "human", "--human-label",
                                       "aggre", *compute(device="cpu")]))
    assert out == str(tmp_path / "r" / "cifar10" / "human-aggre" / "ce" / "seed42")
    rec = json.load(open(os.path.join(out, "noise.json")))
    want = (table["aggre_label"] != table["clean_label"]).mean()
    assert rec["setting"] == "human-aggre" and rec["realised_rate"] == pytest.approx(want)
    assert json.load(open(os.path.join(out, "result.json")))["realised_noise_rate"] == pytest.approx(want)
    cfg = json.load(open(os.path.join(out, "config.json")))
    assert (cfg["noise"], cfg["human_label"], cfg["rate"]) == ("human", "aggre", None)


def test_misaligned_file_stops_the_cli_in_one_line(tmp_path, capsys):
    folder = write_cifar(str(tmp_path), per_batch=10, n_test=10)
    with open(tmp_path / HUMAN_FILE, "wb") as f:
        pickle.dump(human_table(labels_of(folder)[::-1].copy()), f, protocol=2)
    with pytest.raises(SystemExit) as e:  # train.py's main: what its process prints and exits with
        train.main(["--data-dir", str(tmp_path), "--out", str(tmp_path / "r"), "--noise", "human", "--device", "cpu"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err
    assert err.strip().count("\n") == 0 and "not aligned with this copy of CIFAR-10" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(not os.path.isdir(SUBSET), reason="../shared/cifar10-subset is not beside this checkout")
def test_real_subset_is_aligned_with_the_published_rates():
    table = data.load_human("cifar10", SUBSET, fetch=False)
    y = data.load("cifar10", SUBSET, fetch=False).y_train
    rates = {w: (noise.human_noisy_labels(table, w, y)[0] != y).mean() for w in noise.HUMAN_LABELS["cifar10"]}
    assert len(y) == 5170
    assert {w: round(r, 3) for w, r in rates.items()} == {"aggre": 0.089, "random1": 0.174, "random2": 0.181,
                                                           "random3": 0.176, "worse": 0.403}
