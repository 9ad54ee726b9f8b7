"""The package as a library: its public API, the commands over it (noise.py, model.py, losses.py), and an
install into a fresh virtual environment that runs docs/library.md's example from outside the repository."""
import importlib
import os
import re
import shutil
import subprocess
import sys
import venv

import numpy as np
import pytest
import torch

import noisylabels
from noisylabels import data, labelfile, noise
from helpers import ROOT


def command(name):
    """A top-level command of the repository (noise.py, model.py, losses.py) as a module."""
    return importlib.import_module(name)


@pytest.mark.slow
def test_the_public_api_is_named_in_init_and_imports_no_torch_until_used():
    assert set(noisylabels.__all__) == {"get_loss", "list_losses", "make_noisy_labels", "make_model", "UserError"}
    code = "import sys, noisylabels, noisylabels.grid; assert 'torch' not in sys.modules; " \
           "noisylabels.make_model; assert 'torch' in sys.modules"
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with pytest.raises(AttributeError, match="no attribute 'get_los'"):
        noisylabels.get_los


def test_make_model_takes_the_input_shape_and_refuses_what_it_cannot_build():
    m = noisylabels.make_model("cnn4", 10, (1, 28, 28))
    assert m(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"in_shape must be \(channels, size, size\) of square images, got \(3, 32, 28\)"):
        noisylabels.make_model("cnn8", 10, (3, 32, 28))
    with pytest.raises(ValueError, match="num_classes must be a whole number >= 2, got 1"):
        noisylabels.make_model("cnn8", 1)


def test_make_noisy_labels_covers_every_noise_model():
    y = np.repeat(np.arange(10), 20)
    for kind in ("none", "sym", "asym", "pairflip", "uniform"):
        noisy, T = noisylabels.make_noisy_labels(y, kind, 0.4, seed=1, num_classes=10)
        assert noisy.shape == y.shape and T.shape == (10, 10) and np.allclose(T.sum(1), 1)
    # asym takes the data set's own map: MNIST's 7 -> 1, not CIFAR-10's truck -> automobile
    noisy, _ = noisylabels.make_noisy_labels(y, "asym", 0.5, seed=0, dataset="mnist")
    assert set(noisy[y == 7]) == {1, 7} and set(noisy[y == 9]) == {9}
    x = np.random.default_rng(0).integers(0, 256, size=(200, 3, 8, 8), dtype=np.uint8)
    noisy, T = noisylabels.make_noisy_labels(y, "idn", 0.4, seed=0, num_classes=10, images=x)
    assert 0 < (noisy != y).mean() < 1 and np.allclose(T.sum(1), 1)
    table = {"clean_label": y, "worse_label": (y + (np.arange(200) % 4 == 0)) % 10}
    noisy, T = noisylabels.make_noisy_labels(y, "human", dataset="cifar10", human=table)
    assert np.array_equal(noisy, table["worse_label"]) and T[0, 1] == pytest.approx(0.25)
    matched, T2 = noisylabels.make_noisy_labels(y, "human-matched", seed=3, dataset="cifar10", human=table)
    assert np.allclose(T, T2) and not np.array_equal(matched, noisy)


@pytest.mark.parametrize("call, message", [
    (dict(kind="idn", rate=0.4), "idn noise draws each image's flip rate from the image itself: pass images=x"),
    (dict(kind="human"), "human noise needs the CIFAR-N table: human="),
    (dict(kind="asym", rate=0.4, dataset="cifar100"), "pass superclass_of"),
    (dict(kind="sym", rate=0.4, dataset="cifar10", num_classes=100), "num_classes 100 differs from cifar10's 10"),
    (dict(kind="symm", rate=0.4), "unknown noise type 'symm' (did you mean sym?)"),
    (dict(kind="file"), "unknown noise type 'file'"),
])
def test_make_noisy_labels_says_what_it_needs(call, message):
    with pytest.raises(noisylabels.UserError, match=re.escape(message)):
        noisylabels.make_noisy_labels(np.zeros(100, dtype=np.int64), **call)


def test_noise_py_writes_the_labels_train_py_draws_and_prints_the_realised_noise(cifar_dir, tmp_path, capsys):
    out = tmp_path / "labels" / "asym.npy"
    command("noise").main(["--data-dir", cifar_dir, "--noise", "asym", "--rate", "0.4", "--seed", "3",
                           "--out", str(out)])
    said = capsys.readouterr().out
    d = data.load("cifar10", cifar_dir, fetch=False)
    cfg = {"noise": "asym", "rate": 0.4, "seed": 3, "dataset": "cifar10", "asym_cifar100": None}
    want, T, _ = noise.noisy_labels(cfg, d)  # what train.py --noise asym --rate 0.4 --seed 3 trains on
    got = labelfile.read(str(out))
    assert np.array_equal(got, want)
    labelfile.check(got, d.y_train, 10, str(out))  # train.py --noise file --labels reads it as it is
    rate = (want != d.y_train).mean()
    assert f"realised noise rate: {rate:.4f} ({int((want != d.y_train).sum())} of {len(want)} labels changed)" in said
    assert f"{T[9, 1]:.3f}" in said.split("realised noise rate")[0]  # truck -> automobile, in the printed matrix
    with pytest.raises(SystemExit) as e:  # the file is never overwritten
        command("noise").main(["--data-dir", cifar_dir, "--noise", "asym", "--rate", "0.4", "--out", str(out)])
    assert e.value.code == 2 and f"--out {out} exists" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--noise", "sym", "--out", "x.npy"], "--noise sym needs --rate"),
    (["--noise", "none", "--rate", "0.2", "--out", "x.npy"], "--rate does not apply to --noise none"),
    (["--noise", "sym", "--rate", "0.2", "--out", "x.txt"], "the labels are written as .npy"),
])
def test_noise_py_refuses_in_one_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        command("noise").main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_model_py_lists_every_network_with_its_parameter_count(capsys):
    from noisylabels.model import ARCHS
    command("model").main(["--dataset", "mnist"])
    out = capsys.readouterr().out
    assert "1 x 28 x 28 images, 10 classes" in out
    for name in ARCHS:
        n = sum(p.numel() for p in noisylabels.make_model(name, 10, (1, 28, 28)).parameters())
        assert re.search(rf"^{name} +{n:,} ", out, re.M), name


def library_example():
    """The first python block of docs/library.md."""
    with open(os.path.join(ROOT, "docs", "library.md"), encoding="utf-8") as f:
        return re.search(r"```python\n(.*?)```", f.read(), re.S).group(1)


def test_the_library_example_runs_here(capsys):
    """In this process, from the repository (its own process, outside the repository, below)."""
    with torch.random.fork_rng():  # the example seeds torch
        exec(compile(library_example(), "docs/library.md", "exec"), {"__name__": "example"})
    assert "Loss(nce+rce" in capsys.readouterr().out


@pytest.mark.slow
def test_pip_installs_the_package_and_the_example_runs_outside_the_repository(tmp_path):
    """pip install of a copy of the repository into a fresh virtual environment (offline: no build isolation, no
    dependencies; torch and numpy come from this environment's site-packages through a .pth file), then
    docs/library.md's example from a folder outside it, with nothing of the repository on sys.path."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src)
    shutil.copytree(os.path.join(ROOT, "noisylabels"), src / "noisylabels",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    py = str(env_dir / "bin" / "python")
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    here = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(os.path.join(p, "torch"))]
    with open(os.path.join(site, "host.pth"), "w") as f:
        f.write(here[0] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(src)], check=True, env=env, cwd=tmp_path)
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", *map(str, wheels.glob("*.whl"))],
                   check=True, env=env, cwd=tmp_path)
    away = tmp_path / "elsewhere"
    away.mkdir()
    check = "import noisylabels, sys; print(noisylabels.__file__); assert not any(p.startswith(%r) for p in sys.path)"
    p = subprocess.run([py, "-c", check % ROOT], cwd=away, env=env, capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith(site), p.stdout + p.stderr
    p = subprocess.run([py, "-c", library_example()], cwd=away, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "Loss(nce+rce" in p.stdout


def test_losses_py_lists_every_loss_and_a_settings_values(capsys):
    command("losses").main([])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["--loss", "kind"] and len(out) == 1 + len(noisylabels.list_losses())
    assert any(line.split()[:3] == ["gce", "active", "q=0.7"] for line in out)
    command("losses").main(["--dataset", "cifar100", "--noise", "sym", "--rate", "0.4"])
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["nce+rce"].split()[1:] == ["alpha=10", "beta=0.1", "(ma2020)"]  # Ma et al.'s CIFAR-100 values
    assert "tau=10" in rows["phuber-ce"] and "refused: q must be in (0, 1] for gce, got 3" in rows["gce+aul"]
    with pytest.raises(SystemExit) as e:
        command("losses").main(["--dataset", "cifar100", "--noise", "sym"])
    assert e.value.code == 2 and "--noise sym needs --rate" in capsys.readouterr().err
