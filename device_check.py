"""The device check: every GPU number docs/speed.md needs, measured in one call and written as it goes.

    python3 device_check.py --out OUT                 # on the GPU: about 8 minutes on one H200
    python3 device_check.py --quick --out /tmp/dc     # on a CPU, tiny sizes: what test_device_check.py runs

It builds a full-size CIFAR-10 (the subset's images tiled to 50,000, in the official layout: throughput does not
depend on what the images show), then runs, each step in its own processes: the tests that honour --device,
bench.py (deterministic, not, compiled), one epoch of the report's resnet18 and of ma2020's cnn8 with their peak
GPU memory, the study's throughput at JOBS_PER_GPU 1, 2 and 4, and a run killed with SIGKILL at a random
moment and resumed, compared with an unbroken one. OUT gets log.txt (every command and its output),
results.json and table.md, rewritten after every step, so a timeout still leaves what was measured; a step that
would start past --budget-s is skipped and says so.
"""
import argparse
import csv
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SUBSET = next((p for p in (os.path.join(HERE, "..", "shared", "cifar10-subset"),
                           os.path.join(HERE, "device_data", "cifar10-subset")) if os.path.isdir(p)),
              os.path.join(HERE, "device_data", "cifar10-subset"))
FOLDER = "cifar-10-batches-py"


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="device_check", help="folder of log.txt, results.json, table.md and the runs "
                                                         "(default: device_check)")
    p.add_argument("--quick", action="store_true", help="tiny sizes on the CPU, to keep the script from rotting; "
                                                        "its numbers mean nothing (default: off)")
    p.add_argument("--subset", default=SUBSET, help="the CIFAR-10 subset to tile (default: ../shared/cifar10-subset, "
                                                    "else device_data/cifar10-subset)")
    p.add_argument("--budget-s", type=float, default=480, help="no step starts after this many seconds "
                                                               "(default: 480)")
    p.add_argument("--probe", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)  # one epoch in-process: peak memory
    return p


def tile(subset, dst, n_train, n_test):
    """dst/cifar-10-batches-py: the subset's training images repeated to n_train (5 batches), test to n_test."""
    sys.path.insert(0, HERE)
    from noisylabels import data
    src = os.path.join(subset, FOLDER)
    train = [data.read_batch(os.path.join(src, b)) for b in data.TRAIN_BATCHES]
    x, y = np.concatenate([a for a, _ in train]), np.concatenate([b for _, b in train])
    xt, yt = data.read_batch(os.path.join(src, data.TEST_BATCH))
    folder = os.path.join(dst, FOLDER)
    os.makedirs(folder, exist_ok=True)
    rows = lambda a, n: np.resize(a.reshape(len(a), -1), (n, a[0].size)) if a.ndim > 1 else np.resize(a, n)  # noqa
    X, Y = rows(x, n_train), rows(y, n_train)
    for i, name in enumerate(data.TRAIN_BATCHES):
        part = slice(i * n_train // 5, (i + 1) * n_train // 5)
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({"data": X[part], "labels": Y[part].tolist()}, f, protocol=2)
    with open(os.path.join(folder, data.TEST_BATCH), "wb") as f:
        pickle.dump({"data": rows(xt, n_test), "labels": rows(yt, n_test).tolist()}, f, protocol=2)
    shutil.copy(os.path.join(src, "batches.meta"), folder)
    return dst


class Check:
    """The log, the results and the clock of one device check."""

    def __init__(self, out, budget):
        self.out, self.t0, self.budget, self.results = out, time.time(), budget, {}
        self.log = open(os.path.join(out, "log.txt"), "a", buffering=1)

    def say(self, text):
        print(text, flush=True)
        self.log.write(text + "\n")

    def run(self, cmd, env=None, timeout=None):
        """(exit status, seconds, stdout) of cmd, its output appended to log.txt as it comes."""
        self.say("$ " + " ".join(cmd))
        t, lines = time.time(), []
        p = subprocess.Popen(cmd, cwd=HERE, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            for line in p.stdout:
                lines.append(line)
                self.log.write(line)
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
        return p.wait(), time.time() - t, "".join(lines)

    def left(self):
        return self.budget - (time.time() - self.t0)

    def record(self, step, **values):
        self.results[step] = values
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=2)
        rows = ["| step | result | seconds |", "| --- | --- | --- |"]
        rows += [f"| {k} | {v.get('said', '')} | {v.get('seconds', 0):.1f} |" for k, v in self.results.items()]
        with open(os.path.join(self.out, "table.md"), "w") as f:
            f.write("\n".join(rows) + "\n")
        self.say(f"== {step}: {values.get('said', '')}")


def tests(c, ctx):
    # quick: only collected, so that the switch and the marked tests are checked without running them twice in CI
    files = ["-m", "gpu"]  # the tests marked gpu (pyproject.toml): end to end, resume, evaluate, speed
    rc, s, text = c.run([sys.executable, "-m", "pytest", "-q", "--device", ctx["device"], *files,
                         *(["--collect-only"] if ctx["quick"] else [])], timeout=c.left())
    last = (text.strip().splitlines() or ["no output"])[-1]
    return {"ok": rc == 0, "seconds": s, "said": f"pytest --device {ctx['device']} {' '.join(files)}: {last}"}


def bench(c, ctx):
    got, said, t = {}, [], time.time()
    for name, flags in [("plain", []), ("no-deterministic", ["--no-deterministic"]), ("compile", ["--compile"])]:
        if ctx["quick"] and name != "plain":
            continue
        out = os.path.join(c.out, f"bench_{name}.json")
        rc, s, _ = c.run([sys.executable, "bench.py", "--device", ctx["device"], "--out", out,
                          *(["--quick", "--arch", "cnn8"] if ctx["quick"] else []), *flags], timeout=c.left())
        if rc != 0:
            return {"ok": False, "seconds": time.time() - t, "said": f"bench.py {name} failed (exit {rc})", **got}
        rows = json.load(open(out))["rows"]
        got[name] = {r["arch"]: {"images_per_s": r["images_per_s"], "warmup_s": r["warmup_seconds"]} for r in rows
                     if r["mode"] == "suite"}
        said.append(f"{name}: " + ", ".join(f"{a} {v['images_per_s']:.0f}/s" for a, v in got[name].items()))
    return {"ok": True, "seconds": time.time() - t, "said": "; ".join(said), **got}


def probe(argv):
    """Train the run argv describes in this process; print its first epoch's seconds and the peak GPU memory."""
    sys.path.insert(0, HERE)
    import torch
    from noisylabels import config
    from noisylabels import train
    out = train.run(config.parse_args(argv))
    with open(os.path.join(out, "log.csv"), newline="") as f:
        seconds = float(next(csv.DictReader(f))["seconds"])
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if torch.cuda.is_available() else None
    print("PROBE " + json.dumps({"epoch_s": seconds, "peak_gib": peak}))


def epochs(c, ctx):
    got, t = {}, time.time()
    cases = [("ma2020", "cnn8")] if ctx["quick"] else [("report", "resnet18"), ("ma2020", "cnn8")]
    for preset, arch in cases:
        argv = ["--preset", preset, "--arch", arch, "--epochs", "1", "--data-dir", ctx["data"], "--device",
                ctx["device"], "--noise", "sym", "--rate", "0.4", "--out", os.path.join(c.out, "epochs")]
        rc, _, text = c.run([sys.executable, __file__, "--probe", *argv], timeout=c.left())
        found = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("PROBE ")]
        if rc != 0 or not found:
            return {"ok": False, "seconds": time.time() - t, "said": f"{preset} {arch} failed (exit {rc})", **got}
        got[f"{preset}-{arch}"] = found[0]
    said = "; ".join(f"{k}: {v['epoch_s']:.1f} s/epoch" + (f", peak {v['peak_gib']:.2f} GiB" if v["peak_gib"] else "")
                     for k, v in got.items())
    return {"ok": True, "seconds": time.time() - t, "said": said, **got}


def jobs(c, ctx):
    got, t = {}, time.time()
    losses = "ce" if ctx["quick"] else "ce gce sce nce+rce"
    for k in (1,) if ctx["quick"] else (1, 2, 4):
        env = {"GPUS": "0" if ctx["device"] == "cpu" else "1", "JOBS_PER_GPU": str(k), "PRESET": "ma2020",
               "LOSSES": losses, "SEEDS": "0", "SYM_RATES": "0.4", "ASYM_RATES": "", "EPOCHS": "1" if ctx["quick"]
               else "2", "RESULTS": os.path.join(c.out, f"jobs{k}"), "PYTHON": sys.executable,
               "EXTRA": f"--data-dir {ctx['data']} --device {ctx['device']}"}
        rc, s, _ = c.run(["bash", "run_grid.sh"], env=env, timeout=c.left())
        if rc != 0:
            return {"ok": False, "seconds": time.time() - t, "said": f"JOBS_PER_GPU {k} failed (exit {rc})", **got}
        got[f"jobs_per_gpu_{k}"] = {"runs": len(losses.split()), "seconds": s,
                                    "runs_per_hour": len(losses.split()) / s * 3600}
    said = "; ".join(f"{k[-1]} at once: {v['runs_per_hour']:.0f} runs/h" for k, v in got.items())
    return {"ok": True, "seconds": time.time() - t, "said": said + " (of the runs above, plot.py included)", **got}


def resume(c, ctx):
    """An unbroken run against one killed with SIGKILL at a random moment after its first epoch, then resumed."""
    import torch
    t = time.time()
    n = 2 if ctx["quick"] else 3
    base = [sys.executable, "train.py", "--preset", "ma2020", "--arch", "cnn8", "--epochs", str(n), "--noise", "sym",
            "--rate", "0.4", "--data-dir", ctx["data"], "--device", ctx["device"]]
    whole, broken = os.path.join(c.out, "whole"), os.path.join(c.out, "broken")
    rc, _, _ = c.run(base + ["--out", whole], timeout=c.left())
    run = lambda root: os.path.join(root, "cifar10", "sym-0.4", "ce", "seed42")  # noqa: E731
    log = os.path.join(run(broken), "log.csv")
    with open(os.path.join(run(whole), "log.csv"), newline="") as f:
        epoch_s = float(list(csv.DictReader(f))[1]["seconds"])
    at = random.Random().uniform(0, 0.6 * epoch_s)  # within epoch 2, which the unbroken run took epoch_s for
    for attempt in range(4):  # a run faster than the unbroken one may finish first: then again, killed earlier
        at /= 2 if attempt else 1
        shutil.rmtree(broken, ignore_errors=True)
        p = subprocess.Popen(base + ["--out", broken], cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while p.poll() is None and (not os.path.exists(log) or open(log).read().count("\n") < 2):
            time.sleep(0.05)  # until the first epoch's row is written
        time.sleep(at)
        p.send_signal(signal.SIGKILL)
        mid_run = p.wait() == -signal.SIGKILL and not os.path.exists(os.path.join(run(broken), "result.json"))
        if mid_run:
            break
    rc2, _, _ = c.run(base + ["--out", broken, "--resume"], timeout=c.left())
    rows = [[{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(open(os.path.join(run(d), "log.csv")))]
            for d in (whole, broken)]
    best = [torch.load(os.path.join(run(d), "best.pt"), weights_only=True)["model"] for d in (whole, broken)]
    same_best = best[0].keys() == best[1].keys() and all(torch.equal(best[0][k], best[1][k]) for k in best[0])
    ok = rc == 0 and rc2 == 0 and mid_run and rows[0] == rows[1] and same_best
    return {"ok": ok, "seconds": time.time() - t, "killed_after_s": at, "killed_mid_run": mid_run,
            "same_log": rows[0] == rows[1], "same_best": same_best,
            "said": f"killed {at:.1f} s after epoch 1's row{'' if mid_run else ' (too late: it had finished)'}; resumed: log.csv "
                                            f"{'identical' if rows[0] == rows[1] else 'DIFFERS'}, best.pt "
                                            f"{'identical' if same_best else 'DIFFERS'}"}


STEPS = [("tests", tests), ("bench", bench), ("epochs", epochs), ("jobs", jobs), ("resume", resume)]


def main(argv=None):
    args = parser().parse_args(argv)
    if args.probe is not None:
        return probe(args.probe)
    if not os.path.isdir(os.path.join(args.subset, FOLDER)):
        sys.exit(f"error: no {FOLDER}/ in {args.subset}; give --subset the CIFAR-10 subset's folder (on the device "
                 f"machine, copy ../shared/cifar10-subset into device_data/ and carry it)")
    os.makedirs(args.out, exist_ok=True)
    c = Check(args.out, args.budget_s)
    import torch
    device = "cpu" if args.quick or not torch.cuda.is_available() else "cuda"
    n = (600, 200) if args.quick else (50000, 10000)
    data = tile(args.subset, os.path.join(args.out, "data"), *n)
    c.say(f"device {device} ({torch.cuda.get_device_name(0) if device == 'cuda' else 'CPU'}), torch "
          f"{torch.__version__}, {n[0]} training images tiled from {args.subset}")
    ctx = {"quick": args.quick, "device": device, "data": data}
    for name, step in STEPS:
        if c.left() <= 0:
            c.record(name, ok=False, seconds=0.0, said=f"skipped: past the {args.budget_s:g} s budget")
            continue
        try:
            c.record(name, **step(c, ctx))
        except Exception as e:  # one step's failure is a result; the next steps still run
            c.record(name, ok=False, seconds=0.0, said=f"{type(e).__name__}: {e}")
    c.say(f"done in {time.time() - c.t0:.0f} s; {sum(v['ok'] for v in c.results.values())} of {len(STEPS)} steps ok")
    return 0 if all(v["ok"] for v in c.results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
