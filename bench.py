"""Training throughput in images/s: the suite against a typical input pipeline, and against its own limit.

For each architecture, at one batch size, three ways of running the same training:
  baseline  a DataLoader over uint8 HWC images transformed one at a time on the CPU (PIL pad+crop and flip,
            to-tensor, normalise), fp32, NCHW, reading the loss and accuracy every batch: how typical
            CIFAR code trains;
  suite     engine.train_epoch itself, the code a run executes, on images already on the device;
  limit     the suite's training step (engine.Step) repeated on one ready device batch: no data handling.
The images are random: throughput does not depend on what they show, and no dataset is needed.

--decode measures the streaming path instead (noisylabels/stream.py), in noisylabels/benchdecode.py: JPEGs decoded,
cropped and resized to S x S, in images/s per worker core, and the training rate the stream feeds against its limit.
"""
import argparse
import datetime
import os
import platform
import random
import sys
import time

import numpy as np
import torch
from PIL import Image, ImageOps

from noisylabels import benchdecode
from noisylabels import config
from noisylabels.errors import Parser, UserError, die
from noisylabels import data
from noisylabels import engine
from noisylabels import stream
from noisylabels.atomic import save_json
from noisylabels.model import ARCHS

# images_per_s: from the median of the timed turns; seconds: each turn's time for --steps steps.
# The CPU flags that decide its speed here: AVX-512 and native bf16 (what --precision auto looks for).
ISA_FLAGS = ["avx2", "avx512f", "avx512_bf16", "amx_bf16"]
BOTH = ("resnet18", "cnn8")  # the report's network and Ma et al.'s CIFAR-10 CNN
COLUMNS = benchdecode.COLUMNS  # the fed rows of --decode have the same columns


def parser():
    p = Parser(prog="bench.py", description="Measure training throughput: baseline, suite and limit.")
    a = p.add_argument
    a("--arch", default="both", choices=["both", *ARCHS], help="model to measure; both: resnet18 and cnn8 "
                                                               "(default: both)")
    a("--steps", type=int, default=10, help="timed training steps per turn (default: 10)")
    a("--warmup", type=int, default=3, help="untimed steps of each mode before the timing (default: 3)")
    a("--repeats", type=int, default=3, help="timed turns per mode, taken in rotation; the median counts "
                                             "(default: 3)")
    a("--batch-size", type=int, default=128, help="training batch size (default: 128)")
    a("--workers", type=int, default=2, help="the baseline DataLoader's worker processes (default: 2)")
    a("--augment", action=argparse.BooleanOptionalAction, default=True,
      help="random crop and flip in every mode, per image in the baseline (default: on)")
    a("--quick", action="store_true", help="a smoke test for CI: batch 16, 2 steps, 1 warm-up, 1 turn, 0 workers; "
                                           "its numbers mean nothing (default: off)")
    a("--decode", nargs="?", const="generated", metavar="DIR",
      help="measure the streaming path's decode + crop + resize rate instead of training: over the first "
           f"{benchdecode.IMAGES} JPEGs under DIR (sorted), or, without DIR or with 'generated', over "
           f"{benchdecode.IMAGES} generated {benchdecode.WH[0]}x{benchdecode.WH[1]} JPEGs; with and without draft, in "
           f"the main process and with 1 to --workers workers, batches of {benchdecode.BATCH}; then, with --arch "
           "naming one model, its training fed by --workers workers at that size, against its step alone (default: off)")
    a("--decode-size", type=int, default=stream.SIZE, help="--decode's output side in pixels, the training crop's "
                                                           f"S (default: {stream.SIZE})")
    a("--out", default="bench.json", help="where the results go (default: bench.json)")
    config.add_compute_flags(p.add_argument)  # the suite's, exactly as train.py takes them; --deterministic applies to all
    return p


def parse_args(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.quick:
        args.batch_size, args.steps, args.warmup, args.repeats, args.workers = 16, 2, 1, 1, 0
    for key in ("steps", "warmup", "batch_size", "repeats", "decode_size"):
        if getattr(args, key) < (0 if key == "warmup" else 1):
            p.error(f"--{key.replace('_', '-')} must be at least {0 if key == 'warmup' else 1}")
    if args.workers < 0:
        p.error("--workers must be at least 0")
    return args


def sync(device):
    if device.type == "cuda":  # kernels run asynchronously: the clock is read once they are done
        torch.cuda.synchronize(device)


def timed(fn, device):
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


class PerImage(torch.utils.data.Dataset):
    """Images served one at a time as torchvision-style code does: PIL pad+crop and flip, to-tensor, normalise."""

    def __init__(self, x, y, augment):
        self.x, self.y, self.augment = x, y, augment  # x: uint8 [N, 32, 32, 3]
        spec = data.DATASETS["cifar10"]
        self.mean, self.std = torch.tensor(spec.mean).view(3, 1, 1), torch.tensor(spec.std).view(3, 1, 1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        img = Image.fromarray(self.x[i])
        if self.augment:
            img = ImageOps.expand(img, border=4, fill=0)
            dx, dy = random.randint(0, 8), random.randint(0, 8)
            img = img.crop((dx, dy, dx + 32, dy + 32))
            if random.random() < 0.5:
                img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        t = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)  # [3, 32, 32]
        return (t - self.mean) / self.std, int(self.y[i])


# Each mode is set up once and returns run(n): n training steps. measure() times the modes in turns,
# so a slow spell of a shared machine lands on all three rather than on one.

def baseline(cfg, x, y, device, workers):
    """A typical loop: DataLoader, fp32 NCHW, the running loss and accuracy read every batch."""
    torch.manual_seed(cfg["seed"])
    model = engine.model_for(cfg["arch"], data.DATASETS["cifar10"]).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    loss_fn = engine.loss_from(cfg, 10)  # CIFAR-10's classes, as the model above
    hwc = np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy())  # [N, 32, 32, 3], as torchvision stores CIFAR
    loader = torch.utils.data.DataLoader(PerImage(hwc, y.numpy(), cfg["augment"]),
                                         batch_size=cfg["batch_size"], shuffle=True, drop_last=True,
                                         num_workers=workers, pin_memory=device.type == "cuda")
    batches = iter(loader)  # one pass serves every turn: its workers start once, as in a real epoch

    def run(n):
        running, correct = 0.0, 0
        for _ in range(n):
            xb, yb = next(batches)
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()
            correct += (logits.argmax(1) == yb).sum().item()
    return run


def suite(cfg, x, y, device, workers=None):
    """engine.train_epoch itself, each turn one epoch over n batches of images already on the device."""
    step, B = engine.make_step(cfg, device), cfg["batch_size"]
    x, y = x.to(device), y.to(device)
    epochs = iter(range(1_000_000))

    def run(n):
        engine.train_epoch(step, x[: n * B], y[: n * B], y[: n * B], B,
                          engine.epoch_generators(0, next(epochs), device), cfg["augment"])
    return run


def limit(cfg, x, y, device, workers=None):
    """The suite's Step alone, on one batch already normalised and laid out on the device."""
    step, B = engine.make_step(cfg, device), cfg["batch_size"]
    step.model.train()
    xb, yb = engine.inputs(x[:B].to(device), step.fmt, step.spec), y[:B].to(device)

    def run(n):
        for _ in range(n):
            step(xb, yb)
    return run


def machine(device):
    """The machine a measurement was taken on; cpu_flags is None where the CPU's flags cannot be read."""
    flags = engine.cpu_flags()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_bf16": engine.cpu_has_bf16(),
            "cpu_flags": [f for f in ISA_FLAGS if f in flags] if flags else None, "cpuinfo": engine.cpuinfo_path(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "torch": torch.__version__, "date": datetime.date.today().isoformat()}


def archs(args):
    return BOTH if args.arch == "both" else [args.arch]


def train_config(args, arch, device):
    """The configuration the suite's rows train `arch` with (train.py's, from bench's compute flags), and how it
    computes: (the precision used, channels_last, compile)."""
    flags = ["--arch", arch, "--batch-size", str(args.batch_size), "--device", device.type,
             "--precision", args.precision, "--augment" if args.augment else "--no-augment",
             "--channels-last" if args.channels_last else "--no-channels-last"] + ["--compile"] * args.compile
    cfg = config.parse_args(flags)
    used = "bf16" if engine.amp_dtype(cfg["precision"], device) else "fp64" if cfg["precision"] == "fp64" else "fp32"
    return cfg, (used, args.channels_last, args.compile)


def measure(args, device):
    """Every (arch, mode) row, and the ratios suite/baseline and suite/limit per arch."""
    rows, ratios = [], {}
    # Between its turns the baseline's workers fill their queue (2 batches each); untimed steps drain it
    # before each timed turn, so no turn starts with batches made in the others' time.
    settle = {"baseline": 2 * args.workers, "suite": 0, "limit": 0}
    n = (args.warmup + args.repeats * (args.steps + settle["baseline"])) * args.batch_size
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen)  # [N, 3, 32, 32]
    y = torch.randint(0, 10, (n,), generator=gen)
    for arch in archs(args):
        cfg, ours = train_config(args, arch, device)
        how = {"baseline": ("fp32", False, False), "suite": ours, "limit": ours}
        runs = {mode: fn(cfg, x, y, device, args.workers) for mode, fn in
                [("baseline", baseline), ("suite", suite), ("limit", limit)]}
        # The warm-up pays for first-call costs: allocator, kernel choice, and compilation with --compile.
        warm = {mode: timed(lambda: run(args.warmup), device) if args.warmup else 0.0 for mode, run in runs.items()}
        turns = {mode: [] for mode in runs}
        for _ in range(args.repeats):
            for mode, run in runs.items():
                if settle[mode]:
                    run(settle[mode])
                turns[mode].append(timed(lambda: run(args.steps), device))
        ips = {}
        for mode, secs in turns.items():
            ips[mode] = args.steps * args.batch_size / float(np.median(secs))
            rows.append(dict(zip(COLUMNS, [arch, mode, round(ips[mode], 2), [round(t, 3) for t in secs],
                                           round(warm[mode], 3), *how[mode]])))
            print(f"  {arch:<9} {mode:<9} {ips[mode]:10.1f} images/s", file=sys.stderr)
        del runs  # the baseline's DataLoader workers go with it
        ips = {r["mode"]: r["images_per_s"] for r in rows if r["arch"] == arch}  # the values shown
        ratios[arch] = {"suite/baseline": round(ips["suite"] / ips["baseline"], 3),
                        "suite/limit": round(ips["suite"] / ips["limit"], 3)}
    return rows, ratios


def out_of_memory(e, args):
    if not isinstance(e, engine.OOM) and "alloc" not in str(e):  # CPU allocators say so in a RuntimeError
        raise e
    die(f"out of memory at --batch-size {args.batch_size} with --steps {args.steps} and --repeats "
        f"{args.repeats}; lower them")


def main(argv=None):
    try:
        args = parse_args(argv)
        device = engine.pick_device(args.device)
    except UserError as e:
        die(f"{e}")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):  # said now, not after minutes of timing
        die(f"cannot write {args.out} (no writable folder {folder}); choose a writable --out")
    engine.set_determinism(args.deterministic)
    info = machine(device)
    if args.decode:
        listed = "flags unknown" if info["cpu_flags"] is None else " ".join(info["cpu_flags"]) or "no AVX2"
        print(f"{info['cpu']} ({listed}), {info['cpu_count']} cores, torch {info['torch']}, "
              f"Pillow {Image.__version__}")
        info["pillow"] = Image.__version__
        try:
            # The training it feeds only for a model named: the default pair is CIFAR's, hours at 224 px on a CPU.
            configs = {arch: train_config(args, arch, device) for arch in archs(args)} if args.arch != "both" else {}
            return benchdecode.main(args, info, configs, device)
        except UserError as e:
            die(f"{e}")
        except (engine.OOM, RuntimeError) as e:
            out_of_memory(e, args)
    listed = "flags unknown" if info["cpu_flags"] is None else " ".join(info["cpu_flags"]) or "no AVX2"
    print(f"{info['cpu']} ({listed}), {info['torch_threads']} threads, "
          f"bf16 units: {'yes' if info['cpu_bf16'] else 'no'}, "
          f"GPU: {info['gpu'] or 'none'}, torch {info['torch']}; batch {args.batch_size}, {args.repeats} turn(s) "
          f"of {args.steps} steps per mode")
    try:
        rows, ratios = measure(args, device)
    except (engine.OOM, RuntimeError) as e:
        out_of_memory(e, args)
    print(f"{'arch':<9} {'mode':<9} {'images/s':>10} {'precision':>9} {'suite/baseline':>15} {'suite/limit':>12}")
    for r in rows:
        q = ratios[r["arch"]]
        extra = f"{q['suite/baseline']:14.2f}x {q['suite/limit']:11.2f}x" if r["mode"] == "suite" else ""
        print(f"{r['arch']:<9} {r['mode']:<9} {r['images_per_s']:10.1f} {r['precision']:>9} {extra}")
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    try:
        save_json(args.out, {"machine": info, "settings": settings, "rows": rows, "ratios": ratios})
    except OSError as e:
        die(f"cannot write {args.out} ({e.strerror or e}); choose a writable --out")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
