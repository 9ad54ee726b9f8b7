"""The noise models past sym and asym: pairflip's and human-matched's exact counts, uniform's rate over seeds, label
files in every format and their refusals, the labels.npy round trip, the adversarial warning, the grid's rates."""
import csv
import json
import os
import re

import numpy as np
import pytest
import torch

from noisylabels import config
from noisylabels import grid
from noisylabels import labelfile
from noisylabels import noise
from noisylabels import presets
from noisylabels import train
from noisylabels.fetch import checksum
from helpers import compute, grid_list, human_table, snapshot


def labels_of(sizes):
    return np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)


@pytest.mark.parametrize("rate", [0.0, 0.13, 0.5, 0.77, 1.0])
def test_pairflip_sends_exactly_round_rate_n_of_each_class_to_the_next(rate):
    sizes = [7, 0, 31, 12, 50]
    y = labels_of(sizes)
    noisy, T_ = noise.make_noisy_labels(y, "pairflip", rate, seed=3, num_classes=5)
    for c, n in enumerate(sizes):
        got = np.bincount(noisy[y == c], minlength=5)
        want = np.zeros(5, dtype=int)
        want[(c + 1) % 5], want[c] = round(rate * n), n - round(rate * n)
        assert (got == want).all(), c
    assert T_[4, 0] == pytest.approx(round(rate * 50) / 50)  # the last class wraps to the first


def test_uniform_resamples_from_every_class_itself_included():
    """The changed fraction's mean over 30 seeds is rate (C - 1) / C, its spread over seeds binomial's."""
    y, C, r = labels_of([1000] * 10), 10, 0.5
    got = np.array([(noise.make_noisy_labels(y, "uniform", r, s, C)[0] != y).mean() for s in range(30)])
    p, sd = r * (C - 1) / C, np.sqrt(r * (C - 1) / C * (1 - r * (C - 1) / C) / len(y))
    assert abs(got.mean() - p) < 4 * sd / np.sqrt(30)
    assert 0.6 < got.std(ddof=1) / sd < 1.45  # chi-square with 29 degrees of freedom: 0.66..1.33 holds 99 %
    assert noise.expected_rate("uniform", r, C) == pytest.approx(0.45)
    noisy, _ = noise.make_noisy_labels(y, "uniform", 1.0, 0, C)
    assert 0.07 < (noisy == y).mean() < 0.13  # at rate 1 a tenth keep their class by chance, as DivideMix's do


def test_human_matched_has_the_human_counts_in_every_cell_on_other_images():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2000)
    table = human_table(y)
    human, Th = noise.human_noisy_labels(table, "worse", y, 10)
    cfg = {"noise": "human-matched", "human_label": "worse", "dataset": "cifar10", "seed": 4}
    d = type("D", (), {"y_train": y, "classes": list(range(10)), "x_train": None})
    noisy, Tm, _ = noise.noisy_labels(cfg, d, human=table)
    counts = lambda a: np.histogram2d(y, a, bins=[np.arange(11)] * 2)[0]  # noqa: E731
    assert (counts(noisy) == counts(human)).all() and np.allclose(Tm, Th)
    assert (noisy != human).mean() > 0.3  # the same counts, mostly on other images
    again, _, _ = noise.noisy_labels(cfg, d, human=table)
    assert (again == noisy).all()


@pytest.mark.parametrize("kind,rate,warned", [("sym", 0.9, False), ("sym", 0.95, True), ("asym", 0.5, False),
                                              ("asym", 0.6, True), ("pairflip", 0.55, True), ("uniform", 1.0, False),
                                              ("idn", 0.5, False), ("idn", 0.6, True)])
def test_adversarial_rates_are_said(kind, rate, warned):
    assert (noise.adversarial(kind, rate, np.eye(10)) is not None) == warned


def test_adversarial_human_labels_are_said_from_their_matrix():
    T_ = np.full((3, 3), 0.2) + np.diag([0.4, 0.4, -0.1])  # class 2 keeps 10 %, and 20 % go to each other class
    assert "in 1 of 3 classes another label outnumbers the true one (first: class 2, 10.0 % kept)" in \
        noise.adversarial("human-matched", 0.0, T_)
    assert noise.adversarial("file", 0.0, np.eye(3)) is None


def write_formats(tmp, y):
    """The same labels in every format a user will have; name -> (path, --labels-key or None)."""
    np.save(tmp / "a.npy", y)
    np.savez(tmp / "b.npz", noisy=y, clean=y)
    torch.save(torch.from_numpy(y), tmp / "c.pt")
    torch.save({"clean_label": y, "worse_label": y}, tmp / "d.pt")  # CIFAR-N's layout: numpy arrays in a dict
    order = np.random.default_rng(0).permutation(len(y))
    with open(tmp / "e.csv", "w", newline="") as f:
        csv.writer(f).writerows([["index", "label"]] + [[i, y[i]] for i in order])
    json.dump(y.tolist(), open(tmp / "f.json", "w"))  # DivideMix's and eps-softmax's noise files
    np.save(tmp / "g.npy", y[:, None].astype(np.float32))  # [N, 1] floats, as some code bases keep them
    return {"npy": ("a.npy", None), "npz": ("b.npz", "noisy"), "pt": ("c.pt", None), "cifar-n": ("d.pt", "worse_label"),
            "csv": ("e.csv", None), "json": ("f.json", None), "column": ("g.npy", None)}


def test_every_format_reads_back(tmp_path):
    y = np.random.default_rng(1).integers(0, 10, 300)
    for name, (f, key) in write_formats(tmp_path, y).items():
        assert (labelfile.read(str(tmp_path / f), key) == y).all(), name


@pytest.mark.slow
def test_a_runs_labels_train_the_same_run_again(cifar_dir, tmp_path):
    # cnn4: the labels are tested, not the network
    base = ["--data-dir", cifar_dir, "--out", str(tmp_path), "--arch", "cnn4", "--epochs", "2", "--batch-size", "32",
            "--seed", "5", *compute(precision="fp32")]
    first = train.run(config.parse_args(base + ["--noise", "pairflip", "--rate", "0.3"]))
    labels, clean = np.load(os.path.join(first, "labels.npy")), np.load(os.path.join(first, "clean_labels.npy"))
    assert (labels != clean).mean() == pytest.approx(0.3, abs=0.01)
    again = train.run(config.parse_args(base + ["--noise", "file", "--labels", os.path.join(first, "labels.npy")]))
    sha = checksum(os.path.join(first, "labels.npy"), "sha256")
    assert again.endswith(os.path.join(f"file-labels_{sha[:8]}", "ce", "seed5"))
    rows = [list(csv.DictReader(open(os.path.join(d, "log.csv")))) for d in (first, again)]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in rows[0]] == \
           [{k: v for k, v in r.items() if k != "seconds"} for r in rows[1]]
    cfg = json.load(open(os.path.join(again, "config.json")))
    assert cfg["facts"]["labels_sha256"] == sha
    # Changed labels under the same name are another run, in another folder; the first is left as it was.
    before = open(os.path.join(again, "log.csv")).read()
    y = np.load(os.path.join(first, "labels.npy"))
    y[:10] = (y[:10] + 1) % 10
    np.save(os.path.join(first, "labels.npy"), y)
    other = train.run(config.parse_args(base + ["--noise", "file", "--labels", os.path.join(first, "labels.npy"),
                                                "--epochs", "1"]))
    assert other != again and open(os.path.join(again, "log.csv")).read() == before


@pytest.mark.slow
def test_a_warning_line_and_config_json_for_adversarial_labels(cifar_dir, tmp_path, capsys):
    train.main(["--data-dir", cifar_dir, "--out", str(tmp_path), "--arch", "cnn4", "--epochs", "1", "--noise", "asym",
                "--rate", "0.7", "--batch-size", "64", *compute(precision="fp32")])
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(said) == 1 and "adversarial rather than noisy" in said[0]
    run = os.path.join(tmp_path, "cifar10", "asym-0.7", "ce", "seed42")
    assert "asym at rate 0.7 is past 0.5" in json.load(open(os.path.join(run, "noise.json")))["warning"]


def bad_files(tmp, n):
    y = np.arange(n) % 10
    np.save(tmp / "short.npy", y[:-1])
    np.save(tmp / "range.npy", np.where(np.arange(n) == 7, 10, y))
    np.savez(tmp / "two.npz", a=y, b=y)
    open(tmp / "labels.txt", "w").write("1\n")
    open(tmp / "broken.json", "w").write("[1, 2,")
    with open(tmp / "gap.csv", "w") as f:
        f.write("".join(f"{i},{y[i]}\n" for i in range(1, n)) + f"{n},0\n")


BAD = [(["--noise", "file"], r"--noise file needs --labels PATH"),
       (["--labels", "short.npy"], r"--labels only applies to --noise file"),
       (["--noise", "file", "--labels", "nowhere.npy"], r"--labels \S*nowhere.npy: no such file"),
       (["--noise", "file", "--labels", "labels.txt"], r"unknown format '.txt'; label files are .npy"),
       (["--noise", "file", "--labels", "short.npy", "--rate", "0.2"], r"--rate does not apply to --noise file"),
       (["--noise", "file", "--labels", "short.npy"], r"holds 299 labels but the training set has 300 images"),
       (["--noise", "file", "--labels", "range.npy"], r"holds label 10, outside 0..9 of this data set's 10 classes"),
       (["--noise", "file", "--labels", "two.npz"], r"holds several entries \(a, b\); choose one with --labels-key"),
       (["--noise", "file", "--labels", "two.npz", "--labels-key", "c"], r"--labels-key c: \S+ has no such key"),
       (["--noise", "file", "--labels", "broken.json"], r"cannot read \S+broken.json as json labels"),
       (["--noise", "file", "--labels", "gap.csv"], r"the index column must hold each of 0..299 exactly once"),
       (["--noise", "idn"], r"--noise idn needs --rate"),
       (["--noise", "idn", "--rate", "-5"], r"--rate must be in \[0, 1\], got -5"),
       (["--noise", "human-matched", "--dataset", "mnist"], r"--noise human-matched needs human labels, and mnist "),
       (["--noise", "pairflip", "--rate", "0.2", "--human-label", "worse"], r"--human-label only applies to --noise h")]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_noise_input_is_one_line_nothing_written(cifar_dir, tmp_path, monkeypatch, capsys, argv, message):
    """train.py's main in this process: its refusals are its process's (one line on stderr, exit 2), which
    test_reliability.py's table checks through real processes."""
    tmp = tmp_path / "sandbox"
    tmp.mkdir()
    bad_files(tmp, 300)
    monkeypatch.chdir(tmp)
    before = snapshot(tmp)
    with pytest.raises(SystemExit) as e:
        train.main(["--arch", "cnn8", "--device", "cpu", "--data-dir", cifar_dir, "--out", str(tmp / "results"), *argv])
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert re.search(message, err), err
    assert snapshot(tmp) == before


def test_the_grid_runs_every_noise_models_rates(tmp_path):
    env = {"IDN_RATES": "0.2 0.4", "PAIRFLIP_RATES": "0.3", "UNIFORM_RATES": "0.5", "HUMAN_MATCHED": "aggre",
           "SYM_RATES": "", "ASYM_RATES": "", "LOSSES": "ce", "SEEDS": "1", "RESULTS": str(tmp_path)}
    s = grid.settings(grid.parser().parse_args([]), env)
    dirs = [os.path.relpath(d, str(tmp_path)) for _, d, _ in grid.grid_points(s)]
    assert dirs == [os.path.join("cifar10", x, "ce", "seed1") for x in
                    ("pairflip-0.3", "uniform-0.5", "idn-0.2", "idn-0.4", "human-matched-aggre")]
    p = grid_list(tmp_path, **env)
    assert "idn: expected fraction of labels changed 0.2 -> 0.2055, 0.4 -> 0.4000" in p.stdout, p.stderr
    assert "uniform: expected fraction of labels changed 0.5 -> 0.4500" in p.stdout
    assert {"idn-0.2", "idn-0.4"} <= set(presets.study_settings("modern-cifar10"))


@pytest.mark.slow
def test_plot_draws_the_new_settings(cifar_dir, tmp_path):
    from noisylabels import plot
    for noise_args in (["--noise", "idn", "--rate", "0.4"], ["--noise", "uniform", "--rate", "0.5"]):
        train.run(config.parse_args(["--data-dir", cifar_dir, "--out", str(tmp_path), "--arch", "cnn4", "--epochs", "1",
                                     "--batch-size", "64", *noise_args, *compute(precision="fp32")]))
    plot.main([str(tmp_path), "--data-dir", cifar_dir, "--memorisation", "idn-0.4"])
    out = tmp_path / "figures" / "cifar10"
    for f in ("instance_dependence_idn-0.4.png", "transition_idn-0.4.png", "transition_uniform-0.5.png",
              "curves_idn-0.4.png", "curves_uniform-0.5.png", "accuracy_vs_rate_idn.png",
              "accuracy_vs_rate_uniform.png", "images_idn-0.4.png", "memorisation_idn-0.4.png"):
        assert (out / f).stat().st_size > 10_000, f
    assert "| loss | uniform-0.5 | idn-0.4 |" in (out / "table.md").read_text()
    rec = json.load(open(tmp_path / "cifar10" / "idn-0.4" / "ce" / "seed42" / "noise.json"))
    assert rec["expected_rate"] == pytest.approx(0.40001, abs=1e-4) and len(rec["flip_rate_percentiles"]["by_class"]) == 10
    from noisylabels import figures
    assert figures.title_of("uniform-0.5") == "uniform noise 0.5 (~45.0 % changed)"
    assert figures.title_of("idn-0.2") == "instance-dependent noise 0.2 (~20.6 % changed)"
    assert figures.title_of("human-matched-worse") == "human-matched noise (CIFAR-10N worse counts)"


def test_idn_at_rate_0_is_not_the_clean_run_and_a_file_name_is_no_rate(tmp_path):
    idn0 = config.parse_args(["--noise", "idn", "--rate", "0"])
    assert config.setting(idn0) == "idn-0.0" and noise.expected_rate("idn", 0.0, 10) == pytest.approx(0.0798, abs=1e-4)
    for kind in ("sym", "uniform", "pairflip"):
        cfg = config.parse_args(["--noise", kind, "--rate", "0"])
        assert config.setting(cfg) == "none-0.0"
    assert "idn-0.0" in presets.study_settings({"idn_rates": "0.0 0.2", "sym_rates": "0.0", "asym_rates": ""})
    np.save(tmp_path / "0.8.npy", np.zeros(3, dtype=np.int64))
    as_file = config.parse_args(["--preset", "ye2023", "--loss", "js", "--noise", "file", "--labels",
                                 str(tmp_path / "0.8.npy")])
    clean = config.parse_args(["--preset", "ye2023", "--loss", "js"])
    assert as_file["pi"] == clean["pi"]
