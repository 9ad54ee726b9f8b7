"""The pytest hooks and fixtures; the shared helpers that are not fixtures are in helpers.py.

The switch: `pytest --device cuda` trains the end-to-end, resume, evaluate and speed tests on the GPU
(the rest stay on the CPU); `pytest --precision bf16|fp32` sets the precision of every test whose verdict
holds in any precision. Tests that compare numbers with fp32 tolerances pin fp32, and the tests of the
bf16 path pin bf16, whatever the switch says. The default, CPU and `auto`, is what CI runs.
"""
import http.server
import threading

import pytest
import torch

import helpers
from helpers import ARCHIVE, make_archive, write_cifar


def pytest_addoption(parser):
    g = parser.getgroup("noisy-label suite")
    g.addoption("--device", default="cpu", choices=["cpu", "cuda"],
                help="where the end-to-end, resume, evaluate and speed tests train (default: cpu)")
    g.addoption("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                help="precision of the tests that hold in any precision; the others pin theirs (default: auto)")


def pytest_configure(config):
    helpers.DEVICE, helpers.PRECISION = config.getoption("--device"), config.getoption("--precision")
    if helpers.DEVICE == "cuda" and not torch.cuda.is_available():
        raise pytest.UsageError("--device cuda: no CUDA GPU is visible to torch; run the tests without it")


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
def tiny_cifar_dir(tmp_path_factory):
    """100 training and 20 test images: for runs that are mostly process start-up, kills and resumes anyway."""
    root = tmp_path_factory.mktemp("tiny")
    write_cifar(str(root), per_batch=20, n_test=20)
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
