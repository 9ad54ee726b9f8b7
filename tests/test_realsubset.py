"""`data.py --dataset KIND --subset N --out DIR` of the real-world noisy sets (realsubset.py): trees written here in
each official layout (tiny JPEGs, each of its own colour, so a copy is told from another image), cut, and read back
with realnoise.read. The kept rows, the cut list files and the file counts below are worked out by hand from the
trees and subset.first_per_class's rule (N // C of each class present, one more for each of the first N % C), not
from the code. No torch, no download."""
import dataclasses
import hashlib
import io
import os

import pytest
from PIL import Image

from noisylabels import datasets
from noisylabels import realnoise
from noisylabels import realsubset
from noisylabels.errors import UserError
from noisylabels.fetch import DataError
from helpers import in_process


def write(path, text, newline="\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(line + newline for line in text))


def image(path):
    """A 4x4 JPEG whose colour comes from its path: every image's bytes differ."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    colour = tuple(hashlib.md5(str(path).encode()).digest()[:3])
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(buf, "JPEG")
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def files(folder):
    return sorted(os.path.relpath(os.path.join(r, f), folder) for r, _, fs in os.walk(folder) for f in fs)


def refusal(call, *args, error=UserError, **kw):
    with pytest.raises(error) as e:
        call(*args, **kw)
    assert "\n" not in str(e.value), str(e.value)
    return str(e.value)


def rows(root, *pairs):
    return [(f"{root}/{name}", y) for name, y in pairs]


# --- WebVision mini, with ILSVRC12 val ---

WNIDS = [f"n{99 - i:08d}" for i in range(52)]  # line i is label i; the wnids run downwards, as a trap for sorting
TRAIN = ["google/q0001/a1.jpg 0", "google/q0002/b1.jpg 1", "google/q0051/z1.jpg 50", "google/q0001/a2.jpg 0", "",
         "google/q0001/a3.jpg 0", "google/q0002/b2.jpg 1", "google/q0003/c1.jpg 2", "google/q0052/z2.jpg 51",
         "google/q0003/c2.jpg 2"]
VAL = ["val000001.jpg 0", "val000002.jpg 50", "val000003.jpg 2", "val000004.jpg 0", "val000005.jpg 1"]


@pytest.fixture
def webvision(tmp_path):
    root, ilsvrc = tmp_path / "webvision", tmp_path / "ilsvrc12-val"
    write(root / "info" / "synsets.txt", [f"{w} class{i}, alias" for i, w in enumerate(WNIDS)])
    write(root / "info" / "train_filelist_google.txt", TRAIN)
    write(root / "info" / "val_filelist.txt", VAL, newline="\r\n")  # CRLF: kept lines keep their ends
    write(root / "info" / "queries_google.txt", ["q0001 tench"])  # not read, so not written
    for row in TRAIN[:2] + TRAIN[3:4] + TRAIN[5:8] + TRAIN[9:]:
        image(root / row.split()[0])
    for row in VAL[:1] + VAL[2:]:
        image(root / "val_images_256" / row.split()[0])
    for i, w in enumerate(WNIDS[:51]):  # one image of each synset, two of line 0's; line 50's is not mini's
        image(ilsvrc / w / f"ILSVRC2012_val_{i + 1:08d}.JPEG")
    image(ilsvrc / WNIDS[0] / "ILSVRC2012_val_00000900.JPEG")
    return root, ilsvrc


def test_webvision_keeps_the_first_of_each_of_its_50_classes_and_cuts_its_val(webvision, tmp_path):
    root, _ = webvision
    out = tmp_path / "wv"
    said = realsubset.make("webvision-mini", root, out, 4, test_n=3)
    assert said.startswith(f"{out}: webvision-mini subset, 4 training, 3 test (webvision) images")
    # Mini's rows (classes < 50): a1 0, b1 1, a2 0, a3 0, b2 1, c1 2, c2 2. Four of three classes: one each, and one
    # more of class 0 (the first of the 4 % 3): a1, b1, a2, c1. Val's mini rows 1 (0), 3 (2), 4 (0), 5 (1): one each.
    with open(out / "info" / "train_filelist_google.txt", encoding="utf-8") as f:
        assert f.read().splitlines() == [TRAIN[0], TRAIN[1], TRAIN[3], TRAIN[7]]
    assert read_bytes(out / "info" / "val_filelist.txt") == b"val000001.jpg 0\r\nval000003.jpg 2\r\nval000005.jpg 1\r\n"
    assert read_bytes(out / "info" / "synsets.txt") == read_bytes(root / "info" / "synsets.txt")
    got = realnoise.read("webvision-mini", out)
    assert got.train == rows(out, ("google/q0001/a1.jpg", 0), ("google/q0002/b1.jpg", 1), ("google/q0001/a2.jpg", 0),
                             ("google/q0003/c1.jpg", 2))
    assert got.tests == {"webvision": rows(out, ("val_images_256/val000001.jpg", 0), ("val_images_256/val000003.jpg", 2),
                                           ("val_images_256/val000005.jpg", 1))}
    assert files(out) == ["SHA256SUMS", "google/q0001/a1.jpg", "google/q0001/a2.jpg", "google/q0002/b1.jpg",
                          "google/q0003/c1.jpg", "info/synsets.txt", "info/train_filelist_google.txt",
                          "info/val_filelist.txt", "val_images_256/val000001.jpg", "val_images_256/val000003.jpg",
                          "val_images_256/val000005.jpg"]
    for path, _ in got.train + got.tests["webvision"]:  # each the image it names, not another
        assert read_bytes(path) == read_bytes(str(root) + path[len(str(out)):])
    assert sorted(os.listdir(tmp_path)) == ["ilsvrc12-val", "webvision", "wv"]  # no temporary folder left


def test_webvision_with_ilsvrc12_val_cuts_it_into_the_subset(webvision, tmp_path):
    root, ilsvrc = webvision
    out = tmp_path / "wv"
    said = realsubset.make("webvision-mini", root, out, 7, imagenet_val=ilsvrc)
    assert said.endswith(f"with ILSVRC12 val in {out}/ilsvrc12-val")
    got = realnoise.read("webvision-mini", out, imagenet_val=out / "ilsvrc12-val")
    assert len(got.train) == 7 and len(got.tests["webvision"]) == 4  # all of mini's rows of both lists
    want = realnoise.read("webvision-mini", root, imagenet_val=ilsvrc).tests["ilsvrc12"]
    assert got.tests["ilsvrc12"] == [(f"{out}/ilsvrc12-val{p[len(str(ilsvrc)):]}", y) for p, y in want]
    assert len(want) == 51 and not (out / "ilsvrc12-val" / WNIDS[50]).exists()  # line 50's synset is not mini's
    m = refusal(realsubset.make, "webvision-mini", root, tmp_path / "x", 7, test_n=50, imagenet_val=ilsvrc)
    assert m.startswith("--test-subset 50 must be between 1 and the 4 images of WebVision's val (classes 0..49)")
    # --test-subset 50 of a val of one image of each class: one of each synset; label 0's second image goes.
    write(root / "info" / "val_filelist.txt", [f"v{i}.jpg {i}" for i in range(50)])
    for i in range(50):
        image(root / "val_images_256" / f"v{i}.jpg")
    realsubset.make("webvision-mini", root, tmp_path / "wv50", 7, test_n=50, imagenet_val=ilsvrc)
    cut = realnoise.read("webvision-mini", tmp_path / "wv50", imagenet_val=tmp_path / "wv50" / "ilsvrc12-val")
    assert len(cut.tests["ilsvrc12"]) == 50 and len(files(tmp_path / "wv50" / "ilsvrc12-val")) == 50
    assert not (tmp_path / "wv50" / "ilsvrc12-val" / WNIDS[0] / "ILSVRC2012_val_00000900.JPEG").exists()
    m = refusal(realsubset.make, "webvision-mini", root, tmp_path / "x", 7, test_n=3, imagenet_val=ilsvrc)
    assert m == ("--test-subset 3 is fewer than the 50 classes of WebVision's val (classes 0..49), which would leave "
                 "a class out; give 50 or more")


def test_the_same_inputs_give_the_same_bytes(webvision, tmp_path):
    root, ilsvrc = webvision
    for name in ("a", "b"):
        realsubset.make("webvision-mini", root, tmp_path / name, 5, imagenet_val=ilsvrc)
    a, b = (read_bytes(tmp_path / name / "SHA256SUMS").decode().splitlines() for name in ("a", "b"))
    assert a == b and len(a) == len(files(tmp_path / "a")) - 1
    for line in a:
        digest, name = line.split("  ")
        assert hashlib.sha256(read_bytes(tmp_path / "a" / name)).hexdigest() == digest


# --- Clothing1M ---

KV_NOISY = ["images/0/00/a.jpg 3", "images/0/00/b.jpg 3", "images/1/01/c.jpg 0", "images/1/01/d.jpg 3",
            "images/2/02/e.jpg 0", "images/5/05/v1.jpg 7", "images/9/99/x.jpg 5"]
KV_CLEAN = ["images/0/00/b.jpg 12", "images/1/01/c.jpg 1", "images/5/05/v1.jpg 7", "images/5/05/v2.jpg 7",
            "images/5/05/v3.jpg 2", "images/6/06/t1.jpg 2", "images/6/06/t2.jpg 4"]


def clothing_tree(root, ann):
    a = root / ann if ann else root
    write(a / "noisy_label_kv.txt", KV_NOISY)
    write(a / "noisy_train_key_list.txt", [f"images/{k}" for k in ("0/00/a.jpg", "0/00/b.jpg", "1/01/c.jpg",
                                                                    "1/01/d.jpg", "2/02/e.jpg")])
    write(a / "clean_label_kv.txt", KV_CLEAN)
    write(a / "clean_train_key_list.txt", ["images/0/00/b.jpg", "images/1/01/c.jpg"])
    write(a / "clean_val_key_list.txt", ["images/5/05/v1.jpg", "images/5/05/v2.jpg", "images/5/05/v3.jpg"])
    write(a / "clean_test_key_list.txt", ["images/6/06/t1.jpg", "", "images/6/06/t2.jpg"])
    if not ann:
        write(a / "category_names_eng.txt", [f"Name{i}" for i in range(14)])
    for name in ("0/00/a.jpg", "0/00/b.jpg", "1/01/c.jpg", "1/01/d.jpg", "2/02/e.jpg", "5/05/v1.jpg", "5/05/v2.jpg",
                 "5/05/v3.jpg", "6/06/t1.jpg", "6/06/t2.jpg"):
        image(root / "images" / name)


@pytest.mark.parametrize("ann", ["annotations", ""])
def test_clothing1m_cuts_its_key_lists_and_keeps_the_labels_of_the_kept_images(tmp_path, ann):
    root, out = tmp_path / "c1m", tmp_path / "sub"
    clothing_tree(root, ann)
    realsubset.make("clothing1m", root, out, 2, test_n=2)
    # Training a 3, b 3, c 0, d 3, e 0: two of two classes, a and c. Val v1 7, v2 7, v3 2: v1 and v3. Test: both.
    a = out / ann if ann else out

    def lines(name):
        with open(a / name, encoding="utf-8") as f:
            return f.read().splitlines()
    assert lines("noisy_train_key_list.txt") == ["images/0/00/a.jpg", "images/1/01/c.jpg"]
    assert lines("noisy_label_kv.txt") == [KV_NOISY[0], KV_NOISY[2], KV_NOISY[5]]  # a, c and v1: kept images only
    assert lines("clean_label_kv.txt") == [KV_CLEAN[1], KV_CLEAN[2], KV_CLEAN[4], KV_CLEAN[5], KV_CLEAN[6]]
    assert lines("clean_train_key_list.txt") == ["images/1/01/c.jpg"]
    assert lines("clean_val_key_list.txt") == ["images/5/05/v1.jpg", "images/5/05/v3.jpg"]
    assert lines("clean_test_key_list.txt") == ["images/6/06/t1.jpg", "images/6/06/t2.jpg"]
    got = realnoise.read("clothing1m", out)
    assert got.train == rows(out, ("images/0/00/a.jpg", 3), ("images/1/01/c.jpg", 0))
    assert got.val == rows(out, ("images/5/05/v1.jpg", 7), ("images/5/05/v3.jpg", 2))
    assert got.tests == {"clean-test": rows(out, ("images/6/06/t1.jpg", 2), ("images/6/06/t2.jpg", 4))}
    assert got.clean == {f"{out}/images/1/01/c.jpg": 1}
    assert got.classes == realnoise.read("clothing1m", root).classes
    images = [f for f in files(out) if f.startswith("images/")]
    assert images == ["images/0/00/a.jpg", "images/1/01/c.jpg", "images/5/05/v1.jpg", "images/5/05/v3.jpg",
                      "images/6/06/t1.jpg", "images/6/06/t2.jpg"]
    assert len(files(out)) == 6 + 6 + (1 if not ann else 0) + 1  # images, 6 lists (+ names), SHA256SUMS


# --- ANIMAL-10N ---

@pytest.fixture
def animal(tmp_path):
    root = tmp_path / "animal10n"
    for name in ("0_a.jpg", "9_x.jpg", "3_2.jpg", "0_c.jpg", "3_1.jpg", "0_b.jpg"):
        image(root / "training" / name)
    write(root / "training" / ".DS_Store", ["x"])
    for name in ("1_x.jpg", "8_y.jpg", "1_y.jpg"):
        image(root / "testing" / name)
    return root


def test_animal10n_copies_only_the_kept_files(animal, tmp_path):
    out = tmp_path / "sub"
    said = realsubset.make("animal10n", animal, out, 4)
    assert said.startswith(f"{out}: animal10n subset, 4 training, 3 test (test) images, 7 files in SHA256SUMS")
    # By name: 0_a 0_b 0_c 3_1 3_2 9_x; four of three classes: one each, one more of class 0.
    assert files(out) == ["SHA256SUMS", "testing/1_x.jpg", "testing/1_y.jpg", "testing/8_y.jpg", "training/0_a.jpg",
                          "training/0_b.jpg", "training/3_1.jpg", "training/9_x.jpg"]
    got = realnoise.read("animal10n", out)
    assert got.train == rows(out / "training", ("0_a.jpg", 0), ("0_b.jpg", 0), ("3_1.jpg", 3), ("9_x.jpg", 9))
    assert got.tests == {"test": rows(out / "testing", ("1_x.jpg", 1), ("1_y.jpg", 1), ("8_y.jpg", 8))}
    realsubset.make("animal10n", animal, tmp_path / "two", 3, test_n=2)  # 1_x and 8_y
    assert files(tmp_path / "two" / "testing") == ["1_x.jpg", "8_y.jpg"]


# --- Food-101N, tested on Food-101 ---

@pytest.fixture
def food(tmp_path):
    root, f101 = tmp_path / "Food-101N_release", tmp_path / "food-101"
    write(root / "meta" / "classes.txt", ["class_name", "apple_pie", "beignets", "waffles"])
    write(root / "meta" / "imagelist.tsv", ["class_name/key", "apple_pie/h1.jpg", "beignets/h2.jpg", "waffles/h3.jpg",
                                            "waffles/h4.jpg", "apple_pie/h5.jpg"])
    write(root / "meta" / "verified_train.tsv", ["class_name/key\tverification_label", "apple_pie/h1.jpg\t1",
                                                 "beignets/h3.jpg\t0", "apple_pie/h5.jpg\t1"])
    write(root / "meta" / "verified_val.tsv", ["class_name/key\tverification_label", "waffles/h4.jpg\t0",
                                               "beignets/h2.jpg\t1"])
    for name in ("apple_pie/h1.jpg", "beignets/h2.jpg", "waffles/h3.jpg", "waffles/h4.jpg", "apple_pie/h5.jpg"):
        image(root / "images" / name)
    write(f101 / "meta" / "test.txt", ["apple_pie/100", "waffles/200", "waffles/201", "beignets/300"])
    write(f101 / "meta" / "train.txt", ["apple_pie/900"])  # Food-101's training split: not the subset's
    write(f101 / "meta" / "classes.txt", ["apple_pie", "beignets", "waffles"])
    for name in ("apple_pie/100", "waffles/200", "waffles/201", "beignets/300", "apple_pie/900"):
        image(f101 / "images" / f"{name}.jpg")
    return root, f101


def test_food101n_cuts_its_lists_and_food101s_test_split(food, tmp_path):
    root, f101 = food
    out = tmp_path / "sub"
    said = realsubset.make("food101n", root, out, 3, test_n=3, food101=f101)
    assert said.endswith(f"with Food-101's test split in {out}/food-101")
    # h1 0, h2 1, h3 2, h4 2, h5 0: one of each. Food-101's test 100 0, 200 2, 201 2, 300 1: one of each.
    with open(out / "meta" / "imagelist.tsv", encoding="utf-8") as f:
        assert f.read() == "class_name/key\napple_pie/h1.jpg\nbeignets/h2.jpg\nwaffles/h3.jpg\n"
    with open(out / "meta" / "verified_train.tsv", encoding="utf-8") as f:  # beignets/h3 is no kept image
        assert f.read() == "class_name/key\tverification_label\napple_pie/h1.jpg\t1\n"
    with open(out / "meta" / "verified_val.tsv", encoding="utf-8") as f:
        assert f.read() == "class_name/key\tverification_label\nbeignets/h2.jpg\t1\n"
    got = realnoise.read("food101n", out, food101=out / "food-101")
    assert got.classes == ["apple_pie", "beignets", "waffles"]
    assert got.train == rows(out / "images", ("apple_pie/h1.jpg", 0), ("beignets/h2.jpg", 1), ("waffles/h3.jpg", 2))
    assert got.clean == {f"{out}/images/apple_pie/h1.jpg": 1, f"{out}/images/beignets/h2.jpg": 1}
    assert got.tests == {"food101-test": rows(out / "food-101" / "images", ("apple_pie/100.jpg", 0),
                                              ("waffles/200.jpg", 2), ("beignets/300.jpg", 1))}
    assert files(out) == ["SHA256SUMS", "food-101/images/apple_pie/100.jpg", "food-101/images/beignets/300.jpg",
                          "food-101/images/waffles/200.jpg", "food-101/meta/classes.txt", "food-101/meta/test.txt",
                          "images/apple_pie/h1.jpg", "images/beignets/h2.jpg", "images/waffles/h3.jpg",
                          "meta/classes.txt", "meta/imagelist.tsv", "meta/verified_train.tsv",
                          "meta/verified_val.tsv"]


# --- refusals ---

def test_refusals_name_the_problem_and_the_fix(webvision, animal, food, tmp_path):
    root, ilsvrc = webvision
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    make = realsubset.make
    assert refusal(make, "animal10n", animal, tmp_path / "full", 4) == (
        f"--out {tmp_path / 'full'} already exists and is not empty; choose a new folder, or delete it first")
    assert refusal(make, "animal10n", animal, animal, 4).startswith(f"--out {animal} is the --data-dir the subset is")
    assert refusal(make, "webvision-mini", root, tmp_path / "x", 8) == (
        "--subset 8 must be between 1 and the 7 images of webvision-mini's training list (classes 0..49); choose one "
        "in that range")
    assert refusal(make, "animal10n", animal, tmp_path / "x", 2) == (
        "--subset 2 is fewer than the 3 classes of animal10n's training/, which would leave a class out; give 3 or "
        "more")
    assert refusal(make, "animal10n", animal, tmp_path / "x", 4, test_n=4).startswith(
        "--test-subset 4 must be between 1 and the 3 images of animal10n's testing/")
    assert refusal(make, "food101n", food[0], tmp_path / "x", 3).startswith(
        "food101n is tested on Food-101's test split, which the subset holds too: give --food101 DIR")
    assert refusal(make, "animal10n", animal, tmp_path / "x", 4, imagenet_val=ilsvrc) == (
        "--imagenet-val applies to webvision-mini only, not animal10n; leave it out")
    assert refusal(make, "animal10n", tmp_path / "nowhere", tmp_path / "x", 4, error=DataError).startswith(
        f"no folder {tmp_path / 'nowhere'}; animal10n is read from")
    assert not (tmp_path / "x").exists()


def test_a_listed_image_missing_on_disk_leaves_nothing(webvision, tmp_path):
    root, _ = webvision
    os.remove(root / "google" / "q0003" / "c1.jpg")
    m = refusal(realsubset.make, "webvision-mini", root, tmp_path / "out" / "wv", 4, error=DataError)
    assert m.startswith(f"{root}/google/q0003/c1.jpg is listed but not on disk"), m
    assert os.listdir(tmp_path / "out") == []  # the temporary folder went with the failure


def test_a_subset_that_would_not_read_back_as_cut_is_not_renamed_into_place(animal, tmp_path, monkeypatch):
    """The read-back check: here a reader that (as if changed) lists one image more than the cut kept."""
    read = realnoise.read

    def one_more(kind, root, **kw):
        got = read(kind, root, **kw)
        return got if str(root) == str(animal) else dataclasses.replace(got, train=got.train + got.train[:1])
    monkeypatch.setattr(realnoise, "read", one_more)
    (tmp_path / "out").mkdir()
    with pytest.raises(RuntimeError, match="does not read back as the rows kept"):
        realsubset.make("animal10n", animal, tmp_path / "out" / "sub", 4)
    assert os.listdir(tmp_path / "out") == []


# --- data.py's command line ---

def data_py(*argv, cwd):
    return in_process(datasets.main, argv, cwd)


def test_data_py_cuts_a_real_subset_and_refuses_in_one_line(animal, food, tmp_path):
    p = data_py("--dataset", "animal10n", "--data-dir", str(animal), "--subset", "4", "--test-subset", "2", "--out",
                "sub", cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.startswith("sub: animal10n subset, 4 training, 2 test (test) images"), p.stderr
    assert len(realnoise.read("animal10n", tmp_path / "sub").train) == 4
    p = data_py("--dataset", "food101n", "--data-dir", str(food[0]), "--food101", str(food[1]), "--subset", "3",
                "--out", "food", cwd=tmp_path)
    assert p.returncode == 0 and len(realnoise.read("food101n", tmp_path / "food", food101=tmp_path / "food" /
                                                    "food-101").tests["food101-test"]) == 4, p.stderr
    for argv, start in [
        (["--dataset", "clothing1m"], "error: data.py cannot download clothing1m: Clothing1M is given by its authors "
                                      "on request"),
        (["--dataset", "animal10n", "--subset", "4"], "error: --subset N and --out DIR go together"),
        (["--dataset", "animal10n", "--data-dir", str(animal), "--subset", "4", "--out", "h", "--human"],
         "error: --human is CIFAR-N's labels"),
        (["--dataset", "animal10n", "--data-dir", str(animal), "--subset", "40", "--out", "big"],
         "error: --subset 40 must be between 1 and the 6 images of animal10n's training/"),
        (["--food101", str(food[1])], "error: --food101 applies to a --subset of food101n only, not of cifar10"),
        (["--dataset", "clothing1n"], "error: argument --dataset: invalid choice: 'clothing1n'"),
    ]:
        p = data_py(*argv, cwd=tmp_path)
        assert p.returncode == 2 and p.stderr.startswith(start) and p.stderr.count("\n") == 1, (argv, p.stderr)
    assert "train.py reads it from --data-dir" in data_py("--dataset", "clothing1m", cwd=tmp_path).stderr
    assert sorted(os.listdir(tmp_path)) == ["Food-101N_release", "animal10n", "food", "food-101", "sub"]
