"""The speed means (precision, memory layout, compile, fused optimizers) and bench.py's smoke test.

Nothing here asserts a timing: speed is measured by bench.py, not by tests.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

import bench
import helpers
from noisylabels import config
from noisylabels import data
from noisylabels import engine
from noisylabels import train
from noisylabels.errors import UserError
from noisylabels.model import make_model
from helpers import ROOT, compute
CPU = torch.device("cpu")
# bf16 keeps 8 significant bits: rounding to it moves a value by at most 2^-8 (0.4 %) of itself. cnn8
# rounds its activations to bf16 after each of its 8 weight layers, and an input laid out otherwise is
# summed in another order, which can move each of those roundings. So two bf16 forwards of the same maths
# agree within 8 x 2^-8 of the logits' scale (their largest magnitude). Measured on a CPU without bf16
# units (emulated): at most 4.4 x 2^-8, over 3 batches; on bf16 units and cuDNN not yet measured.
BF16_LOGITS = 8 * 2**-8


def step_for(*flags):
    """A cnn8 Step on the test switch's device; flags pin the precision where a test needs one."""
    return engine.make_step(config.parse_args(["--arch", "cnn8", *compute(), *flags]), torch.device(helpers.DEVICE))


def batch(n, seed):
    """n uint8 images [n, 3, 32, 32] on the switch's device."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g).to(helpers.DEVICE)


def assert_close_as(precision, a, b):
    """Logits of the same maths: fp32 up to summation order, bf16 within BF16_LOGITS of their scale."""
    if precision == "fp32":
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    else:
        torch.testing.assert_close(a.float(), b.float(), rtol=0, atol=BF16_LOGITS * b.float().abs().max().item())


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse2 avx2 avx512f avx512_bf16 amx_tile", True),
    ("fpu sse2 avx2 amx_bf16 amx_tile", True),
    ("fpu sse2 avx2 avx512f avx512bw", False),  # AVX-512 without bf16: emulated, slower than fp32
    ("fpu sse2 avx2 xavx512_bf16y", False),  # only whole flags count
])
def test_cpu_bf16_is_read_from_the_cpu_flags(tmp_path, flags, expected):
    f = tmp_path / "cpuinfo"
    f.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert engine.cpu_has_bf16(str(f)) is expected
    assert engine.cpu_has_bf16(str(tmp_path / "absent")) is False


@pytest.mark.parametrize("precision, cpu_bf16, expected", [
    ("auto", True, torch.bfloat16), ("auto", False, None), ("bf16", False, torch.bfloat16), ("fp32", True, None),
])
def test_precision_auto_follows_the_hardware(monkeypatch, precision, cpu_bf16, expected):
    monkeypatch.setattr(engine, "cpu_has_bf16", lambda: cpu_bf16)
    assert engine.amp_dtype(precision, CPU) is expected


@pytest.mark.parametrize("capability, expected", [((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16),
                                                   ((7, 0), None), ((7, 5), None)])
def test_precision_auto_on_cuda_wants_bf16_units(monkeypatch, capability, expected):
    # V100 (7.0) and T4 (7.5) only emulate bf16; Ampere (8.0) and later have it.
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert engine.amp_dtype("auto", torch.device("cuda")) is expected
    assert engine.amp_dtype("fp32", torch.device("cuda")) is None


def test_cpuinfo_variable_points_auto_at_another_file(tmp_path, monkeypatch):
    # How a whole test run makes auto resolve the other way on any machine (README, Tests).
    (tmp_path / "bf16").write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    monkeypatch.setenv("SUITE_CPUINFO", str(tmp_path / "bf16"))
    assert engine.cpu_has_bf16() and engine.amp_dtype("auto", CPU) is torch.bfloat16
    assert engine.cpu_flags() == {"fpu", "avx2", "avx512f", "avx512_bf16"}
    info = bench.machine(CPU)
    assert info["cpu_flags"] == ["avx2", "avx512f", "avx512_bf16"] and info["cpuinfo"] == str(tmp_path / "bf16")
    monkeypatch.setenv("SUITE_CPUINFO", os.devnull)  # no flags at all: fp32, and bench says it cannot tell
    assert not engine.cpu_has_bf16() and engine.amp_dtype("auto", CPU) is None and engine.cpu_flags() == set()
    assert bench.machine(CPU)["cpu_flags"] is None
    (tmp_path / "binary").write_bytes(b"flags : avx512_bf16 \xff\xfe\n")  # unreadable bytes are no error
    monkeypatch.setenv("SUITE_CPUINFO", str(tmp_path / "binary"))
    assert engine.cpu_has_bf16()


@pytest.mark.gpu
def test_bf16_step_keeps_loss_and_gradients_float32():
    step = step_for("--precision", "bf16", "--loss", "nce+rce")
    x = engine.inputs(batch(4, 0), step.fmt, step.spec)
    step.model.train()
    before = [p.detach().clone() for p in step.model.parameters()]
    grads = []
    for p in step.model.parameters():
        p.register_hook(lambda g: grads.append(g.dtype))
    logits, loss = step(x, torch.tensor([0, 1, 2, 3], device=x.device))
    assert logits.dtype == torch.bfloat16  # the model ran under autocast
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert set(grads) == {torch.float32} and all(p.dtype == torch.float32 for p in step.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, step.model.parameters()))  # it did step


@pytest.mark.gpu
def test_channels_last_changes_the_layout_not_the_maths(true_fp32):
    # SGD: Adam would blow rounding differences in near-zero gradients up to whole lr-sized steps.
    flags = ["--optimizer", "sgd", "--precision", "fp32"]
    a, b = step_for("--channels-last", *flags), step_for("--no-channels-last", *flags)
    conv = next(m for m in a.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    x = batch(8, 0)
    assert engine.inputs(x, a.fmt, a.spec).is_contiguous(memory_format=torch.channels_last)
    y = torch.arange(8, device=x.device) % 10
    for s in (a, b):
        s.model.train()
    # Same initial weights (same seed), same batch: the same forward pass up to fp32 rounding.
    (la_logits, la), (lb_logits, lb) = a(engine.inputs(x, a.fmt, a.spec), y), b(engine.inputs(x, b.fmt, b.spec), y)
    torch.testing.assert_close(la_logits, lb_logits, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(la, lb, rtol=1e-5, atol=1e-5)
    for _ in range(2):
        a(engine.inputs(x, a.fmt, a.spec), y), b(engine.inputs(x, b.fmt, b.spec), y)
    # The steps agree as a whole, not bit for bit: where a ReLU's input lies within rounding of 0, the two
    # layouts' summation orders can put it on either side, and that unit's gradient is then all or nothing.
    # Seen over 4 (seed, batch) pairs: gradients up to 0.8 % apart in L2, weights after 3 steps at most 2.0e-4.
    wa, wb = (torch.cat([p.detach().flatten() for p in s.model.parameters()]) for s in (a, b))
    assert ((wa - wb).norm() / wa.norm()).item() < 1e-3


@pytest.mark.gpu
def test_channels_last_in_bf16_agrees_to_bf16_rounding():
    # One forward and its loss. Not the gradients: BatchNorm's backward subtracts near-equal bf16 values,
    # and layouts then differ by up to a third of a gradient's scale (measured), so steps diverge.
    a, b = step_for("--channels-last", "--precision", "bf16"), step_for("--no-channels-last", "--precision", "bf16")
    x, y = batch(8, 0), torch.arange(8, device=helpers.DEVICE) % 10
    out = []
    for s in (a, b):
        s.model.train()
        with engine.autocast(x.device, s.amp):
            logits = s.model(engine.inputs(x, s.fmt, s.spec))  # [8, 10], bf16
        out.append((logits, s.loss_fn(logits, y)))
    (la, lossa), (lb, lossb) = out
    assert la.dtype == lb.dtype == torch.bfloat16
    assert_close_as("bf16", la, lb)
    # The loss (ce, float32) moves by at most twice the largest logit change: per image, its gradient in
    # the logits, softmax minus one-hot, sums to at most 2 in absolute value.
    assert lossa.dtype == torch.float32
    assert abs(lossa.item() - lossb.item()) <= 2 * BF16_LOGITS * lb.float().abs().max().item()


@pytest.mark.gpu
def test_compiled_model_is_trained_but_plain_one_is_saved():
    s = step_for("--compile")
    assert s.net is not s.model and isinstance(s.net, torch._dynamo.eval_frame.OptimizedModule)
    assert s.net._orig_mod is s.model  # the same parameters: saving s.model saves what was trained
    assert any(k.startswith("_orig_mod.") for k in s.net.state_dict())  # what saving s.net would give
    make_model("cnn8").load_state_dict(s.model.state_dict())  # strict: loads without --compile
    plain = step_for()
    assert plain.net is plain.model


@pytest.mark.parametrize("opt_name", ["adamw", "sgd"])
def test_fused_optimizers_only_on_cuda(opt_name):
    cfg = config.parse_args(["--arch", "cnn8", "--optimizer", opt_name])
    assert not engine.make_optimizer(cfg, torch.nn.Linear(2, 2), CPU)[0].defaults["fused"]
    # Only the device decides; torch also has fused kernels for CPU tensors, so this builds here.
    assert engine.make_optimizer(cfg, torch.nn.Linear(2, 2), torch.device("cuda"))[0].defaults["fused"] is True


def test_resume_keeps_fused_kernels():
    # A state saved by an unfused optimizer (a CPU run) loaded into a fused one (the same run on a GPU).
    cfg = config.parse_args(["--arch", "cnn8"])
    lin = torch.nn.Linear(3, 2)
    plain, _ = engine.make_optimizer(cfg, lin, CPU)
    lin(torch.ones(4, 3)).sum().backward()
    plain.step()
    fused, _ = engine.make_optimizer(cfg, lin, torch.device("cuda"))  # fused kernels run on CPU tensors too
    engine.load_optimizer(fused, plain.state_dict())
    assert fused.param_groups[0]["fused"] is True
    assert all(st["step"].dtype == torch.float32 and st["step"].item() == 1 for st in fused.state.values())
    fused.step()  # the fused kernel accepts the loaded state
    assert all(st["step"].item() == 2 for st in fused.state.values())


@pytest.mark.slow
@pytest.mark.gpu
def test_a_checkpoint_of_an_older_layout_is_refused_not_resumed(tiny_cifar_dir, tmp_path):
    flags = ["--data-dir", tiny_cifar_dir, "--out", str(tmp_path), "--arch", "cnn4", "--epochs", "1", "--batch-size",
             "32", *compute(precision="fp32")]
    run = train.run(config.parse_args(flags))
    os.remove(os.path.join(run, "result.json"))
    last = os.path.join(run, "last.pt")
    ck = torch.load(last, weights_only=True)
    for k in ("precision", "dataset", "stats"):  # keys that runs from before 2026-12-01 lack
        del ck["config"][k]
    torch.save(ck, last)
    with pytest.raises(UserError, match=r"last\.pt is not of the current layout \(it has no dataset, stats\)"):
        train.run(config.parse_args(flags + ["--resume"]))
    assert not os.path.exists(os.path.join(run, "result.json")) and not os.path.exists(os.path.join(run, "claim.json"))


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_predict_agrees_across_layouts_and_batch_sizes(true_fp32, precision):
    s = step_for("--precision", precision)
    x = batch(10, 1)
    a = engine.predict(s.model, x, 4, s.spec, s.amp, s.fmt)  # 3 batches: 4, 4, 2
    b = engine.predict(s.model, x, 1024, s.spec, s.amp, torch.contiguous_format)
    assert a.shape == (10, 10) and a.dtype == (torch.bfloat16 if precision == "bf16" else torch.float32)
    assert_close_as(precision, a, b)


@pytest.mark.slow
@pytest.mark.gpu
def test_bench_quick_writes_its_table(tmp_path):
    # CI's smoke test of bench.py, through its command line: both architectures, all three modes.
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), "--quick", *compute(), "--out", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    b = json.loads(out.read_text())
    assert [(r["arch"], r["mode"]) for r in b["rows"]] == [(a, m) for a in ("resnet18", "cnn8")
                                                             for m in ("baseline", "suite", "limit")]
    assert all(r["images_per_s"] > 0 and len(r["seconds"]) == 1 and r["seconds"][0] > 0 for r in b["rows"])
    assert b["settings"]["batch_size"] == 16 and b["settings"]["steps"] == 2
    assert b["machine"]["cpu_count"] == os.cpu_count() and (b["machine"]["gpu"] is None) == (helpers.DEVICE == "cpu")
    flags = engine.cpu_flags()
    assert b["machine"]["cpu_flags"] == ([f for f in bench.ISA_FLAGS if f in flags] if flags else None)
    for arch, r in b["ratios"].items():
        ips = {row["mode"]: row["images_per_s"] for row in b["rows"] if row["arch"] == arch}
        assert r["suite/baseline"] == pytest.approx(ips["suite"] / ips["baseline"], abs=6e-4)
        assert r["suite/limit"] == pytest.approx(ips["suite"] / ips["limit"], abs=6e-4)
        assert f"{r['suite/baseline']:.2f}x" in p.stdout
    suite_precision = "bf16" if engine.amp_dtype(helpers.PRECISION, torch.device(helpers.DEVICE)) else "fp32"
    assert [r["precision"] for r in b["rows"]] == ["fp32", suite_precision, suite_precision] * 2


def test_baseline_dataset_matches_the_suites_preprocessing():
    # Without augmentation, the per-image baseline and the suite's batched path feed the same numbers.
    x = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    ds = bench.PerImage(x.permute(0, 2, 3, 1).numpy(), torch.arange(5).numpy(), augment=False)
    got = torch.stack([ds[i][0] for i in range(5)])
    torch.testing.assert_close(got, engine.inputs(x, torch.contiguous_format, data.DATASETS["cifar10"]), rtol=1e-5, atol=1e-5)
    aug = bench.PerImage(x.permute(0, 2, 3, 1).numpy(), torch.arange(5).numpy(), augment=True)
    assert aug[0][0].shape == (3, 32, 32) and aug[0][1] == 0


BENCH_BAD = [
    (["--steps", "0"], "--steps must be at least 1", 2),
    (["--workers", "-1"], "--workers must be at least 0", 2),
    (["--arch", "vgg"], "invalid choice: 'vgg'", 2),
    (["--out", "no/such/folder/b.json"], "cannot write no/such/folder/b.json", 2),  # before any timing
    (["--arch", "cnn8", "--batch-size", "1000000000"], "out of memory at --batch-size 1000000000", 2),  # 126 TiB
]


@pytest.mark.parametrize("flags, message, code", BENCH_BAD)
def test_bench_bad_flags_are_one_line_errors(tmp_path, monkeypatch, capsys, flags, message, code):
    """bench.py's main in this process: its refusal is what its process prints and exits with (one case below)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        bench.main(flags)
    err = capsys.readouterr().err
    assert e.value.code == code and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (tmp_path / "bench.json").exists()


@pytest.mark.slow
def test_bench_bad_flags_through_the_command_line(tmp_path):
    flags, message, code = BENCH_BAD[0]
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), *flags], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert p.returncode == code and message in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "Traceback" not in p.stderr and not (tmp_path / "bench.json").exists()
