"""The data sets (CIFAR-10, CIFAR-100, MNIST) and their human labels: where they come from, what they are.

Owns everything between the official files and numpy arrays: where each data set's files come
from and what they must look like (checked on every read), their classes, statistics and flip rule, the
readers of CIFAR pickles and MNIST idx files, and the human labels of CIFAR-10N and CIFAR-100N.
Downloading and safe unpickling are fetch.py's; splitting and batching on the device, batches.py's.
A leaf: of the package it imports only fetch.py (and so errors.py; tests/test_layers.py keeps it so). Which data
a run reads (a named data set or the user's own) and `python data.py` are datasets.py's.
"""
import gzip
import os
import struct
import zlib
import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .fetch import DataError, checksum, download_into, extract, unpickle

__all__ = ["DataError"]  # re-exported: callers catch data.DataError

# CIFAR-10's classes, by label.
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# CIFAR-10N's label sets (Wei et al., ICLR 2022) by their --human-label name, each with its key in the file: the
# majority vote of three annotators, each annotator alone, and the worst of the three (wrong whenever one was
# wrong). CIFAR-100N has one: the label of one annotator per image (Wei et al. call it "noisy").
HUMAN_LABELS = {"cifar10": {"aggre": "aggre_label", "random1": "random_label1", "random2": "random_label2",
                            "random3": "random_label3", "worse": "worse_label"},
                "cifar100": {"noisy": "noisy_label"}}


@dataclass(frozen=True)
class Source:
    """One file as published: its name in --data-dir, its mirrors in order, and its checksum."""
    file: str
    urls: tuple
    checksum: str
    algo: str = "md5"


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    num_classes: int
    shape: tuple  # (C, H, W) of one image
    mean: tuple  # per-channel statistics of the training images, on the 0..1 scale
    std: tuple
    flip: bool  # is a horizontal flip still an image of its class? Not for digits
    sources: tuple  # what is downloaded
    folder: str = ""  # the folder the archive holds; "" where the files are used as they are
    human: Source = None  # CIFAR-N label file, if the data set has one
    human_keys: tuple = ()  # what it must hold
    human_extra: tuple = ()  # what it may hold besides, read and checked when there
    digest: str = ""  # the user's own data (owndata.py): sha256 of its arrays, recorded in config.json


TORONTO = "https://www.cs.toronto.edu/~kriz/"
CIFARN = "https://github.com/UCSC-REAL/cifar-10-100n/raw/main/data/"
# torchvision's MNIST mirrors, in the order it tries them: the copy on S3 first, the original site second.
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MNIST_FILES = {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
               "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
               "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
               "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}

# The channel statistics of Ma et al.'s and Ye et al.'s released code, where they differ from the suite's:
# CIFAR-10's standard deviation there is that of every pixel, the suite's the widely copied per-image one.
RELEASED_STATS = {"cifar10": ((0.49139968, 0.48215827, 0.44653124), (0.24703233, 0.24348505, 0.26158768))}

DATASETS = {s.name: s for s in [
    Spec("cifar10", "CIFAR-10", 10, (3, 32, 32), (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), True,
         (Source("cifar-10-python.tar.gz", (TORONTO + "cifar-10-python.tar.gz",), "c58f30108f718f92721af3b95e74349a"),),
         "cifar-10-batches-py",
         Source("CIFAR-10_human.pt", (CIFARN + "CIFAR-10_human.pt",),
                "873e69c39cb9b5e97fb6bae2d60bb59b38a5cbc31d2b868f7903dcb2b9dd2310", "sha256"),
         ("clean_label",) + tuple(HUMAN_LABELS["cifar10"].values())),
    Spec("cifar100", "CIFAR-100", 100, (3, 32, 32), (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), True,
         (Source("cifar-100-python.tar.gz", (TORONTO + "cifar-100-python.tar.gz",),
                 "eb9058c3a382ffc7106e4002c42a8d85"),),
         "cifar-100-python",
         Source("CIFAR-100_human.pt", (CIFARN + "CIFAR-100_human.pt",),
                "bd2d80409754d420292d622e15e25248ba21e37d27429efac49c8da723f44394", "sha256"),
         ("clean_label", "noisy_label"), ("clean_coarse_label", "noisy_coarse_label")),
    Spec("mnist", "MNIST", 10, (1, 28, 28), (0.1307,), (0.3081,), False,
         tuple(Source(f, tuple(m + f for m in MNIST_MIRRORS), md5) for f, md5 in MNIST_FILES.items())),
]}
# CIFAR-10's python batches, by the names its archive gives them.
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"


class Data(NamedTuple):
    x_train: np.ndarray  # uint8 [N, C, H, W]
    y_train: np.ndarray  # int64 [N]
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list  # class names, by label
    superclass_of: np.ndarray = None  # CIFAR-100: int64 [100], the coarse label of each fine label
    superclasses: list = None


def spec_of(dataset):
    return dataset if isinstance(dataset, Spec) else DATASETS[dataset]


def locate(spec, data_dir, fetch=True):
    """The extracted folder of an archive data set, extracting or (if fetch) downloading the archive as needed."""
    folder, src = os.path.join(data_dir, spec.folder), spec.sources[0]
    if os.path.isdir(folder):
        return folder
    archive = os.path.join(data_dir, src.file)
    if not fetch and not os.path.exists(archive):
        raise DataError(f"no {spec.title} in {data_dir} (neither {spec.folder}/ nor {src.file}); run train.py "
                        f"--dataset {spec.name} --data-dir {data_dir} once to download it, or point at a folder "
                        f"that holds it")
    if os.path.exists(archive):
        got = checksum(archive, src.algo)
        if got != src.checksum:
            raise DataError(f"{archive} has {src.algo} {got}, expected {src.checksum}; delete it and run again to "
                            f"download it")
    else:
        download_into(data_dir, src.urls, archive, src.checksum, src.algo)
    extract(archive, data_dir, spec.folder, spec.title)
    return folder


def fetched(src, data_dir, fetch, missing, by_hand=None):
    """The path of a Source's file in data_dir, downloaded there (and checked) first where it is missing and fetch
    is on; a DataError, "no FILE in DATA_DIR; " + missing, where it is missing and fetch is off. by_hand: every file
    a failed download names for the user to fetch (default: this one)."""
    path = os.path.join(data_dir, src.file)
    if not os.path.isfile(path):
        if not fetch:
            raise DataError(f"no {src.file} in {data_dir}; {missing}")
        download_into(data_dir, src.urls, path, src.checksum, src.algo, by_hand)
    return path


def read_pickle(path, what, keys, fix, optional=()):
    """A dict with `keys` (and those of `optional` it has) from a pickle read by fetch.unpickle.

    Every failure is a DataError naming `what`.
    """
    if not os.path.isfile(path):
        raise DataError(f"missing {what} file {path}; {fix}")
    try:
        d = unpickle(path)
        return {k: d[k] for k in keys + tuple(k for k in optional if k in d)}
    except Exception as e:  # truncated, not a pickle, a refused global, or a key missing
        raise DataError(f"cannot read {path} as {what} ({type(e).__name__}: {e}); {fix}") from None


def rows_and_labels(path, d, label_key, num_classes, what, fix):
    """CIFAR rows uint8 [N, 3072] and labels -> (x uint8 [N, 3, 32, 32], y int64 [N]), checked."""
    x, y = np.asarray(d["data"]), np.asarray(d[label_key])
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or y.shape != (len(x),) or \
            (len(y) and not np.issubdtype(y.dtype, np.integer)):
        raise DataError(f"{path} is not {what} (data {x.dtype} {x.shape}, {label_key} {y.shape}); {fix}")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"{path} has {label_key} outside 0..{num_classes - 1}; {fix}")
    return x.reshape(-1, 3, 32, 32), y.astype(np.int64)  # rows are 1024 red, 1024 green, 1024 blue values


def read_batch(path):
    """Read one pickled CIFAR-10 batch of any number of rows -> (x uint8 [N, 3, 32, 32], y int64 [N])."""
    fix = "delete the cifar-10-batches-py/ folder so the archive is extracted again, or replace the file"
    d = read_pickle(path, "a CIFAR-10 batch", ("data", "labels"), fix)
    return rows_and_labels(path, d, "labels", 10, "a CIFAR-10 batch", fix)


def read_cifar10(folder):
    train = [read_batch(os.path.join(folder, b)) for b in TRAIN_BATCHES]
    x_test, y_test = read_batch(os.path.join(folder, TEST_BATCH))
    return Data(np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test,
                list(CLASSES))


def read_cifar100(folder):
    """train, test and meta of cifar-100-python/: the fine labels are the classes, the coarse ones their superclass."""
    fix = "delete the cifar-100-python/ folder so the archive is extracted again, or replace the file"
    what = "a CIFAR-100 file"
    out, coarse = [], []
    for part in ("train", "test"):
        path = os.path.join(folder, part)
        d = read_pickle(path, what, ("data", "fine_labels", "coarse_labels"), fix)
        out += rows_and_labels(path, d, "fine_labels", 100, what, fix)
        coarse.append(rows_and_labels(path, d, "coarse_labels", 20, what, fix)[1])
    meta = read_pickle(os.path.join(folder, "meta"), "CIFAR-100's meta", ("fine_label_names", "coarse_label_names"),
                       fix)
    fine, sup = list(meta["fine_label_names"]), list(meta["coarse_label_names"])
    if len(fine) != 100 or len(sup) != 20:
        raise DataError(f"{folder}/meta names {len(fine)} classes and {len(sup)} superclasses, not 100 and 20; {fix}")
    # The superclass of each class, from the images' own labels: each class must sit in one superclass.
    y, c = np.concatenate([out[1], out[3]]), np.concatenate(coarse)
    superclass_of = np.full(100, -1, dtype=np.int64)
    for k in np.unique(y):
        s = np.unique(c[y == k])
        if len(s) != 1:
            raise DataError(f"{folder}: class {k} ({fine[k]}) carries coarse labels {s.tolist()}, not one; {fix}")
        superclass_of[k] = s[0]
    return Data(*out, fine, superclass_of, sup)


def read_idx(path, images):
    """One gzipped MNIST idx file -> uint8 [N, 1, 28, 28] images, or int64 [N] labels in 0..9, header checked."""
    fix = f"delete {path} so it is downloaded again, or replace it with the official file"
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read {path} as a gzipped idx file ({e}); {fix}") from None
    magic, head = (2051, 16) if images else (2049, 8)  # 0x0803: uint8, 3 dimensions; 0x0801: uint8, 1
    if len(raw) < head:
        raise DataError(f"{path} is too short for an idx header; {fix}")
    got, n, *dims = struct.unpack(">" + "I" * (head // 4), raw[:head])
    if got != magic:
        raise DataError(f"{path} has idx magic number {got}, expected {magic} (MNIST {'images' if images else 'labels'}); {fix}")
    if images and dims != [28, 28]:
        raise DataError(f"{path} holds {dims[0]}x{dims[1]} images, expected MNIST's 28x28; {fix}")
    size = n * 784 if images else n
    if len(raw) != head + size:
        raise DataError(f"{path}: its header counts {n} items, which need {head + size} bytes, but it has {len(raw)}; {fix}")
    a = np.frombuffer(raw, dtype=np.uint8, offset=head)
    if images:
        return a.reshape(n, 1, 28, 28).copy()
    if n and a.max() > 9:
        raise DataError(f"{path} has labels outside 0..9; {fix}")
    return a.astype(np.int64)


def read_mnist(spec, data_dir, fetch=True):
    """The four idx files in data_dir, each downloaded (and checked) there when missing and fetch is on."""
    absent = [s.file for s in spec.sources if not os.path.isfile(os.path.join(data_dir, s.file))]
    paths = [fetched(src, data_dir, fetch, f"run train.py --dataset mnist --data-dir {data_dir} once to download "
                                           f"MNIST, or point at a folder that holds it", absent)
             for src in spec.sources]
    x, y, xt, yt = (read_idx(p, images=i % 2 == 0) for i, p in enumerate(paths))
    for a, b, what in [(x, y, "train"), (xt, yt, "t10k")]:
        if len(a) != len(b):
            raise DataError(f"{data_dir}: the {what} files hold {len(a)} images but {len(b)} labels; "
                            f"replace them with a matching pair")
    return Data(x, y, xt, yt, [str(d) for d in range(10)])


def spec_for(name, stats="suite"):
    """The data set's Spec, with the released code's channel statistics for stats="released"."""
    spec = DATASETS[name]
    if stats == "released" and name in RELEASED_STATS:
        spec = dataclasses.replace(spec, mean=RELEASED_STATS[name][0], std=RELEASED_STATS[name][1])
    return spec


def present(spec, data_dir):
    """Does data_dir hold this data set's files (extracted, archived, or MNIST's idx files)?"""
    files = [spec.folder, spec.sources[0].file] if spec.folder else [spec.sources[0].file]
    return any(os.path.exists(os.path.join(data_dir, f)) for f in files)


def load(dataset, data_dir, fetch=True):
    """The training and test images and labels of a data set (a name or a Spec), fetched on first use."""
    spec = spec_of(dataset)
    other = [s for s in DATASETS.values() if s is not spec and s.name != spec.name and present(s, data_dir)]
    if other and not present(spec, data_dir):  # a folder of another data set: not a reason to download this one
        raise DataError(f"{data_dir} holds {other[0].title}'s files, not {spec.title}'s; add --dataset "
                        f"{other[0].name}, or point --data-dir at {spec.title}'s folder")
    if spec.name == "mnist":
        return read_mnist(spec, data_dir, fetch)
    folder = locate(spec, data_dir, fetch)
    return read_cifar10(folder) if spec.name == "cifar10" else read_cifar100(folder)


def read_human(path, keys, optional=()):
    """A CIFAR-N label file -> {key: int64 array}, read without running pickled code; a tensor in it is refused."""
    fix = f"delete {path} so it is downloaded again, or put the official {os.path.basename(path)} there"
    d = read_pickle(path, "CIFAR-N labels", keys, fix, optional)
    table = {k: np.asarray(v) for k, v in d.items()}  # CIFAR-100N's coarse labels are plain lists
    for k, v in table.items():
        if v.ndim != 1 or not np.issubdtype(v.dtype, np.integer) or len(v) != len(table[keys[0]]):
            raise DataError(f"{path}: {k} is not a 1-D integer array as long as {keys[0]}; {fix}")
    return {k: v.astype(np.int64) for k, v in table.items()}


def load_human(dataset, data_dir, fetch=True):
    """The CIFAR-N label table of a data set from data_dir, downloaded there (and checked) on first use.

    A file found in place is not held to the official checksum, so that an aligned subset (such as
    ../shared's) can be used; its clean_label is checked against the training labels instead
    (noise.human_noisy_labels).
    """
    spec = spec_of(dataset)
    if spec.human is None:
        raise DataError(f"{spec.title} has no human labels; --noise human is for cifar10 and cifar100")
    path = fetched(spec.human, data_dir, fetch, f"run train.py --dataset {spec.name} --noise human once to download it")
    return read_human(path, spec.human_keys, spec.human_extra)
