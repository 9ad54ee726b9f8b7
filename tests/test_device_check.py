"""device_check.py --quick on the CPU: every step runs and says so, the tiled data set has the official layout, the
killed run resumes to the unbroken one. Its numbers mean nothing; that it runs keeps the GPU check from rotting."""
import json
import pickle

import pytest

import device_check
from helpers import shared


def test_tile_writes_the_official_layout_at_the_quick_sizes(tmp_path):
    """What --quick tiles: 600 training images in 5 equal batches and 200 test images, with batches.meta."""
    device_check.tile(shared("cifar10-subset"), str(tmp_path), 600, 200)
    folder = tmp_path / "cifar-10-batches-py"
    sizes = [len(pickle.load(open(folder / f"data_batch_{i}", "rb"))["labels"]) for i in range(1, 6)]
    assert sizes == [120] * 5 and len(pickle.load(open(folder / "test_batch", "rb"))["labels"]) == 200
    assert (folder / "batches.meta").is_file()


@pytest.mark.slow  # every step runs in processes of its own
def test_the_quick_device_check_runs_every_step(tmp_path, monkeypatch, capsys):
    """main --quick in this process (each step still runs its own processes), on 320 training and 100 test images
    instead of 600 and 200 (the layout at those sizes: the test above): a third of the time, the same steps."""
    tile = device_check.tile
    monkeypatch.setattr(device_check, "tile", lambda subset, dst, n_train, n_test: tile(subset, dst, 320, 100))
    out = tmp_path / "dc"
    rc = device_check.main(["--quick", "--out", str(out), "--subset", shared("cifar10-subset")])
    said = capsys.readouterr().out
    assert rc == 0, said[-3000:]
    results = json.load(open(out / "results.json"))
    assert list(results) == ["tests", "bench", "epochs", "jobs", "resume"]
    assert all(v["ok"] for v in results.values()), results
    assert "tests collected" in results["tests"]["said"]  # quick: the GPU tests collected, not run
    assert "-m gpu" in results["tests"]["said"]  # the tests marked gpu, wherever they are
    assert results["bench"]["plain"]["cnn8"]["images_per_s"] > 0 and (out / "bench_plain.json").exists()
    assert results["epochs"]["ma2020-cnn8"]["epoch_s"] > 0
    assert results["resume"]["killed_mid_run"] and results["resume"]["same_log"] and results["resume"]["same_best"]
    table = (out / "table.md").read_text().splitlines()
    assert table[0] == "| step | result | seconds |" and len(table) == 2 + 5
    folder = out / "data" / "cifar-10-batches-py"
    sizes = [len(pickle.load(open(folder / f"data_batch_{i}", "rb"))["labels"]) for i in range(1, 6)]
    assert sizes == [64] * 5 and len(pickle.load(open(folder / "test_batch", "rb"))["labels"]) == 100
    assert "$ " in (out / "log.txt").read_text()  # every command, with its output


def test_a_step_past_the_budget_is_skipped_and_said(tmp_path, capsys):
    out = tmp_path / "dc"
    argv = ["--quick", "--out", str(out), "--subset", shared("cifar10-subset"), "--budget-s", "0"]
    assert device_check.main(argv) == 1  # in this process: with every step skipped, no process is started
    results = json.load(open(out / "results.json"))
    assert all(not v["ok"] and v["said"] == "skipped: past the 0 s budget" for v in results.values())
