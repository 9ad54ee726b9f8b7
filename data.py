"""CIFAR-10 on the training device: download, verify, read, split, and batch.

Owns everything between the Toronto archive and a normalised float batch:
a checked download that never leaves a half-written file under a valid name,
a pickle reader that only accepts numpy arrays, a class-stratified train/val
split, and batches cut by index from uint8 tensors that stay on the device,
where normalisation and augmentation run on the whole batch at once.
"""
import argparse
import functools
import hashlib
import http.client
import io
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
# CIFAR-10N (Wei et al., ICLR 2022): human labels for the training images, in their order.
HUMAN_URL = "https://github.com/UCSC-REAL/cifar-10-100n/raw/main/data/CIFAR-10_human.pt"
HUMAN_SHA256 = "873e69c39cb9b5e97fb6bae2d60bb59b38a5cbc31d2b868f7903dcb2b9dd2310"
HUMAN_FILE = "CIFAR-10_human.pt"
HUMAN_KEYS = ("clean_label", "aggre_label", "worse_label", "random_label1", "random_label2", "random_label3")
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)


class DataError(Exception):
    """A problem with the data on disk or its download, explained in one line for the user."""


def checksum(path, algo="md5"):
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch(url, path):
    from tqdm import tqdm  # imported here: only a download needs it

    got = 0
    print(f"downloading {url} to {path}", file=sys.stderr)  # a line even where the bar is hidden (no TTY)
    with urllib.request.urlopen(url, timeout=60) as r, open(path, "wb") as f:
        total = int(r.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {os.path.basename(url)}",
                  file=sys.stderr, disable=None) as bar:
            for chunk in iter(lambda: r.read(1 << 20), b""):
                f.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
    # read(n) returns b"" when the server hangs up early instead of raising: count the bytes.
    if total is not None and got != total:
        raise http.client.IncompleteRead(b"", total - got)


def download(url, dest, expected, algo="md5", tries=3, backoff=2.0):
    """Fetch url to dest. Bytes go to a .part file, renamed to dest only once its checksum is `expected`.

    The .part name is unique, so runs started together on a fresh --data-dir do not write into one file.
    """
    fd, part = tempfile.mkstemp(prefix=os.path.basename(dest) + ".", suffix=".part", dir=os.path.dirname(dest) or ".")
    os.close(fd)
    try:
        for attempt in range(1, tries + 1):
            try:
                _fetch(url, part)
                break
            # URLError, HTTPError, timeouts and resets are OSErrors; a cut-off body is IncompleteRead.
            except (OSError, http.client.HTTPException) as e:
                if attempt == tries:
                    where = os.path.dirname(dest) or "."
                    raise DataError(f"download of {url} failed after {tries} tries ({e}); check the network, "
                                    f"or put {os.path.basename(dest)} into {where} by hand") from None
                print(f"download failed ({e}); retrying in {backoff ** attempt:.0f} s", file=sys.stderr)
                time.sleep(backoff ** attempt)
        got = checksum(part, algo)
        if got != expected:
            raise DataError(f"downloaded {url} has {algo} {got}, expected {expected}; the file was removed, "
                            f"run again")
        os.replace(part, dest)
    finally:
        if os.path.exists(part):
            os.remove(part)


def extract(archive, data_dir):
    """Unpack into a temporary folder and rename it into place, so a folder named FOLDER is always complete."""
    tmp = tempfile.mkdtemp(prefix=".extract-", dir=data_dir)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        if not os.path.isdir(os.path.join(tmp, FOLDER)):
            raise DataError(f"{archive} holds no {FOLDER}/ folder; it is not the CIFAR-10 python archive")
        try:
            os.replace(os.path.join(tmp, FOLDER), os.path.join(data_dir, FOLDER))
        except OSError:
            if not os.path.isdir(os.path.join(data_dir, FOLDER)):
                raise  # else a run started beside this one extracted the same archive first
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"cannot extract {archive} ({e}); delete it and run again to download a fresh copy") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def locate(data_dir, url=URL, md5=MD5, fetch=True):
    """Return the path of the extracted batches, extracting or (if fetch) downloading the archive as needed."""
    folder = os.path.join(data_dir, FOLDER)
    if os.path.isdir(folder):
        return folder
    if not fetch and not os.path.exists(os.path.join(data_dir, ARCHIVE)):
        raise DataError(f"no CIFAR-10 in {data_dir} (neither {FOLDER}/ nor {ARCHIVE}); run train.py with "
                        f"--data-dir {data_dir} once to download it, or point at a folder that holds it")
    archive = os.path.join(data_dir, ARCHIVE)
    if os.path.exists(archive):
        got = checksum(archive)
        if got != md5:
            raise DataError(f"{archive} has md5 {got}, expected {md5}; delete it and run again to download it")
    else:
        download_into(data_dir, url, archive, md5)
    extract(archive, data_dir)
    return folder


def download_into(data_dir, url, dest, expected, algo="md5"):
    """download(), creating data_dir for it; a data_dir made here is removed again if the download fails."""
    made = not os.path.isdir(data_dir)
    os.makedirs(data_dir, exist_ok=True)
    try:
        download(url, dest, expected, algo)
    except DataError:
        if made and not os.listdir(data_dir):
            os.rmdir(data_dir)
        raise


class _ArrayUnpickler(pickle.Unpickler):
    # A CIFAR batch is a dict of lists and numpy arrays; refusing every other global
    # means a doctored batch file cannot run code when it is read. numpy.core is the
    # module path numpy < 2 writes, numpy._core the one numpy >= 2 writes; pickle
    # protocol 2 stores an array's raw bytes through _codecs.encode (a string -> bytes).
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_batch(path):
    """Read one pickled CIFAR batch of any number of rows -> (x uint8 [N, 3, 32, 32], y int64 [N])."""
    fix = f"delete the {FOLDER}/ folder so the archive is extracted again, or replace the file"
    if not os.path.isfile(path):
        raise DataError(f"missing batch file {path}; {fix}")
    try:
        with open(path, "rb") as f:
            d = _ArrayUnpickler(f, encoding="latin1").load()
        x, y = np.asarray(d["data"]), np.asarray(d["labels"], dtype=np.int64)
    except Exception as e:  # truncated, not a pickle, or a pickle of something else
        raise DataError(f"cannot read {path} as a CIFAR-10 batch ({type(e).__name__}: {e}); {fix}") from None
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or y.shape != (len(x),):
        raise DataError(f"{path} is not a CIFAR-10 batch (data {x.dtype} {x.shape}, labels {y.shape}); {fix}")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{path} has labels outside 0..9; {fix}")
    return x.reshape(-1, 3, 32, 32), y  # rows are 1024 red, 1024 green, 1024 blue values


def load_cifar10(data_dir, url=URL, md5=MD5, fetch=True):
    """Return numpy arrays x_train, y_train, x_test, y_test from data_dir, fetching them on first use."""
    folder = locate(data_dir, url, md5, fetch)
    train = [read_batch(os.path.join(folder, b)) for b in TRAIN_BATCHES]
    x_test, y_test = read_batch(os.path.join(folder, TEST_BATCH))
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test)


def read_human(path):
    """Read CIFAR-10_human.pt -> {key: int64 array} without running pickled code.

    The file is torch.save's zip of one pickle (an older plain pickle is read too). It holds
    only numpy arrays, which torch.load(weights_only=True) refuses, so its pickle is read
    with the same allowlisting unpickler as the image batches; a tensor in it is refused too.
    """
    fix = f"delete {path} so it is downloaded again, or put the official {HUMAN_FILE} there"
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                name = next(n for n in z.namelist() if n.endswith("data.pkl"))
                d = _ArrayUnpickler(io.BytesIO(z.read(name)), encoding="latin1").load()
        else:
            with open(path, "rb") as f:
                d = _ArrayUnpickler(f, encoding="latin1").load()
        table = {k: np.asarray(d[k]) for k in HUMAN_KEYS}
    except Exception as e:  # not a zip or pickle, a key missing, or a refused global
        raise DataError(f"cannot read {path} as CIFAR-10N labels ({type(e).__name__}: {e}); {fix}") from None
    for k, v in table.items():
        if v.ndim != 1 or not np.issubdtype(v.dtype, np.integer) or len(v) != len(table["clean_label"]):
            raise DataError(f"{path}: {k} is not a 1-D integer array as long as clean_label; {fix}")
    return {k: v.astype(np.int64) for k, v in table.items()}


def load_human(data_dir, url=HUMAN_URL, sha256=HUMAN_SHA256, fetch=True):
    """The CIFAR-10N label table from data_dir/CIFAR-10_human.pt, downloaded there (and checked) on first use.

    A file found in place is not held to the official checksum, so that an aligned subset
    (such as ../shared/cifar10-subset's) can be used; its clean_label is checked against
    the training labels instead (noise.human_noisy_labels).
    """
    path = os.path.join(data_dir, HUMAN_FILE)
    if not os.path.isfile(path):
        if not fetch:
            raise DataError(f"no {HUMAN_FILE} in {data_dir}; run train.py --noise human once to download it")
        download_into(data_dir, url, path, sha256, algo="sha256")
    return read_human(path)


def stratified_split(labels, val_fraction, seed, num_classes=10):
    """Indices (train, val): round(val_fraction * n_c) of each class c go to validation."""
    rng = np.random.default_rng(seed)
    val = []
    for c in range(num_classes):
        idx = rng.permutation(np.flatnonzero(labels == c))
        val.append(idx[: int(round(val_fraction * idx.size))])
    val = np.sort(np.concatenate(val))
    return np.setdiff1d(np.arange(len(labels)), val), val


def index_batches(n, batch_size, device, gen=None, drop_last=False):
    """Index tensors on `device` for one pass over n samples, shuffled by `gen` when given.

    The permutation is drawn on the CPU from a seeded generator so the order is
    the same on every device; it is moved to the device once per epoch.
    """
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    order = order.to(device)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        yield order[i : i + batch_size]


def augment(x, gen):
    """Random crop with 4-pixel zero padding and horizontal flip, drawn per image: uint8 [B, C, H, W].

    gen is a generator on x's device, so drawing the offsets needs no host-to-device copy.
    """
    B, C, H, W = x.shape
    dev = x.device
    padded = F.pad(x, (4, 4, 4, 4))  # [B, C, H+8, W+8]
    off = torch.randint(0, 9, (2, B), generator=gen, device=dev)
    flip = torch.rand(B, generator=gen, device=dev) < 0.5
    rows = off[0][:, None] + torch.arange(H, device=dev)  # [B, H]
    cols = off[1][:, None] + torch.arange(W, device=dev)  # [B, W]
    cols = torch.where(flip[:, None], cols.flip(1), cols)  # reading columns backwards is the flip
    b = torch.arange(B, device=dev)[:, None, None, None]
    c = torch.arange(C, device=dev)[None, :, None, None]
    return padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]  # [B, C, H, W]


@functools.cache
def _stats(device):
    # Made once per device: building them per batch would be a host-to-device copy every step.
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1) * 255
    return mean, std


def normalize(x):
    """uint8 [B, 3, H, W] -> float32, standardised with the CIFAR-10 channel statistics."""
    mean, std = _stats(x.device)
    return (x.float() - mean) / std


def main(argv=None):
    p = argparse.ArgumentParser(prog="data.py", description="Download and check CIFAR-10 (and CIFAR-10N) into a "
                                "folder, once, before runs that share it start.", allow_abbrev=False)
    p.add_argument("--data-dir", default="./data", help="the folder train.py's --data-dir will name (default: ./data)")
    p.add_argument("--human", action="store_true", help="also fetch CIFAR-10N's CIFAR-10_human.pt (default: off)")
    args = p.parse_args(argv)
    try:
        load_cifar10(args.data_dir)
        if args.human:
            load_human(args.data_dir)
    except DataError as e:
        sys.exit(f"error: {e}")
    print(f"{args.data_dir}: CIFAR-10{' and CIFAR-10N' if args.human else ''} ready")


if __name__ == "__main__":
    main()
