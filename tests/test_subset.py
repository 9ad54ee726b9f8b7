"""`python data.py --subset N --out DIR` (subset.py): which images, the official layout read back, the same bytes
twice, the human labels cut alongside, and a run on the result; from ../shared's real files copied as if downloaded.
data.py's and train.py's main run in this process (data.py's refusal through its process: test_reliability.py)."""
import os
import shutil

import numpy as np
import pytest

from noisylabels import data
from noisylabels import datasets
from noisylabels import subset
from noisylabels.errors import UserError
from noisylabels import train
from helpers import in_process, shared


def test_first_per_class_by_hand():
    y = np.array([2, 2, 0, 1, 0, 0, 1, 2])  # 3, 2 and 3 images of classes 0, 1, 2
    # 4 of 3 classes: 2 of class 0 (the first n % C classes take one more), 1 each of classes 1 and 2
    assert subset.first_per_class(y, 4, 3).tolist() == [0, 2, 3, 4]
    # 7: class 1 has only 2 of its 7 // 3 + ..., so it gives both, and class 0 takes the one it leaves
    assert subset.first_per_class(y, 7, 3).tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert subset.first_per_class(y, 8, 3).tolist() == list(range(8))
    assert subset.first_per_class(np.array([0, 0, 0, 0, 1]), 3, 2).tolist() == [0, 1, 4]
    with pytest.raises(UserError, match="--subset 9 must be between 1 and the 8 images"):
        subset.first_per_class(y, 9, 3)


def cut(*argv, cwd):
    """`python data.py ARGV` in cwd, through data.py's main in this process."""
    return in_process(datasets.main, argv, cwd)


def sums(folder):
    with open(os.path.join(folder, "SHA256SUMS")) as f:
        return [line.split("  ") for line in f.read().splitlines()]


def downloaded(name, tmp_path):
    """A copy of a ../shared subset in a data folder, as if it had been downloaded there."""
    where = tmp_path / "data"
    shutil.copytree(shared(name), where)
    for root, dirs, files in os.walk(where):  # ../shared is read-only
        for f in dirs + files:
            os.chmod(os.path.join(root, f), 0o755)
    return str(where)


@pytest.mark.slow
def test_an_mnist_subset_is_the_first_of_each_class_the_same_bytes_twice_and_trains(tmp_path):
    src = downloaded("mnist-subset", tmp_path)
    for out in ("a", "b"):
        p = cut("--dataset", "mnist", "--data-dir", src, "--subset", "600", "--test-subset", "200", "--out", out,
                cwd=tmp_path)
        assert p.returncode == 0 and "600 training and 200 test images" in p.stdout, p.stderr
    a, b = sums(tmp_path / "a"), sums(tmp_path / "b")
    assert a == b and [f for _, f in a] == sorted(s.file for s in data.DATASETS["mnist"].sources)
    for digest, f in a:
        assert data.checksum(tmp_path / "a" / f, "sha256") == digest
    full, part = data.load("mnist", src, fetch=False), data.load("mnist", str(tmp_path / "a"), fetch=False)
    assert np.bincount(part.y_train).tolist() == [60] * 10 and np.bincount(part.y_test).tolist() == [20] * 10
    for c in range(10):  # each class's first 60 training images, in their order
        np.testing.assert_array_equal(part.x_train[part.y_train == c], full.x_train[full.y_train == c][:60])
    r = in_process(train.main, ["--dataset", "mnist", "--data-dir", "a", "--epochs", "1", "--precision", "fp32",
                                "--device", "cpu"], tmp_path)
    assert r.returncode == 0 and "510 train / 90 val / 200 test" in r.stdout, r.stderr


def test_a_cifar10_subset_keeps_the_batch_files_and_the_human_labels_of_its_images(tmp_path):
    src = downloaded("cifar10-subset", tmp_path)
    p = cut("--data-dir", src, "--subset", "103", "--human", "--out", "c", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    files = [f for _, f in sums(tmp_path / "c")]
    assert files == ["CIFAR-10_human.pt", *(f"cifar-10-batches-py/{f}" for f in
                                            ["batches.meta"] + data.TRAIN_BATCHES + [data.TEST_BATCH])]
    full, part = data.load("cifar10", src, fetch=False), data.load("cifar10", str(tmp_path / "c"), fetch=False)
    kept = subset.first_per_class(full.y_train, 103, 10)
    np.testing.assert_array_equal(part.x_train, full.x_train[kept])
    assert len(part.y_test) == len(full.y_test)  # no --test-subset: the whole test set
    human, cut_ = data.load_human("cifar10", src, fetch=False), data.load_human("cifar10", str(tmp_path / "c"), fetch=False)
    assert set(cut_) == set(human)
    for k in human:
        np.testing.assert_array_equal(cut_[k], human[k][kept])
    assert (cut_["clean_label"] == part.y_train).all()


def test_a_cifar100_subset_keeps_its_superclasses_and_refuses_a_folder_in_use(tmp_path):
    src = downloaded("cifar100-subset", tmp_path)
    assert cut("--dataset", "cifar100", "--data-dir", src, "--subset", "300", "--test-subset", "200", "--human",
               "--out", "c", cwd=tmp_path).returncode == 0
    full, part = data.load("cifar100", src, fetch=False), data.load("cifar100", str(tmp_path / "c"), fetch=False)
    assert (np.bincount(part.y_train, minlength=100) == 3).all() and (np.bincount(part.y_test, minlength=100) == 2).all()
    assert (part.superclass_of == full.superclass_of).all() and part.classes == full.classes
    before = sums(tmp_path / "c")
    p = cut("--dataset", "cifar100", "--data-dir", src, "--subset", "100", "--out", "c", cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.strip().endswith("already exists and is not empty; choose a new folder, "
                                                           "or delete it first")
    assert sums(tmp_path / "c") == before and sorted(os.listdir(tmp_path)) == ["c", "data"]  # no temporary left
