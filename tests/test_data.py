"""data.py: reading CIFAR-10 batches, the archive and its download (from a loopback server), the split, augmentation.

CIFAR-100 and MNIST: test_datasets.py.
"""
import dataclasses
import hashlib
import os
import pickle

import numpy as np
import pytest
import torch

from noisylabels import batches
from noisylabels import data
from noisylabels import fetch
from noisylabels.errors import UserError
from helpers import ARCHIVE, FOLDER, pickle_bytes, shared, write_cifar

C10 = data.DATASETS["cifar10"]


def served(url=None, md5=C10.sources[0].checksum):
    """CIFAR-10's spec with its archive at another address and checksum (a generated archive on a loopback server)."""
    return dataclasses.replace(C10, sources=(data.Source(ARCHIVE, (url or "http://127.0.0.1:9/none",), md5),))


def test_reads_generated_folder_of_any_batch_size(tmp_path):
    write_cifar(str(tmp_path), per_batch=13, n_test=7)
    x, y, xt, yt, classes, _, _ = data.load("cifar10", str(tmp_path))
    assert classes[:2] == ["airplane", "automobile"]
    assert x.shape == (65, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    assert xt.shape == (7, 3, 32, 32) and yt.shape == (7,)
    # The first 1024 values of a row are the red plane, the next 1024 green.
    with open(tmp_path / FOLDER / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="latin1")
    np.testing.assert_array_equal(x[0, 1].ravel(), raw["data"][0, 1024:2048])
    assert y[:13].tolist() == raw["labels"]


def test_reads_the_real_subset():
    root = shared("cifar10-subset")
    x, y, xt, yt = data.load("cifar10", root)[:4]
    assert len(x) == 5170 and len(xt) == 1017
    assert np.bincount(y, minlength=10).min() > 400  # every class present in real proportions


def test_extracts_a_generated_archive(tmp_path, archive_bytes):
    (tmp_path / ARCHIVE).write_bytes(archive_bytes)
    spec = served(md5=hashlib.md5(archive_bytes).hexdigest())
    folder = data.locate(spec, str(tmp_path))
    assert folder == str(tmp_path / FOLDER)
    assert len(data.load(spec, str(tmp_path)).x_train) == 100
    assert [p for p in os.listdir(tmp_path) if p.startswith(".extract")] == []  # no temporary left


def test_archive_with_wrong_checksum_is_rejected(tmp_path, archive_bytes):
    (tmp_path / ARCHIVE).write_bytes(archive_bytes)
    with pytest.raises(data.DataError, match="md5"):
        data.locate(C10, str(tmp_path))  # the official md5 cannot match a generated archive
    assert not (tmp_path / FOLDER).exists()


def test_corrupted_archive_leaves_no_folder(tmp_path, archive_bytes):
    bad = archive_bytes[: len(archive_bytes) // 2]  # truncated gzip, with a matching md5
    (tmp_path / ARCHIVE).write_bytes(bad)
    with pytest.raises(data.DataError, match="cannot extract"):
        data.locate(served(md5=hashlib.md5(bad).hexdigest()), str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == [ARCHIVE]


def test_download_verifies_and_extracts(tmp_path, server, archive_bytes):
    url, state = server
    root = tmp_path / "d"
    data.load(served(url, hashlib.md5(archive_bytes).hexdigest()), str(root))
    assert (root / ARCHIVE).read_bytes() == archive_bytes
    assert sorted(os.listdir(root)) == sorted([ARCHIVE, FOLDER])  # no .part left behind
    data.load(served(url, "unused once extracted"), str(root))
    assert state["hits"] == 1  # the second call found the folder and downloaded nothing


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, server):
    url, _ = server
    with pytest.raises(data.DataError, match="md5"):
        data.locate(served(url, "0" * 32), str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_interrupted_download_is_retried_then_fails_cleanly(tmp_path, server, archive_bytes):
    url, state = server
    state["cut"] = len(archive_bytes) // 3
    dest = str(tmp_path / ARCHIVE)
    with pytest.raises(data.DataError, match="failed after 3 tries"):
        fetch.download(url, dest, hashlib.md5(archive_bytes).hexdigest(), backoff=0.01)
    assert state["hits"] == 3 and os.listdir(tmp_path) == []


def test_a_failed_mnist_download_names_every_file_it_needs_and_the_network_once(tmp_path, server):
    url, state = server
    state["routes"] = {}  # every file a 404 on both "mirrors": no retry
    base = url.rsplit("/", 1)[0]
    mnist = data.DATASETS["mnist"]
    spec = dataclasses.replace(mnist, sources=tuple(data.Source(s.file, (f"{base}/a/{s.file}", f"{base}/b/{s.file}"),
                                                                s.checksum) for s in mnist.sources))
    (tmp_path / mnist.sources[2].file).write_bytes(b"")  # one of the four is there already (not checked here)
    with pytest.raises(data.DataError) as e:
        data.read_mnist(spec, str(tmp_path))
    why = str(e.value)
    wanted = ", ".join(s.file for i, s in enumerate(mnist.sources) if i != 2)
    assert why.endswith(f"; run again, or put {wanted} into {tmp_path} by hand"), why
    assert why.count("answered 404") == 2 and "check the network" not in why  # the server answered: no network fault
    with pytest.raises(data.DataError) as e:  # no server at all: the network, said once
        fetch.download(["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"], str(tmp_path / "x"), "0", tries=1)
    assert str(e.value).count("check the network") == 1 and "check the network and run again" in str(e.value)


@pytest.mark.parametrize("content, match", [
    (None, "cannot read"),  # truncated: filled in below
    (pickle_bytes([1, 2, 3]), "cannot read"),
    (pickle_bytes({"data": np.zeros((4, 100), np.uint8), "labels": [0, 1, 2, 3]}), "not a CIFAR-10 batch"),
    (pickle_bytes({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 12]}), "outside 0..9"),
    (pickle_bytes({"data": os.system}), "cannot read"),  # a global other than numpy's is refused
])
def test_bad_batch_files_are_clear_errors(tmp_path, content, match):
    folder = write_cifar(str(tmp_path), per_batch=10, n_test=10)
    path = os.path.join(folder, "data_batch_3")
    if content is None:
        content = open(path, "rb").read()[:5000]
    with open(path, "wb") as f:
        f.write(content)
    with pytest.raises(data.DataError, match=match):
        data.load("cifar10", str(tmp_path))


def test_stratified_split_exact_per_class_and_seeded():
    y = np.repeat(np.arange(10), np.arange(20, 120, 10))  # classes of 20, 30, ..., 110 samples
    tr, va = batches.stratified_split(y, 0.15, seed=3)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y)
    for c in range(10):
        assert (y[va] == c).sum() == round(0.15 * (y == c).sum())
    np.testing.assert_array_equal(va, batches.stratified_split(y, 0.15, seed=3)[1])
    assert not np.array_equal(va, batches.stratified_split(y, 0.15, seed=4)[1])


def test_a_small_class_keeps_an_image_in_each_part_and_a_class_of_one_trains():
    # classes of 1, 2, 3 and 20 images: round(0.15 n) is 0, 0, 0 and 3; at least 1 and at most n - 1 go to validation
    y = np.repeat(np.arange(4), [1, 2, 3, 20])
    tr, va = batches.stratified_split(y, 0.15, seed=0)
    assert np.bincount(y[va], minlength=4).tolist() == [0, 1, 1, 3]
    assert np.bincount(y[tr], minlength=4).tolist() == [1, 1, 2, 17]
    # at 0.9 a class of 2 still keeps one image to train on
    assert np.bincount(y[batches.stratified_split(y, 0.9, seed=0)[0]], minlength=4).tolist() == [1, 1, 1, 2]
    assert batches.check_split(y, va, 0.15, ["a", "b", "c", "d"]) == \
        "class a has one image (by the noisy labels): it trains, and the validation split has none of it"
    assert batches.check_split(y, va, 0.0, ["a", "b", "c", "d"]) is None
    ones = np.arange(3)  # three classes of one image: nothing can give a validation split
    with pytest.raises(UserError, match=r"--val-fraction 0.15 asks for a validation split, and no class has two"):
        batches.check_split(ones, batches.stratified_split(ones, 0.15, seed=0)[1], 0.15, ["a", "b", "c"])


def test_index_batches_cover_every_sample_once():
    idx = torch.cat(list(batches.index_batches(10, 4, "cpu", torch.Generator().manual_seed(0))))
    assert sorted(idx.tolist()) == list(range(10))
    full = list(batches.index_batches(10, 4, "cpu", torch.Generator().manual_seed(0), drop_last=True))
    assert [len(b) for b in full] == [4, 4]


def test_augment_is_a_crop_of_the_padded_image_maybe_flipped():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    out = batches.augment(x, g)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    seen = set()
    for i in range(len(x)):
        found = [(dy, dx, f) for dy in range(9) for dx in range(9) for f in (0, 1)
                 if torch.equal(out[i], (lambda c: c.flip(2) if f else c)(padded[i, :, dy:dy + 32, dx:dx + 32]))]
        assert len(found) == 1
        seen.add(found[0])
    assert len(seen) > 30 and {f for _, _, f in seen} == {0, 1}  # drawn per image, both flips occur


@pytest.mark.parametrize("name", list(data.DATASETS))
def test_normalize_uses_each_data_sets_statistics(name):
    spec = data.DATASETS[name]
    x = torch.full((1, spec.shape[0], 2, 2), 255, dtype=torch.uint8)
    z = batches.normalize(x, spec)
    expected = [(1 - m) / s for m, s in zip(spec.mean, spec.std)]
    torch.testing.assert_close(z[0, :, 0, 0], torch.tensor(expected))


def test_augment_without_flip_is_the_same_crop_unflipped():
    # MNIST's rule: digits are not flipped, but the crops are those the flipping augmentation draws.
    x = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8)
    a = batches.augment(x, torch.Generator().manual_seed(3), flip=False)
    b = batches.augment(x, torch.Generator().manual_seed(3))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(len(x)):
        crops = [(dy, dx) for dy in range(9) for dx in range(9) if torch.equal(a[i], padded[i, :, dy:dy + 28, dx:dx + 28])]
        assert len(crops) == 1
        assert torch.equal(b[i], a[i]) or torch.equal(b[i], a[i].flip(2))
