"""bench.py --decode: the streaming path's rate (stream.py), and the training rate it feeds.

This module owns that mode's measurement, table and JSON; bench.py owns the flags, the machine line and the
training configuration it hands over. Two measures, over the same JPEGs (generated, or the first ones of a folder):
  decode  JPEGs decoded, cropped and resized to S x S (the training crop, with and without JPEG draft decoding), in
          images/s per worker core, for the main process alone and for 1 to --workers DataLoader workers, with a
          cProfile top 5 of one process's decode;
  fed     training fed by the stream as a real-world run is (streamdata.StreamSplit.fit): a persistent loader with
          --workers workers, each batch moved to the device, colour-jittered there and trained on by engine.fit;
          against its limit, the same training step alone on one ready batch. fed/limit near 1: the stream keeps
          the model busy; well under 1: the decode (or the hand-over) holds training back.
"""
import cProfile
import glob
import os
import pstats
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

from . import batches
from . import engine
from . import stream
from . import streamdata
from .atomic import save_json
from .errors import UserError, die

IMAGES, QUICK_IMAGES, WH = 200, 24, (500, 375)  # the JPEGs measured (--quick's); generated ones' size
BATCH = 32  # the decode rows' batch; the fed rows take --batch-size, as training does
# The fed rows train a WebVision-mini model (streamdata.spec_of): 50 classes, ImageNet's mean and std. Only the
# classifier's width depends on the classes (50 against ImageNet's 1000: under 2 % of a ResNet-50's work).
FED_SET, FED_CLASSES = "webvision-mini", 50
QUICK_SIDE = 16  # --quick trains at no more than this side: a smoke test, whose numbers mean nothing, stays seconds
COLUMNS = ["arch", "mode", "images_per_s", "seconds", "warmup_seconds", "precision", "channels_last", "compile"]


def generate_jpegs(folder, n, size=WH):
    """n photo-like JPEGs of size (w, h), quality 90 (4:2:0, Pillow's default subsampling), about 60 KB each at
    500x375: random colour fields at three scales (8x6, 40x30, 160x120 cells) plus a little pixel noise.
    Noise alone would be far harder to decode than a photograph, a smooth field far easier."""
    rng = np.random.default_rng(0)
    w, h = size
    paths = []
    for i in range(n):
        a = 128 + rng.integers(-6, 7, (h, w, 3)).astype(np.float64)
        for cells, amp in (((8, 6), 0.8), ((40, 30), 0.35), ((160, 120), 0.2)):
            field = Image.fromarray(rng.integers(0, 256, (*cells[::-1], 3), dtype=np.uint8))
            a += amp * (np.asarray(field.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float64) - 128)
        path = os.path.join(folder, f"{i:04d}.jpg")
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def find_jpegs(folder, n):
    """The first n JPEGs under folder (recursively, sorted); UserError where there are none."""
    if not os.path.isdir(folder):
        raise UserError(f"--decode {folder}: no such folder; give a folder of JPEGs, or no value for generated ones")
    found = sorted(p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                   if p.lower().endswith((".jpg", ".jpeg")) and os.path.isfile(p))
    if not found:
        raise UserError(f"--decode {folder}: no .jpg or .jpeg file under it")
    return found[:n]


def decode_rates(paths, size, workers, repeats):
    """{draft: (images/s, each turn's seconds)} of stream.loader over paths with training crops, draft off and
    on: one untimed pass each (workers start, files enter the page cache), then `repeats` timed passes each, a
    new epoch's crops every pass (the same crops for both), taken in turns whose order alternates (off on, on
    off, ...) so that a slow spell of a shared machine falls on both alike; the median pass counts."""
    loaders = {}
    for draft in (False, True):
        ds = stream.ImageList([(p, 0) for p in paths], train=True, size=size, draft=draft)
        loaders[draft] = stream.loader(ds, stream.epoch_order(len(ds), 0, 0), BATCH, workers,
                                       persistent=True, pin_memory=False)
    secs, count = {False: [], True: []}, 0
    for epoch in range(repeats + 1):
        for draft in (False, True) if epoch % 2 else (True, False):
            dl = loaders[draft]
            stream.next_epoch(dl, stream.epoch_order(len(paths), 0, epoch), epoch)
            t0 = time.perf_counter()
            count = sum(len(x) for x, _, _ in dl)
            if epoch:
                secs[draft].append(time.perf_counter() - t0)
    del loaders, dl  # their persistent workers end with them
    return {draft: (count / float(np.median(t)), t) for draft, t in secs.items()}


def decode_profile(paths, size, top=5):
    """cProfile's top functions by own time over one in-process pass with draft: [(name, ms per image, share)]."""
    ds = stream.ImageList([(p, 0) for p in paths], train=True, size=size, draft=True)
    prof = cProfile.Profile()
    prof.enable()
    for i in range(len(ds)):
        ds[(1, i)]
    prof.disable()
    stats = pstats.Stats(prof).stats  # {(file, line, name): (calls, primitive calls, own time, cumulative, callers)}
    total = sum(v[2] for v in stats.values())
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    name = lambda k: k[2] if k[0] == "~" else f"{os.path.basename(k[0])}:{k[1]}({k[2]})"  # noqa: E731
    return [(name(k), round(1e3 * v[2] / len(ds), 3), round(v[2] / total, 3)) for k, v in rows]


def measure_decode(args, paths):
    """Every (draft, workers) row: images/s, and images/s per core (the main process alone counts one core)."""
    rows, threads = [], torch.get_num_threads()
    torch.set_num_threads(1)  # the main process decodes as a worker does (DataLoader gives each one thread)
    for workers in range(args.workers + 1):
        for draft, (ips, secs) in decode_rates(paths, args.decode_size, workers, args.repeats).items():
            rows.append({"workers": workers, "draft": draft, "images_per_s": round(ips, 1),
                         "per_core": round(ips / max(workers, 1), 1), "seconds": [round(t, 3) for t in secs]})
            print(f"  {workers} worker(s), draft {'on ' if draft else 'off'} {ips:8.1f} images/s", file=sys.stderr)
    profile = decode_profile(paths, args.decode_size)
    torch.set_num_threads(threads)  # the fed rows train as a run does, on all of torch's threads
    return rows, profile


def sync(device):
    if device.type == "cuda":  # kernels run asynchronously: the clock is read once they are done
        torch.cuda.synchronize(device)


def measure_fed(args, arch, cfg, how, paths, side, device):
    """The fed and limit rows of one model (bench.py's row columns) and fed/limit, its steps timed in turns."""
    spec = streamdata.spec_of({"dataset": FED_SET, "image_size": side}, range(FED_CLASSES))
    step, B, W = engine.make_step(cfg, device, spec), cfg["batch_size"], args.workers
    labels = np.random.default_rng(0).integers(0, FED_CLASSES, len(paths))  # any labels train at the same speed
    ds = stream.ImageList(list(zip(paths, labels)), train=True, size=side, draft=True)  # a run's training crops
    y = torch.from_numpy(ds.labels).to(device)
    dl = stream.loader(ds, stream.epoch_order(len(ds), 0, 0), B, W, persistent=True)  # as StreamSplit.fit's
    epochs = iter(range(1, 1_000_000))

    def fed(n, settle):
        """Seconds of n steps fed by the loader, after `settle` untimed ones in the same pass. A pass starts with
        the workers idle: each has its first batch to decode before anything arrives, and then all come at once.
        The first W steps take those, so the timed ones see the stream as it flows in the middle of an epoch."""
        epoch = next(epochs)  # a fresh order and fresh crops each pass; an image repeats where the pass needs more
        stream.next_epoch(dl, np.resize(stream.epoch_order(len(ds), 0, epoch), (settle + n) * B), epoch)
        _, gen = engine.epoch_generators(0, epoch, device)
        t0 = []

        def feed():  # StreamSplit.fit's, with the clock started once the settling steps are done
            it = iter(dl)
            for i in range(settle + n):
                if i == settle:
                    sync(device)
                    t0.append(time.perf_counter())
                x, _, idx = next(it)
                x, idx = x.to(device, non_blocking=True), idx.to(device, non_blocking=True)
                yield [batches.colour_jitter(x, gen)], idx  # --jitter's, on the device, as a run with --augment
            next(it, None)  # the pass is over: its iterator ends as a for loop's would
        engine.fit(step, feed(), y, y, settle + n)
        sync(device)
        return time.perf_counter() - t0[0]

    # The limit: one batch of these images' crops, already normalised and laid out on the device.
    keys = [(0, i % len(ds), i // len(ds)) for i in range(B)]
    xb = engine.inputs(torch.stack([ds[k][0] for k in keys]).to(device), step.fmt, spec, step.dtype)
    yb = y[torch.tensor([k[1] for k in keys], device=device)]

    def limit(n, _settle=0):  # nothing to settle: the batch is ready
        sync(device)
        t0 = time.perf_counter()
        for _ in range(n):
            step(xb, yb)
        sync(device)
        return time.perf_counter() - t0

    runs = {"fed": fed, "limit": limit}
    # The warm-up pays for first-call costs (allocator, kernel choice, compilation) and starts the workers.
    warm = {mode: run(args.warmup, 0) if args.warmup else 0.0 for mode, run in runs.items()}
    turns = {mode: [] for mode in runs}
    for _ in range(args.repeats):  # in rotation, so that a slow spell of a shared machine lands on both
        for mode, run in runs.items():
            turns[mode].append(run(args.steps, W))
    rows = []
    for mode, secs in turns.items():
        ips = args.steps * B / float(np.median(secs))
        rows.append(dict(zip(COLUMNS, [arch, mode, round(ips, 2), [round(t, 3) for t in secs],
                                       round(warm[mode], 3), *how])))
        print(f"  {arch:<9} {mode:<5} {ips:10.1f} images/s", file=sys.stderr)
    return rows, round(rows[0]["images_per_s"] / rows[1]["images_per_s"], 3)


def main(args, info, configs, device):
    """The --decode mode: configs is {arch: (its training cfg, (precision used, channels_last, compile))}."""
    n = QUICK_IMAGES if args.quick else IMAGES
    with tempfile.TemporaryDirectory() as tmp:
        generated = args.decode == "generated"
        paths = generate_jpegs(tmp, n) if generated else find_jpegs(args.decode, n)
        source = f"{n} generated {WH[0]}x{WH[1]} JPEGs" if generated else f"{len(paths)} JPEGs from {args.decode}"
        print(f"decode + crop + resize to {args.decode_size} px over {source}, {args.repeats} timed pass(es) each",
              file=sys.stderr)
        rows, profile = measure_decode(args, paths)
        side = min(args.decode_size, QUICK_SIDE) if args.quick else args.decode_size
        fed = {"side": side, "workers": args.workers, "batch_size": args.batch_size, "classes": FED_CLASSES,
               "device": device.type, "draft": True, "jitter": True, "rows": [], "ratios": {}}
        print(f"training fed by {args.workers} worker(s) at {side} px on {device.type}, batch {args.batch_size}, "
              f"against the step alone", file=sys.stderr)
        for arch, (cfg, how) in configs.items():
            got, ratio = measure_fed(args, arch, cfg, how, paths, side, device)
            fed["rows"] += got
            fed["ratios"][arch] = {"fed/limit": ratio}
    print(f"{'workers':>7} {'draft':>5} {'images/s':>9} {'per core':>9}")
    for r in rows:
        print(f"{r['workers'] or 'main':>7} {'on' if r['draft'] else 'off':>5} {r['images_per_s']:9.1f} "
              f"{r['per_core']:9.1f}")
    print("cProfile, one process, draft on: own time per image")
    for name, ms, share in profile:
        print(f"  {ms:7.3f} ms {100 * share:5.1f} %  {name}")
    if configs:
        print(f"training fed by the stream: {args.workers} worker(s), {side} px, batch {args.batch_size}, draft on, "
              f"colour jitter on {device.type}")
        width = max(len(arch) for arch in configs)
        print(f"{'arch':<{width}} {'mode':<5} {'images/s':>10} {'precision':>9} {'fed/limit':>10}")
        for r in fed["rows"]:
            extra = f"{fed['ratios'][r['arch']]['fed/limit']:9.2f}x" if r["mode"] == "fed" else ""
            print(f"{r['arch']:<{width}} {r['mode']:<5} {r['images_per_s']:10.1f} {r['precision']:>9} {extra}".rstrip())
    else:
        print("no training rows: name the model they train with --arch (resnet50-imagenet, the real-world sets' "
              "model, on a GPU; cnn4 at --decode-size 64 on a CPU)")
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    try:
        save_json(args.out, {"machine": info, "settings": settings, "source": source, "decode": rows,
                             "profile": [dict(zip(["function", "ms_per_image", "share"], p)) for p in profile],
                             "fed": fed})
    except OSError as e:
        die(f"cannot write {args.out} ({e.strerror or e}); choose a writable --out")
    print(f"-> {args.out}")
