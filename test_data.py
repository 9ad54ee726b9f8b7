"""data.py: reading batches, the archive and its download (from a loopback server), the split, augmentation."""
import hashlib
import os
import pickle

import numpy as np
import pytest
import torch

import data
from conftest import pickle_bytes, write_cifar


def test_reads_generated_folder_of_any_batch_size(tmp_path):
    write_cifar(str(tmp_path), per_batch=13, n_test=7)
    x, y, xt, yt = data.load_cifar10(str(tmp_path))
    assert x.shape == (65, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    assert xt.shape == (7, 3, 32, 32) and yt.shape == (7,)
    # The first 1024 values of a row are the red plane, the next 1024 green.
    with open(tmp_path / data.FOLDER / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="latin1")
    np.testing.assert_array_equal(x[0, 1].ravel(), raw["data"][0, 1024:2048])
    assert y[:13].tolist() == raw["labels"]


def test_reads_the_real_subset():
    root = os.path.join(os.path.dirname(__file__), "..", "shared", "cifar10-subset")
    if not os.path.isdir(root):
        pytest.skip("../shared/cifar10-subset is not beside this checkout")
    x, y, xt, yt = data.load_cifar10(root)
    assert len(x) == 5170 and len(xt) == 1017
    assert np.bincount(y, minlength=10).min() > 400  # every class present in real proportions


def test_extracts_a_generated_archive(tmp_path, archive_bytes):
    (tmp_path / data.ARCHIVE).write_bytes(archive_bytes)
    folder = data.locate(str(tmp_path), md5=hashlib.md5(archive_bytes).hexdigest())
    assert folder == str(tmp_path / data.FOLDER)
    x, y, _, _ = data.load_cifar10(str(tmp_path), md5=hashlib.md5(archive_bytes).hexdigest())
    assert len(x) == 100
    assert [p for p in os.listdir(tmp_path) if p.startswith(".extract")] == []  # no temporary left


def test_archive_with_wrong_checksum_is_rejected(tmp_path, archive_bytes):
    (tmp_path / data.ARCHIVE).write_bytes(archive_bytes)
    with pytest.raises(data.DataError, match="md5"):
        data.locate(str(tmp_path))  # the official md5 cannot match a generated archive
    assert not (tmp_path / data.FOLDER).exists()


def test_corrupted_archive_leaves_no_folder(tmp_path, archive_bytes):
    bad = archive_bytes[: len(archive_bytes) // 2]  # truncated gzip, with a matching md5
    (tmp_path / data.ARCHIVE).write_bytes(bad)
    with pytest.raises(data.DataError, match="cannot extract"):
        data.locate(str(tmp_path), md5=hashlib.md5(bad).hexdigest())
    assert sorted(os.listdir(tmp_path)) == [data.ARCHIVE]


def test_download_verifies_and_extracts(tmp_path, server, archive_bytes):
    url, state = server
    root = tmp_path / "d"
    data.load_cifar10(str(root), url=url, md5=hashlib.md5(archive_bytes).hexdigest())
    assert (root / data.ARCHIVE).read_bytes() == archive_bytes
    assert sorted(os.listdir(root)) == sorted([data.ARCHIVE, data.FOLDER])  # no .part left behind
    data.load_cifar10(str(root), url=url, md5="unused once extracted")
    assert state["hits"] == 1  # the second call found the folder and downloaded nothing


def test_download_with_wrong_checksum_leaves_nothing(tmp_path, server):
    url, _ = server
    with pytest.raises(data.DataError, match="md5"):
        data.locate(str(tmp_path), url=url, md5="0" * 32)
    assert os.listdir(tmp_path) == []


def test_interrupted_download_is_retried_then_fails_cleanly(tmp_path, server, archive_bytes):
    url, state = server
    state["cut"] = len(archive_bytes) // 3
    dest = str(tmp_path / data.ARCHIVE)
    with pytest.raises(data.DataError, match="failed after 3 tries"):
        data.download(url, dest, hashlib.md5(archive_bytes).hexdigest(), backoff=0.01)
    assert state["hits"] == 3 and os.listdir(tmp_path) == []


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
        data.load_cifar10(str(tmp_path))


def test_stratified_split_exact_per_class_and_seeded():
    y = np.repeat(np.arange(10), np.arange(20, 120, 10))  # classes of 20, 30, ..., 110 samples
    tr, va = data.stratified_split(y, 0.15, seed=3)
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(y)
    for c in range(10):
        assert (y[va] == c).sum() == round(0.15 * (y == c).sum())
    np.testing.assert_array_equal(va, data.stratified_split(y, 0.15, seed=3)[1])
    assert not np.array_equal(va, data.stratified_split(y, 0.15, seed=4)[1])


def test_index_batches_cover_every_sample_once():
    idx = torch.cat(list(data.index_batches(10, 4, "cpu", torch.Generator().manual_seed(0))))
    assert sorted(idx.tolist()) == list(range(10))
    full = list(data.index_batches(10, 4, "cpu", torch.Generator().manual_seed(0), drop_last=True))
    assert [len(b) for b in full] == [4, 4]


def test_augment_is_a_crop_of_the_padded_image_maybe_flipped():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    out = data.augment(x, g)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    seen = set()
    for i in range(len(x)):
        found = [(dy, dx, f) for dy in range(9) for dx in range(9) for f in (0, 1)
                 if torch.equal(out[i], (lambda c: c.flip(2) if f else c)(padded[i, :, dy:dy + 32, dx:dx + 32]))]
        assert len(found) == 1
        seen.add(found[0])
    assert len(seen) > 30 and {f for _, _, f in seen} == {0, 1}  # drawn per image, both flips occur


def test_normalize_uses_cifar_statistics():
    x = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    z = data.normalize(x)
    expected = [(1 - m) / s for m, s in zip(data.MEAN, data.STD)]
    torch.testing.assert_close(z[0, :, 0, 0], torch.tensor(expected))
