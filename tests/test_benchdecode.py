"""bench.py --decode (noisylabels/benchdecode.py): its smoke tests, the decode rows and the training they feed.

Nothing here asserts a timing: the rates are measured by bench.py, not by tests. The JPEGs are generated.
"""
import json
import types

import pytest
import torch
from PIL import Image

import bench
from noisylabels import benchdecode


def test_bench_decode_quick(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bench.main(["--decode", "--quick", "--decode-size", "64", "--out", "d.json"])
    b = json.loads((tmp_path / "d.json").read_text())
    assert [(r["workers"], r["draft"]) for r in b["decode"]] == [(0, False), (0, True)]
    assert all(r["images_per_s"] > 0 and r["per_core"] == r["images_per_s"] for r in b["decode"])
    assert len(b["profile"]) == 5 and b["machine"]["pillow"] == Image.__version__
    assert "per core" in capsys.readouterr().out


def test_bench_decode_refuses_a_missing_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        bench.main(["--decode", str(tmp_path / "nothing"), "--quick"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "no such folder" in err and len(err.strip().splitlines()) == 1


def test_bench_decode_quick_times_the_training_it_feeds(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bench.main(["--decode", "--quick", "--arch", "cnn4", "--out", "d.json"])
    b = json.loads((tmp_path / "d.json").read_text())
    fed = b["fed"]
    # --quick trains at QUICK_SIDE (the decode rows keep --decode-size), in the main process, batch 16
    assert (fed["side"], fed["workers"], fed["batch_size"], fed["classes"]) == (benchdecode.QUICK_SIDE, 0, 16, 50)
    assert [(r["arch"], r["mode"]) for r in fed["rows"]] == [("cnn4", "fed"), ("cnn4", "limit")]
    assert all(r["images_per_s"] > 0 and len(r["seconds"]) == 1 and r["seconds"][0] > 0 for r in fed["rows"])
    ips = {r["mode"]: r["images_per_s"] for r in fed["rows"]}
    assert fed["ratios"]["cnn4"]["fed/limit"] == pytest.approx(ips["fed"] / ips["limit"], abs=6e-4)
    assert all(r["images_per_s"] > 0 for r in b["decode"]) and b["settings"]["decode_size"] == 224
    out = capsys.readouterr().out
    assert "fed/limit" in out and f"{fed['ratios']['cnn4']['fed/limit']:.2f}x" in out
    assert out.index("per core") < out.index("fed/limit") < out.index("-> d.json")


def test_fed_rows_through_a_persistent_worker(tmp_path):
    # --quick decodes in the main process; here one worker serves the passes, each past its settling step.
    paths = benchdecode.generate_jpegs(str(tmp_path), 6, size=(80, 60))
    args = types.SimpleNamespace(workers=1, warmup=1, steps=2, repeats=2)
    cfg, how = bench.train_config(bench.parse_args(["--arch", "cnn4", "--batch-size", "4", "--device", "cpu"]),
                                  "cnn4", torch.device("cpu"))
    rows, ratio = benchdecode.measure_fed(args, "cnn4", cfg, how, paths, 16, torch.device("cpu"))
    assert [r["mode"] for r in rows] == ["fed", "limit"] and all(len(r["seconds"]) == 2 for r in rows)
    assert all(r["images_per_s"] > 0 and r["warmup_seconds"] > 0 for r in rows) and ratio > 0
    assert rows[0]["precision"] == how[0] and rows[0]["channels_last"] == how[1]
