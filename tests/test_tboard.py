"""--tensorboard (tboard.py): the event files read back by TensorBoard's own reader hold log.csv's values and the
configuration; a resumed run has each epoch once; without the package, one line and nothing written."""
import csv
import os
import sys

import pytest

from noisylabels import config
from noisylabels import tboard
from noisylabels import train
from helpers import compute

pytest.importorskip("tensorboard", reason="tensorboard is not installed: pip install tensorboard (CI installs it)")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402


def args(cifar_dir, out, *extra):
    return ["--data-dir", cifar_dir, "--out", str(out), "--arch", "cnn4", "--batch-size", "64", "--noise", "sym",
            "--rate", "0.4", "--tensorboard", *compute(precision="fp32"), *extra]


def events(run):
    ea = EventAccumulator(os.path.join(run, "tb"))
    ea.Reload()
    return ea


@pytest.mark.slow
def test_the_events_hold_every_epochs_values_and_the_configuration(cifar_dir, tmp_path):
    run = train.run(config.parse_args(args(cifar_dir, tmp_path, "--epochs", "2")))
    run = train.run(config.parse_args(args(cifar_dir, tmp_path, "--epochs", "3", "--resume", "--force")))
    with open(os.path.join(run, "log.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    ea = events(run)
    assert set(ea.Tags()["scalars"]) == set(tboard.TAGS.values())
    for col, tag in tboard.TAGS.items():
        got = [(e.step, e.value) for e in ea.Scalars(tag)]
        assert [s for s, _ in got] == [1, 2, 3], tag  # each epoch once, the resumed run's too
        assert [v for _, v in got] == pytest.approx([float(r[col]) for r in rows], rel=1e-6), tag  # float32
    start = plugin_data_pb2.HParamsPluginData.FromString(
        ea.PluginTagToContent("hparams")["_hparams_/session_start_info"]).session_start_info.hparams
    assert start["loss"].string_value == "ce" and start["rate"].number_value == 0.4
    assert start["epochs"].number_value == 2 and start["arch"].string_value == "cnn4"  # as it started; --force is config.json's


def test_without_tensorboard_one_line_and_nothing_written(cifar_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as where it is not installed
    with pytest.raises(SystemExit) as e:
        train.main(args(cifar_dir, tmp_path, "--epochs", "1"))
    assert e.value.code == 2 and e.value.message == "error: --tensorboard needs the tensorboard package: pip install " \
                                                    "tensorboard, or leave --tensorboard out"
    assert os.listdir(tmp_path) == []
