"""plot.py: every figure and table from a whole generated grid plus two real tiny runs; partial grids."""
import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from noisylabels import config
from noisylabels import diagfigures
from noisylabels import figures
from noisylabels import tables
from noisylabels import plot
from noisylabels import results
from noisylabels import train
from helpers import PLOT_LOSSES as LOSSES, ROOT, accuracy, compute, write_run

SETTINGS = ["none-0.0", "sym-0.2", "sym-0.5", "sym-0.8", "asym-0.1", "asym-0.25", "asym-0.4"]


@pytest.fixture(scope="module")
def grid(tmp_path_factory, tiny_cifar_dir):
    """The report's whole grid with 2 seeds from generated logs, plus 2 real 1-epoch runs as seed 9."""
    root = str(tmp_path_factory.mktemp("results"))
    for s in SETTINGS:
        for loss in LOSSES:
            for seed in (1, 2):
                write_run(root, s, loss, seed)
    for loss in ("ce", "nce+mae"):  # cnn8, as the generated runs say: plot.py pools only runs trained alike
        train.run(config.parse_args(["--data-dir", tiny_cifar_dir, "--out", root, "--arch", "cnn8", "--epochs", "1",
                                     "--batch-size", "32", "--noise", "sym", "--rate", "0.5", "--loss", loss,
                                     "--seed", "9", *compute(device="cpu")]))
    return root


def read_table(root):
    with open(os.path.join(root, "figures", "cifar10", "table.csv"), newline="") as f:
        return {(r["model"], r["loss"], r["setting"]): r for r in csv.DictReader(f) if r["metric"] == "test_acc"}


@pytest.mark.slow
def test_every_figure_and_table_from_a_whole_grid(grid, tiny_cifar_dir):
    plot.main([grid, "--seeds", "2", "--data-dir", tiny_cifar_dir])
    files = set(os.listdir(os.path.join(grid, "figures", "cifar10")))
    expected = {"accuracy_vs_rate_sym.png", "accuracy_vs_rate_asym.png", plot.MANIFEST,
                "normalisation.png", "memorisation_sym-0.5.png", "images_sym-0.5.png", "table.md", "table.csv",
                "sample_loss_sym-0.5.png", "reliability_sym-0.5.png"}  # the last two from the real runs alone
    expected |= {f"transition_{s}.png" for s in SETTINGS if s != "none-0.0"}
    expected |= {f"curves_{s}.png" for s in SETTINGS}  # every setting's, the clean one's too
    assert files == expected
    manifest = json.load(open(os.path.join(grid, "figures", "cifar10", plot.MANIFEST)))
    assert set(manifest["files"]) == expected - {plot.MANIFEST}
    table = read_table(grid)
    # Hand-computed: seeds 1 and 2 of (sym-0.8, nfl) score 0.9 - 0.16 + 0.03 + 0.02 = 0.79 and 0.81.
    cell = table["best", "nfl", "sym-0.8"]
    assert (cell["mean"], cell["std"], cell["n"]) == ("80.0000", f"{np.std([79, 81], ddof=1):.4f}", "2")
    assert table["last", "nfl", "sym-0.8"]["mean"] == "75.0000"
    assert table["best", "ce", "sym-0.5"]["n"] == "3"  # two generated seeds and the real run
    md = open(os.path.join(grid, "figures", "cifar10", "table.md")).read()
    # Best of the sym-0.8 column (best-validation model): nfl+mae, 0.9 - 0.16 + 0.05 + 0.03 = 0.82.
    assert "| nfl+mae | " in md and "**82.00 ± 1.41**" in md


@pytest.mark.slow  # plot.main draws a folder's figures: 3 to 7 s here, no process and no training
def test_partial_grid_and_runs_in_progress(tmp_path):
    write_run(str(tmp_path), "sym-0.5", "ce", 1)
    write_run(str(tmp_path), "sym-0.5", "nce+mae", 1, finished=False)  # still running: curves only
    write_run(str(tmp_path), "asym-0.4", "ce", 1, epochs=2)
    write_run(str(tmp_path), "sym-0.5", "ce", 2, epochs=1, finished=False)  # a second seed just started
    ce_runs = [r for r in results.find_runs(str(tmp_path)) if r["setting"] == "sym-0.5" and r["loss"] == "ce"]
    x, y, sd, n = figures.mean_curve(ce_runs, "val_acc")
    assert list(x) == [1, 2, 3] and n == 2  # the new seed does not cut the curve to its one epoch
    assert y[0] == pytest.approx((0.11 + 0.12) / 2) and y[2] == pytest.approx(0.31)
    assert sd[0] == pytest.approx(0.01 / 2**0.5) and sd[2] == 0  # sample std of two seeds; one seed past epoch 1
    plot.main([str(tmp_path), "--seeds", "2"])
    files = set(os.listdir(tmp_path / "figures" / "cifar10"))
    assert {"curves_sym-0.5.png", "accuracy_vs_rate_sym.png", "accuracy_vs_rate_asym.png"} <= files
    assert "curves_asym-0.25.png" not in files
    table = read_table(str(tmp_path))
    assert ("best", "nce+mae", "sym-0.5") not in table and ("best", "ce", "asym-0.4") in table
    md = open(tmp_path / "figures" / "cifar10" / "table.md").read()
    assert "| nce+mae |  |  |" in md  # blank cells, not a crash
    assert "(n=1)" in md  # 2 seeds asked, 1 finished


@pytest.mark.slow
def test_only_losses_and_formats_restrict_the_output(grid, tmp_path):
    root = str(tmp_path / "r")
    shutil.copytree(grid, root, ignore=shutil.ignore_patterns("figures"))
    plot.main([root, "--only", "sym-0.5,none-0.0", "--losses", "ce,nce+mae", "--format", "png,pdf"])
    files = set(os.listdir(os.path.join(root, "figures", "cifar10")))
    assert {"curves_sym-0.5.png", "curves_sym-0.5.pdf", "curves_none-0.0.png", "transition_sym-0.5.pdf"} <= files
    assert not any("asym" in f for f in files)
    assert {k[1] for k in read_table(root)} == {"ce", "nce+mae"}


@pytest.mark.parametrize("argv, message", [
    ([], "no runs found"), (["--format", "bmpx"], None), (["--only", "sym-0.9"], "no runs match"),
])
def test_empty_or_unmatched_is_a_one_line_error(tmp_path, argv, message):
    if message != "no runs found":
        write_run(str(tmp_path), "sym-0.5", "ce", 1)
    with pytest.raises(SystemExit) as e:
        plot.main([str(tmp_path), *argv])
    text = e.value.message
    assert e.value.code == 2 and text.startswith("error: ") and "\n" not in text and (message or "unknown --format bmpx") in text


@pytest.mark.slow
def test_log_figures_need_no_torch(grid, tmp_path):
    root = str(tmp_path / "r")
    shutil.copytree(grid, root, ignore=shutil.ignore_patterns("figures"))
    code = f"import sys; from noisylabels import plot; plot.main([{root!r}]); assert 'torch' not in sys.modules, 'torch was imported'"
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr


@pytest.mark.slow  # plot.main draws a folder's figures: 3 to 7 s here, no process and no training
def test_human_settings_get_curves_transitions_and_columns(tmp_path):
    for setting in ("human-worse", "asym-0.4", "human-aggre"):
        for loss in ("ce", "nce+mae"):
            write_run(str(tmp_path), setting, loss, 1)
    plot.main([str(tmp_path)])
    files = set(os.listdir(tmp_path / "figures" / "cifar10"))
    assert {"curves_human-worse.png", "curves_human-aggre.png", "transition_human-worse.png",
            "transition_human-aggre.png", "accuracy_vs_rate_asym.png", "memorisation_asym-0.4.png"} <= files
    assert not any(f.startswith("accuracy_vs_rate_human") for f in files)  # a label set is not a rate
    header = open(tmp_path / "figures" / "cifar10" / "table.md").read().splitlines()[2]
    assert header == "| loss | asym-0.4 | human-aggre | human-worse |"  # CIFAR-10N's order: aggre before worse
    assert figures.title_of("human-worse") == "human noise (CIFAR-10N worse)"
    assert figures.title_of("human-noisy", "cifar100") == "human noise (CIFAR-100N noisy)"


@pytest.mark.slow  # no process and no training, but CIFAR-100's 100 x 100 transition matrix takes 10 s to draw
def test_each_data_set_is_drawn_apart_and_named(tmp_path):
    for dataset in ("cifar100", "mnist"):
        for loss in ("ce", "nce+mae"):
            write_run(str(tmp_path), "asym-0.4", loss, 1, dataset=dataset)
    write_run(str(tmp_path), "sym-0.5", "ce", 1)
    plot.main([str(tmp_path)])
    assert sorted(os.listdir(tmp_path / "figures")) == ["cifar10", "cifar100", "mnist"]
    assert "transition_asym-0.4.png" in os.listdir(tmp_path / "figures" / "cifar100")  # the 100 x 100 matrix
    md = open(tmp_path / "figures" / "cifar100" / "table.md").read()
    assert md.startswith("### CIFAR-100: test accuracy (%), best-validation model")
    assert "| loss | asym-0.4 |" in md and "sym-0.5" not in md  # no CIFAR-10 column in CIFAR-100's table
    table = list(csv.DictReader(open(tmp_path / "figures" / "mnist" / "table.csv")))
    assert {r["dataset"] for r in table} == {"mnist"} and len(table) == 4
    with pytest.raises(SystemExit) as e:
        plot.main([str(tmp_path), "--data-dir", str(tmp_path)])
    assert e.value.code == 2 and "--data-dir serves one data set" in e.value.message


def test_a_run_of_an_older_layout_is_left_out_and_named(tmp_path, capsys):
    write_run(str(tmp_path), "sym-0.5", "ce", 1, dataset=None)  # OUT/<setting>/<loss>/seed<seed>: before 2026-12-01
    write_run(str(tmp_path), "sym-0.5", "ce", 2)
    assert [r["seed"] for r in results.find_runs(str(tmp_path))] == ["2"]
    note = capsys.readouterr().err
    assert "sym-0.5/ce/seed1 is not a run of the current layout" in note and note.count("\n") == 1


def drawn(draw, root, *args):
    """The figures a figures.py function draws from the runs below root, kept open: {name: figure}."""
    figs = {}
    by_setting = {}
    for r in results.find_runs(str(root)):
        by_setting.setdefault(r["setting"], {}).setdefault(r["loss"], []).append(r)
    ds = plot.describe("cifar10", results.find_runs(str(root)))
    draw(by_setting, *args, ds, figures.loss_styles(["ce", "nce+mae"]), lambda fig, name: figs.update({name: fig}))
    return figs


def texts(fig):
    return [t.get_text() for t in fig.findobj(figures.matplotlib.text.Text)]


@pytest.mark.parametrize("clean_val, seeds", [(False, (1, 2)), (True, (1,))])
def test_curves_say_which_labels_and_draw_seed_bands(tmp_path, clean_val, seeds):
    for seed in seeds:
        for loss in ("ce", "nce+mae"):
            write_run(str(tmp_path), "sym-0.5", loss, seed, cfg={"clean_val": clean_val, "epochs": 3, "preset": "report"})
    fig = drawn(figures.curves, tmp_path)["curves_sym-0.5"]
    words = texts(fig)
    labels = "clean" if clean_val else "noisy"
    assert f"Validation accuracy ({labels} labels)" in words and "Test accuracy (clean labels)" in words
    assert "Training loss, relative to epoch 1" in words
    footer = next(t for t in words if t.startswith("Runs: "))
    assert "cnn8" in footer and "--preset report" in footer and "3 epochs" in footer
    for ax in fig.axes:  # a band (fill_between) per loss where two seeds ran, none for one
        assert len(ax.collections) == (2 if len(seeds) > 1 else 0)
    legend = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert legend == (["ce (n=2)", "nce+mae (n=2)"] if len(seeds) > 1 else ["ce", "nce+mae"])
    # Relative training loss: each run's own column over its first epoch (0.1 e + 0.01 seed), averaged.
    y = fig.axes[0].get_lines()[0].get_ydata()
    want = np.mean([[(0.1 * e + 0.01 * s) / (0.1 + 0.01 * s) for e in (1, 2, 3)] for s in seeds], axis=0)
    np.testing.assert_allclose(y, want, rtol=1e-4)
    figures.plt.close("all")


def test_accuracy_vs_rate_in_percent_with_one_rate_marked(tmp_path):
    for seed in (1, 2):
        write_run(str(tmp_path), "sym-0.4", "ce", seed)
    write_run(str(tmp_path), "sym-0.2", "nce+mae", 1)
    write_run(str(tmp_path), "sym-0.6", "nce+mae", 1)
    fig = drawn(figures.accuracy_vs_rate, tmp_path)["accuracy_vs_rate_sym"]
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == [20, 40, 60] and [t.get_text() for t in ax.get_xticklabels()] == ["20", "40", "60"]
    assert ax.get_xlabel() == "symmetric noise rate (%)"
    legend = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert legend == ["ce (one rate only)", "nce+mae"]
    ce = ax.get_lines()[0]  # the errorbar's data line
    assert ce.get_marker() == "D" and ce.get_markerfacecolor() == "none"
    assert ce.get_ydata()[0] == pytest.approx(np.mean([accuracy("sym-0.4", "ce", s, False) for s in (1, 2)]) * 100)
    figures.plt.close("all")


@pytest.mark.slow  # plot.main draws a folder's figures: 3 to 7 s here, no process and no training
def test_runs_of_other_epochs_are_refused_then_drawn_with_where(tmp_path):
    for seed, epochs in ((1, 3), (2, 3), (3, 5)):
        write_run(str(tmp_path), "sym-0.5", "ce", seed, epochs=epochs, cfg={"epochs": epochs})
    with pytest.raises(SystemExit) as e:
        plot.main([str(tmp_path)])
    msg = e.value.message
    assert e.value.code == 2 and "\n" not in msg and "epochs (3: 2 runs, 5: 1 run)" in msg and "--where epochs=3" in msg
    assert not (tmp_path / "figures").exists()  # nothing drawn
    plot.main([str(tmp_path), "--where", "epochs=3"])
    assert read_table(str(tmp_path))["best", "ce", "sym-0.5"]["n"] == "2"
    with pytest.raises(SystemExit) as e:
        plot.main([str(tmp_path), "--where", "epoch=3"])
    assert "--where epoch=3: epoch is not a key of a run's configuration; use one of docs/runs.md's" in e.value.message


@pytest.mark.slow  # plot.main draws a folder's figures: 3 to 7 s here, no process and no training
def test_one_data_set_of_mixed_runs_is_refused_and_the_others_drawn(tmp_path, capsys):
    for seed, epochs in ((1, 3), (2, 5)):  # mnist: two protocols in one table
        write_run(str(tmp_path), "sym-0.5", "ce", seed, epochs=epochs, cfg={"epochs": epochs}, dataset="mnist")
    write_run(str(tmp_path), "none-0.0", "ce", 1)  # cifar10: clean runs only, one table of one protocol
    with pytest.raises(SystemExit) as e:
        plot.main([str(tmp_path)])
    assert e.value.code == 2 and "the runs in " in e.value.message and "epochs (3: 1 run, 5: 1 run)" in e.value.message
    out, err = capsys.readouterr()
    assert "1 run drawn (2 of the 3 read left out by the refusal below)" in out
    drawn = sorted(os.listdir(tmp_path / "figures" / "cifar10"))
    assert "table.md" in drawn and "curves_none-0.0.png" in drawn and not (tmp_path / "figures" / "mnist").exists()
    # clean runs only: no setting is invented for the figures of memorisation
    assert not [f for f in drawn if f.startswith(("memorisation", "sample_loss", "reliability"))]
    assert "no memorisation, sample-loss or reliability figure for cifar10: its runs have no noisy setting" in err
    # a fact (keys.FACTS) is a key too: these runs' config.json hold no facts, so none matches
    with pytest.raises(SystemExit) as e:
        plot.main([str(tmp_path), "--where", "precision_used=bf16"])
    assert "no runs match" in e.value.message


@pytest.mark.slow  # plot.main draws a folder's figures: 3 to 7 s here, no process and no training
def test_a_value_the_loss_itself_sets_is_not_a_difference(tmp_path):
    from noisylabels import presets

    setup, where = presets.setup_values("report", "cifar10")
    base = {"preset": "report", "epochs": 3}
    write_run(str(tmp_path), "sym-0.5", "ce", 1,
              cfg={**base, "weight_decay": setup["weight_decay"], "sources": {"weight_decay": where["weight_decay"]}})
    write_run(str(tmp_path), "sym-0.5", "nfl", 1,  # its paper's weight decay of 0, as ANL's
              cfg={**base, "weight_decay": 0.0, "sources": {"weight_decay": "the loss's paper values (ANL; registry.py)"}})
    plot.main([str(tmp_path)])
    write_run(str(tmp_path), "sym-0.5", "ce", 2,  # the same loss with another weight decay asked for: not a seed
              cfg={**base, "weight_decay": 0.0, "sources": {"weight_decay": "flag"}})
    with pytest.raises(SystemExit) as e:
        plot.main([str(tmp_path)])
    assert "weight_decay (0.0: 1 run, 0.0005: 1 run)" in e.value.message


# Broken files, every setting's curves, --out and the manifest, the messages -------------------------------------

def break_two(root):
    """Three good runs and two broken ones (half-written config.json, half-written result.json): the broken paths."""
    for seed in (1, 2):
        write_run(root, "sym-0.5", "ce", seed)
    write_run(root, "sym-0.5", "nce+mae", 1)
    write_run(root, "sym-0.5", "nce+mae", 2)
    write_run(root, "sym-0.5", "ce", 3)
    bad_config = os.path.join(root, "cifar10", "sym-0.5", "ce", "seed3", "config.json")
    bad_result = os.path.join(root, "cifar10", "sym-0.5", "nce+mae", "seed2", "result.json")
    open(bad_config, "w").write('{"epochs": 2,\n')  # as a kill part-way through writing it leaves it
    open(bad_result, "w").write('{"test_acc_best": 0.8')
    return bad_config, bad_result


def test_a_broken_json_file_is_named_in_one_line_and_its_run_kept_or_left_out(tmp_path, capsys):
    bad_config, bad_result = break_two(str(tmp_path))
    open(tmp_path / "cifar10" / "sym-0.5" / "ce" / "seed1" / "noise.json", "w").write("")
    runs = results.find_runs(str(tmp_path))
    assert sorted((r["loss"], r["seed"]) for r in runs) == [("ce", "1"), ("ce", "2"), ("nce+mae", "1"), ("nce+mae", "2")]
    in_progress = next(r for r in runs if (r["loss"], r["seed"]) == ("nce+mae", "2"))
    assert in_progress["result"] is None and len(in_progress["log"]["val_acc"]) == 3  # drawn as a run in progress
    assert next(r for r in runs if (r["loss"], r["seed"]) == ("ce", "1"))["noise"] is None
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("note: cannot read ") for line in lines)
    said = {line.split()[3]: line for line in lines}
    assert said[bad_config].endswith("the run is left out: what it was trained with is unknown")
    assert "half-written or not JSON: Expecting property name" in said[bad_config]
    assert "drawn as one still in progress" in said[bad_result]
    empty_noise = str(tmp_path / "cifar10" / "sym-0.5" / "ce" / "seed1" / "noise.json")
    assert "(it is empty); the run is drawn without its noise record" in said[empty_noise]


@pytest.mark.slow  # plot.main draws a folder's figures
def test_plot_draws_the_good_runs_beside_broken_ones(tmp_path, capsys):
    bad_config, bad_result = break_two(str(tmp_path))
    plot.main([str(tmp_path)])  # returns: exit 0, no traceback
    out, err = capsys.readouterr()
    assert f"cannot read {bad_config} (" in err and f"cannot read {bad_result} (" in err
    assert "Traceback" not in err and "4 runs drawn; 1 run not read (see the notes above)" in out
    table = read_table(str(tmp_path))
    assert (table["best", "ce", "sym-0.5"]["n"], table["best", "nce+mae", "sym-0.5"]["n"]) == ("2", "1")
    assert "curves_sym-0.5.png" in os.listdir(tmp_path / "figures" / "cifar10")


def test_a_folder_of_unreadable_runs_is_a_one_line_error(tmp_path, capsys):
    write_run(str(tmp_path), "sym-0.5", "ce", 1)
    run = tmp_path / "cifar10" / "sym-0.5" / "ce" / "seed1"
    (run / "config.json").write_text("")
    with pytest.raises(SystemExit) as e:
        plot.main([str(tmp_path)])
    assert e.value.code == 2 and "\n" not in e.value.message
    assert e.value.message == f"error: no run in {tmp_path} could be read (1 run with an unreadable log.csv or " \
                              f"config.json, named above); rewrite or remove those files"
    assert f"note: cannot read {run / 'config.json'} (it is empty); the run is left out" in capsys.readouterr().err


def test_curves_are_drawn_for_every_setting_found(tmp_path):
    for setting in ("none-0.0", "sym-0.4", "sym-0.8", "asym-0.4", "idn-0.3"):
        write_run(str(tmp_path), setting, "ce", 1)
    figs = drawn(figures.curves, tmp_path)
    assert set(figs) == {"curves_none-0.0", "curves_sym-0.4", "curves_sym-0.8", "curves_asym-0.4", "curves_idn-0.3"}
    assert "CIFAR-10: training curves, symmetric noise 0.8" in texts(figs["curves_sym-0.8"])
    assert "CIFAR-10: training curves, no noise" in texts(figs["curves_none-0.0"])
    assert "Validation accuracy (clean labels)" in texts(figs["curves_none-0.0"])  # no noise: its labels are clean
    assert "Validation accuracy (noisy labels)" in texts(figs["curves_sym-0.8"])
    figures.plt.close("all")


@pytest.mark.slow  # plot.main draws a folder's figures
def test_only_picks_the_curves_and_out_holds_exactly_what_each_call_drew(tmp_path, capsys):
    root = tmp_path / "results"
    for setting in ("sym-0.4", "sym-0.8"):
        for loss in ("ce", "nce+mae"):
            write_run(str(root), setting, loss, 1, epochs=2, cfg={"epochs": 2})
    write_run(str(root), "idn-0.3", "ce", 1, cfg={"epochs": 3})  # another protocol: drawn alone with --where
    plot.main([str(root), "--only", "sym-0.8", "--out", str(tmp_path / "figs")])
    files = set(os.listdir(tmp_path / "figs" / "cifar10"))
    assert {"curves_sym-0.8.png", "transition_sym-0.8.png", "table.md", plot.MANIFEST} <= files
    assert not any("0.4" in f or "idn" in f for f in files) and not (root / "figures").exists()
    assert capsys.readouterr().out.splitlines()[-1] == f"2 runs drawn (3 of the 5 read left out by --only); figures " \
                                                       f"and tables in {tmp_path / 'figs' / 'cifar10'}"
    folder = root / "figures" / "cifar10"
    plot.main([str(root), "--where", "epochs=3"])
    assert "curves_idn-0.3.png" in os.listdir(folder)
    (folder / "my-notes.txt").write_text("mine")  # not plot.py's: never removed
    capsys.readouterr()
    plot.main([str(root), "--where", "epochs=2"])
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith("4 runs drawn (1 of the 5 read left out by --where); figures and tables in ")
    assert f"note: removed from {folder} 4 files an earlier call drew and this one did not (accuracy_vs_rate_idn.png, " \
           f"curves_idn-0.3.png, memorisation_idn-0.3.png, transition_idn-0.3.png)" in err
    files = set(os.listdir(folder))
    assert files == {"curves_sym-0.4.png", "curves_sym-0.8.png", "transition_sym-0.4.png", "transition_sym-0.8.png",
                     "accuracy_vs_rate_sym.png", "normalisation.png", "memorisation_sym-0.4.png", "table.md",
                     "table.csv", "my-notes.txt", plot.MANIFEST}
    assert "| loss | sym-0.4 | sym-0.8 |" in (folder / "table.md").read_text()  # no IDN column left behind


def test_a_manifest_removes_only_the_files_it_lists_in_its_own_folder(tmp_path):
    folder = tmp_path / "figs"
    folder.mkdir()
    for name in ("old.png", "kept.png", "mine.txt"):
        (folder / name).write_text(name)
    (tmp_path / "outside.png").write_text("x")
    json.dump({"files": ["old.png", "kept.png", "../outside.png", "missing.png"]}, open(folder / plot.MANIFEST, "w"))
    out = plot.Output(str(folder))
    (folder / "new.png").write_text("n")
    assert out.path("new.png") == str(folder / "new.png")
    out.path("kept.png")
    out.close(complete=True)
    assert sorted(os.listdir(folder)) == sorted([plot.MANIFEST, "kept.png", "mine.txt", "new.png"])
    assert (tmp_path / "outside.png").exists()
    assert json.load(open(folder / plot.MANIFEST))["files"] == ["kept.png", "new.png"]
    stopped = plot.Output(str(folder))  # a call stopped part-way lists both calls' files and removes none
    stopped.path("half.png")
    stopped.close(complete=False)
    assert json.load(open(folder / plot.MANIFEST))["files"] == ["half.png", "kept.png", "new.png"]
    assert "new.png" in os.listdir(folder)


@pytest.mark.parametrize("read, left, said", [
    (5, {"--where": 2}, "3 runs drawn (2 of the 5 read left out by --where)"),
    (1, {}, "1 run drawn"),
    (9, {"--only": 4, "--where": 4}, "1 run drawn (8 of the 9 read left out: 4 by --only, 4 by --where)"),
])
def test_the_last_line_says_what_was_drawn_and_what_each_filter_left_out(read, left, said):
    assert plot.said_drawn(read, left) == said


def test_one_seed_asked_and_one_epoch_are_said_in_the_singular(tmp_path):
    write_run(str(tmp_path), "sym-0.5", "ce", 1, epochs=1, cfg={"epochs": 1})
    runs = results.find_runs(str(tmp_path))
    tables.tables({"sym-0.5": {"ce": runs}}, plot.describe("cifar10", runs), 1, str(tmp_path))
    md = (tmp_path / "table.md").read_text()
    assert "cnn8, --preset ?, 1 epoch, seed 1" in md and "(n=k): k seeds where 1 was asked" in md


def fake_sample_losses(root, setting, loss, seed):
    """A generated run's sample_loss.npz (losses spread over 1e-5 to 50) and its AUROCs in result.json."""
    d = os.path.join(root, "cifar10", setting, loss, f"seed{seed}")
    v = np.logspace(-5, np.log10(50), 40)
    np.savez(os.path.join(d, "sample_loss.npz"), flipped=np.arange(40) >= 30, last=v, best=v)
    result = json.load(open(os.path.join(d, "result.json")))
    json.dump({**result, "train_flip_auroc_last": 0.9, "train_flip_auroc_best": 0.8},
              open(os.path.join(d, "result.json"), "w"))


@pytest.mark.parametrize("losses", [("ce",), ("ce", "nce+mae")])
def test_the_sample_loss_figure_is_sized_by_its_panels_with_a_tick_each_other_decade(tmp_path, losses):
    for loss in losses:
        write_run(str(tmp_path), "sym-0.5", loss, 1)
        fake_sample_losses(str(tmp_path), "sym-0.5", loss, 1)
    fig = drawn(diagfigures.sample_losses, tmp_path, "sym-0.5")["sample_loss_sym-0.5"]
    width = fig.get_size_inches()[0]
    assert width == pytest.approx(3.9 * len(losses) + 2.0)
    fig.canvas.draw()  # the saved canvas (bbox_inches="tight") is no wider than this: the footer wraps
    assert fig.get_tightbbox().width < width * 1.1
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == pytest.approx([1e-6, 1e-4, 1e-2, 1, 1e2])
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"$\\mathdefault{{10^{{{k}}}}}$" for k in (-6, -4, -2, 0, 2)]
    ticks = sorted([*ax.get_xticks(), *ax.xaxis.get_minorticklocs()])  # matplotlib leaves the majors out of the minors
    assert ticks == pytest.approx([10.0 ** k for k in range(-6, 3)])  # a tick at each decade
    figures.plt.close("all")


def test_an_out_that_cannot_be_written_is_a_one_line_error(tmp_path):
    write_run(str(tmp_path / "r"), "sym-0.5", "ce", 1)
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as e:
        plot.main([str(tmp_path / "r"), "--out", str(tmp_path / "file")])
    assert e.value.code == 2 and e.value.message == f"error: cannot write {tmp_path / 'file' / 'cifar10'}: Not a " \
                                                    f"directory; free space, or give --out a folder you can write to"
