"""device_check.py --quick on the CPU: every step runs and says so, the tiled data set has the official layout, the
killed run resumes to the unbroken one. Its numbers mean nothing; that it runs keeps the GPU check from rotting."""
import json
import os
import pickle
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository


def test_the_quick_device_check_runs_every_step(tmp_path):
    out = tmp_path / "dc"
    p = subprocess.run([sys.executable, os.path.join(HERE, "device_check.py"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    results = json.load(open(out / "results.json"))
    assert list(results) == ["tests", "bench", "epochs", "jobs", "resume"]
    assert all(v["ok"] for v in results.values()), results
    assert "tests collected" in results["tests"]["said"]  # quick: the GPU tests collected, not run
    assert results["bench"]["plain"]["cnn8"]["images_per_s"] > 0 and (out / "bench_plain.json").exists()
    assert results["epochs"]["ma2020-cnn8"]["epoch_s"] > 0
    assert results["resume"]["killed_mid_run"] and results["resume"]["same_log"] and results["resume"]["same_best"]
    table = (out / "table.md").read_text().splitlines()
    assert table[0] == "| step | result | seconds |" and len(table) == 2 + 5
    folder = out / "data" / "cifar-10-batches-py"
    sizes = [len(pickle.load(open(folder / f"data_batch_{i}", "rb"))["labels"]) for i in range(1, 6)]
    assert sizes == [120] * 5 and len(pickle.load(open(folder / "test_batch", "rb"))["labels"]) == 200
    assert "$ " in (out / "log.txt").read_text()  # every command, with its output


def test_a_step_past_the_budget_is_skipped_and_said(tmp_path):
    out = tmp_path / "dc"
    p = subprocess.run([sys.executable, os.path.join(HERE, "device_check.py"), "--quick", "--out", str(out),
                        "--budget-s", "0"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1
    results = json.load(open(out / "results.json"))
    assert all(not v["ok"] and v["said"] == "skipped: past the 0 s budget" for v in results.values())
