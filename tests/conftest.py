"""Shared test helpers: the test switch (device, precision), small CIFAR-10 data sets made on the fly.

The switch: `pytest --device cuda` trains the end-to-end, resume, evaluate and speed tests on the GPU
(the rest stay on the CPU); `pytest --precision bf16|fp32` sets the precision of every test whose verdict
holds in any precision. Tests that compare numbers with fp32 tolerances pin fp32, and the tests of the
bf16 path pin bf16, whatever the switch says. The default, CPU and `auto`, is what CI runs.
"""
import gzip
import http.server
import io
import os
import pickle
import struct
import tarfile
import threading

import numpy as np
import pytest
import torch

from noisylabels.data import DATASETS, MNIST_FILES, TEST_BATCH, TRAIN_BATCHES

ARCHIVE, FOLDER = DATASETS["cifar10"].sources[0].file, DATASETS["cifar10"].folder

DEVICE, PRECISION = "cpu", "auto"  # the switch, set by pytest_configure


def pytest_addoption(parser):
    g = parser.getgroup("noisy-label suite")
    g.addoption("--device", default="cpu", choices=["cpu", "cuda"],
                help="where the end-to-end, resume, evaluate and speed tests train (default: cpu)")
    g.addoption("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                help="precision of the tests that hold in any precision; the others pin theirs (default: auto)")


def pytest_configure(config):
    global DEVICE, PRECISION
    DEVICE, PRECISION = config.getoption("--device"), config.getoption("--precision")
    if DEVICE == "cuda" and not torch.cuda.is_available():
        raise pytest.UsageError("--device cuda: no CUDA GPU is visible to torch; run the tests without it")


def compute(device=None, precision=None):
    """train.py's --device and --precision for a test: the switch's, unless the test pins its own."""
    return ["--device", device or DEVICE, "--precision", precision or PRECISION]


@pytest.fixture
def true_fp32():
    """fp32 that is fp32 on CUDA too: cuDNN convolutions default to TF32 (a 10-bit mantissa) on Ampere+.

    Set and restored by hand: monkeypatch (pytest >= 9.2) undoes these __setattr__-backed flags with delattr.
    """
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    was = cudnn.allow_tf32, matmul.allow_tf32
    cudnn.allow_tf32 = matmul.allow_tf32 = False
    yield
    cudnn.allow_tf32, matmul.allow_tf32 = was


def learnable_images(labels, rng):
    """uint8 rows [N, 3072]: each class has its own colour and stripe direction, plus pixel noise."""
    palette = np.random.default_rng(1234).integers(30, 226, size=(10, 3))  # the same in every batch
    yy, xx = np.mgrid[0:32, 0:32]
    x = np.empty((len(labels), 3, 32, 32), dtype=np.float64)
    for i, c in enumerate(labels):
        stripes = np.sin((xx * np.cos(c * 0.3) + yy * np.sin(c * 0.3)) * (0.4 + 0.05 * c))
        x[i] = palette[c][:, None, None] + 25 * stripes + rng.normal(0, 20, size=(3, 32, 32))
    return np.clip(x, 0, 255).astype(np.uint8).reshape(len(labels), 3072)


def write_cifar(root, per_batch=60, n_test=200, seed=0):
    """Write root/cifar-10-batches-py with 5 train batches of per_batch images and one test batch.

    Labels cycle through the 10 classes so every class is present; returns the folder path.
    """
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, FOLDER)
    os.makedirs(folder, exist_ok=True)
    for name, n in [(b, per_batch) for b in TRAIN_BATCHES] + [(TEST_BATCH, n_test)]:
        labels = rng.permutation(np.arange(n) % 10)
        d = {"batch_label": name, "labels": labels.tolist(), "data": learnable_images(labels, rng)}
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(d, f)
    return folder


def write_cifar100(root, n_train=300, n_test=200, seed=0):
    """Write root/cifar-100-python (train, test, meta) as the official archive lays it out.

    Fine labels cycle through the 100 classes; superclasses are a seeded scatter of 5 classes each,
    as the real ones are scattered over the alphabetical fine labels. Returns superclass_of [100].
    """
    rng = np.random.default_rng(seed)
    superclass_of = rng.permutation(np.arange(100) % 20)
    folder = os.path.join(root, DATASETS["cifar100"].folder)
    os.makedirs(folder, exist_ok=True)
    for name, n in [("train", n_train), ("test", n_test)]:
        fine = rng.permutation(np.arange(n) % 100)
        d = {"batch_label": name, "filenames": [f"{i}.png" for i in range(n)], "fine_labels": fine.tolist(),
             "coarse_labels": superclass_of[fine].tolist(), "data": learnable_images(fine % 10, rng)}
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(d, f)
    with open(os.path.join(folder, "meta"), "wb") as f:
        pickle.dump({"fine_label_names": [f"class{k}" for k in range(100)],
                     "coarse_label_names": [f"super{s}" for s in range(20)]}, f)
    return superclass_of


def idx_bytes(a, magic):
    """An idx file as MNIST's: a big-endian magic number, the dimensions, then the uint8 values."""
    return struct.pack(">" + "I" * (1 + a.ndim), magic, *a.shape) + a.astype(np.uint8).tobytes()


def mnist_files(n_train=300, n_test=200, seed=0):
    """{file name: gzipped bytes} of the four MNIST files, with learnable digits: each class its own bar."""
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in [("train", n_train), ("t10k", n_test)]:
        y = rng.permutation(np.arange(n) % 10)
        x = rng.normal(30, 20, size=(n, 28, 28))
        for i, c in enumerate(y):
            x[i, 2 + 2 * c: 5 + 2 * c, 4:24] += 180  # a horizontal bar whose height names the class
        out[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(np.clip(x, 0, 255), 2051))
        out[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(y, 2049))
    assert set(out) == set(MNIST_FILES)
    return out


def write_mnist(root, **kw):
    os.makedirs(root, exist_ok=True)
    for name, raw in mnist_files(**kw).items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(raw)
    return root


def human_table(clean, seed=0):
    """A CIFAR-10N-style table for training labels `clean`: each label set flips its own share of them."""
    rng = np.random.default_rng(seed)
    table = {"clean_label": np.asarray(clean, dtype=np.int64)}
    for key, rate in [("aggre_label", 0.1), ("worse_label", 0.4), ("random_label1", 0.2), ("random_label2", 0.2),
                      ("random_label3", 0.2)]:
        flip = rng.random(len(clean)) < rate
        table[key] = np.where(flip, (table["clean_label"] + rng.integers(1, 10, len(clean))) % 10, clean)
    return table


def make_archive(path, src_root, folder=FOLDER):
    """Pack src_root/<folder> (CIFAR-10's by default) into a .tar.gz at path, as the official archives are laid out."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(os.path.join(src_root, folder), arcname=folder)
    with open(path, "rb") as f:
        return f.read()


def interrupt_after_epoch_1(monkeypatch, argv):
    """train.run(argv) until epoch 1's last.pt is saved, then stopped as a kill there would stop it.

    The kill lands before best.pt of epoch 1: resuming must restore that too.
    """
    from noisylabels import config
    from noisylabels import train
    save = train.save_torch

    def save_then_die(path, obj):
        save(path, obj)
        if path.endswith("last.pt"):
            raise KeyboardInterrupt

    monkeypatch.setattr(train, "save_torch", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train.run(config.parse_args(argv))
    monkeypatch.setattr(train, "save_torch", save)


@pytest.fixture(autouse=True)
def restore_determinism():
    """train.run switches deterministic algorithms on process-wide; give the next test what it had."""
    on = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(on)


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory):
    """A data dir holding an extracted, learnable, small CIFAR-10 (300 train, 200 test images)."""
    root = tmp_path_factory.mktemp("cifar")
    write_cifar(str(root))
    return str(root)


@pytest.fixture(scope="session")
def archive_bytes(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    write_cifar(str(src), per_batch=20, n_test=20, seed=1)
    return make_archive(str(src / "a.tar.gz"), str(src))


@pytest.fixture
def server(archive_bytes):
    """A loopback HTTP server; set state['body'] and state['cut'] (bytes actually sent) per test.

    state['routes'], when set, maps paths to bodies instead, and any other path is a 404.
    """
    state = {"body": archive_bytes, "cut": None, "hits": 0, "routes": None, "asked": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state["hits"] += 1
            state["asked"].append(self.path)
            if state["routes"] is not None and self.path not in state["routes"]:
                self.send_error(404)
                return
            body = state["body"] if state["routes"] is None else state["routes"][self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: state["cut"]])  # a cut body, then the connection closes

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/{ARCHIVE}", state
    srv.shutdown()
    srv.server_close()


def pickle_bytes(obj):
    buf = io.BytesIO()
    pickle.dump(obj, buf)
    return buf.getvalue()
