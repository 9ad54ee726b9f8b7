"""realnoise.py: the real-world noisy sets' lists, read from trees written here in each official layout (tiny
JPEGs where an image is listed, list rows of WebVision classes >= 50 that point to no file, the Food-101N
headers, an image whose class differs between Food-101N's lists, a Clothing1M training image with a clean label).
Every expected value below is worked out by hand from the tree, not from the reader. No torch, no download."""
import ast
import gc
import os
import subprocess
import sys

import pytest
from PIL import Image

from noisylabels import realnoise
from noisylabels.errors import UserError
from noisylabels.fetch import DataError


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def image(path):
    """A 4x4 JPEG: the reader opens none, but the tree is the layout a loader would read."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (4, 4), (200, 30, 30)).save(path)


def refusal(call, *args, error=DataError, **kw):
    """The message of the refusal, checked to be one line."""
    with pytest.raises(error) as e:
        call(*args, **kw)
    message = str(e.value)
    assert "\n" not in message, message
    return message


# --- WebVision mini ---

# 52 synsets whose wnids run downwards: line i (label i) is n000000{99-i}, so sorting the wnids would put line 49
# first; the reader must map label i to line i.
WNIDS = [f"n{99 - i:08d}" for i in range(52)]
TRAIN_ROWS = ["google/q0001/a.jpg 0", "google/q0001/b.jpg 0", "google/q0002/c.jpg 1",
              "google/q0050/x.jpg 50",  # class 50: left out, and no such file
              "",
              "google/q0049/d.jpg 49",
              "google/q0051/y.jpg 51"]  # class 51: left out
VAL_ROWS = ["val000001.jpg 0", "val000002.jpg 50", "val000003.jpg 49"]


@pytest.fixture
def webvision(tmp_path):
    root = tmp_path / "webvision"
    write(root / "info" / "synsets.txt", "".join(f"{w} class{i}, alias {i}\n" for i, w in enumerate(WNIDS)))
    write(root / "info" / "train_filelist_google.txt", "\n".join(TRAIN_ROWS) + "\n")
    write(root / "info" / "val_filelist.txt", "\n".join(VAL_ROWS) + "\n")
    for name in ("q0001/a.jpg", "q0001/b.jpg", "q0002/c.jpg", "q0049/d.jpg"):
        image(root / "google" / name)
    for name in ("val000001.jpg", "val000003.jpg"):
        image(root / "val_images_256" / name)
    return root


@pytest.fixture
def imagenet_val(tmp_path):
    """Per-synset ILSVRC12 val: two images for label 0 (n00000099), one for each other of the first 50 lines,
    and a folder of line 50's synset, which mini leaves out."""
    root = tmp_path / "ilsvrc12-val"
    for i, w in enumerate(WNIDS[:51]):
        image(root / w / f"ILSVRC2012_val_{i + 1:08d}.JPEG")
    image(root / WNIDS[0] / "ILSVRC2012_val_00000900.JPEG")
    write(root / WNIDS[0] / ".DS_Store", "x")
    write(root / WNIDS[0] / "notes.txt", "not an image")
    return root


def test_webvision_keeps_the_first_50_classes_and_tests_on_its_val(webvision):
    r = str(webvision)
    got = realnoise.read("webvision-mini", webvision)
    assert got.kind == "webvision-mini"
    assert got.classes == [f"class{i}" for i in range(50)]
    assert got.train == [(f"{r}/google/q0001/a.jpg", 0), (f"{r}/google/q0001/b.jpg", 0),
                         (f"{r}/google/q0002/c.jpg", 1), (f"{r}/google/q0049/d.jpg", 49)]
    assert got.val is None  # the papers test on WebVision's val: a run's val comes from the training set
    assert got.tests == {"webvision": [(f"{r}/val_images_256/val000001.jpg", 0),
                                       (f"{r}/val_images_256/val000003.jpg", 49)]}
    assert got.clean is None
    assert got.notes == ("2 training rows of classes 50..51 left out (the mini setting)",)
    assert all(os.path.isfile(p) for p, _ in got.train + got.tests["webvision"])


def test_ilsvrc12_val_labels_follow_the_lines_of_synsets_txt(webvision, imagenet_val):
    v = str(imagenet_val)
    got = realnoise.read("webvision-mini", webvision, imagenet_val=imagenet_val)
    assert list(got.tests) == ["webvision", "ilsvrc12"]
    rows = got.tests["ilsvrc12"]
    assert len(rows) == 51  # two of label 0, one of each of 1..49; line 50's folder left out
    assert rows[:3] == [(f"{v}/n00000099/ILSVRC2012_val_00000001.JPEG", 0),
                        (f"{v}/n00000099/ILSVRC2012_val_00000900.JPEG", 0),
                        (f"{v}/n00000098/ILSVRC2012_val_00000002.JPEG", 1)]
    # n00000050 sorts first of the 50, but is line 49: label 49.
    assert rows[-1] == (f"{v}/n00000050/ILSVRC2012_val_00000050.JPEG", 49)
    assert sorted({y for _, y in rows}) == list(range(50))


def test_webvision_refusals_name_the_file_and_where_to_get_it(webvision, imagenet_val):
    r = str(webvision)
    for name in ("synsets.txt", "train_filelist_google.txt", "val_filelist.txt"):
        os.rename(webvision / "info" / name, webvision / "info" / (name + ".away"))
        m = refusal(realnoise.read, "webvision-mini", webvision)
        assert m.startswith(f"no file {r}/info/{name};"), m
        assert "ROOT/info/" in m and "https://data.vision.ee.ethz.ch/cvl/webvision/" in m
        os.rename(webvision / "info" / (name + ".away"), webvision / "info" / name)
    os.rename(webvision / "val_images_256", webvision / "val-away")
    assert refusal(realnoise.read, "webvision-mini", webvision).startswith(f"no folder {r}/val_images_256;")
    os.rename(webvision / "val-away", webvision / "val_images_256")
    assert refusal(realnoise.read, "webvision-mini", webvision / "nowhere").startswith(f"no folder {r}/nowhere;")


@pytest.mark.parametrize("row, why", [
    ("google/q0003/e.jpg", "cannot read 'google/q0003/e.jpg' as '<name> <label>'"),
    ("google/q0003/e.jpg one", "cannot read 'google/q0003/e.jpg one' as '<name> <label>'"),
    ("google/q0003/e.jpg 1 2", "cannot read 'google/q0003/e.jpg 1 2' as '<name> <label>'"),
    ("google/q0003/e.jpg 52", "label 52 is outside 0..51"),
    ("google/q0003/e.jpg -1", "label -1 is outside 0..51"),
])
def test_a_bad_list_line_is_refused_by_file_and_line_number(webvision, row, why):
    rows = TRAIN_ROWS[:2] + [row] + TRAIN_ROWS[2:]  # line 3
    write(webvision / "info" / "train_filelist_google.txt", "\n".join(rows) + "\n")
    m = refusal(realnoise.read, "webvision-mini", webvision)
    assert m.startswith(f"{webvision}/info/train_filelist_google.txt:3: {why}"), m


def test_bad_synsets_are_refused(webvision):
    path = webvision / "info" / "synsets.txt"
    write(path, "".join(f"{w} class{i}\n" for i, w in enumerate(WNIDS[:10])))
    assert refusal(realnoise.read, "webvision-mini", webvision).startswith(
        f"{path} names 10 synsets, fewer than webvision-mini's 50")
    write(path, f"{WNIDS[0]} tench\ntench n01440764\n")
    assert refusal(realnoise.read, "webvision-mini", webvision).startswith(
        f"{path}:2: cannot read 'tench n01440764' as '<wnid> <words>'")


def test_no_image_of_the_first_50_classes_is_refused(webvision):
    write(webvision / "info" / "val_filelist.txt", "val000002.jpg 50\n")
    assert refusal(realnoise.read, "webvision-mini", webvision).startswith(
        f"{webvision}/info/val_filelist.txt lists no image of the first 50 classes")


def test_ilsvrc12_refusals(webvision, imagenet_val, tmp_path):
    v = str(imagenet_val)
    os.rename(imagenet_val / WNIDS[7], tmp_path / "away")
    m = refusal(realnoise.read, "webvision-mini", webvision, imagenet_val=imagenet_val)
    assert m.startswith(f"no folder {v}/{WNIDS[7]}; ILSVRC12 val is read from DIR/<wnid>/*.JPEG"), m
    # The tar's flat layout: told to sort it first.
    flat = tmp_path / "flat"
    image(flat / "ILSVRC2012_val_00000001.JPEG")
    m = refusal(realnoise.read, "webvision-mini", webvision, imagenet_val=flat)
    assert m.startswith(f"no folder {flat}/{WNIDS[0]} (it holds the val images in one flat folder"), m
    os.rename(tmp_path / "away", imagenet_val / WNIDS[7])
    for f in os.listdir(imagenet_val / WNIDS[3]):
        os.remove(imagenet_val / WNIDS[3] / f)
    assert refusal(realnoise.read, "webvision-mini", webvision, imagenet_val=imagenet_val).startswith(
        f"{v}/{WNIDS[3]}/ lists no image (.JPEG, .jpg or .png)")


# --- Clothing1M ---

KV_NOISY = "images/0/00/a.jpg 3\nimages/0/00/b.jpg 13\nimages/1/01/c.jpg 0\nimages/2/02/d.jpg 5\n"
KV_CLEAN = "images/0/00/b.jpg 12\nimages/5/05/v.jpg 7\nimages/6/06/t.jpg 2\n"
FILES = ("noisy_label_kv.txt", "noisy_train_key_list.txt", "clean_label_kv.txt", "clean_val_key_list.txt",
         "clean_test_key_list.txt")


def clothing_tree(root, annotations="annotations"):
    ann = root / annotations if annotations else root
    write(ann / "noisy_label_kv.txt", KV_NOISY)
    write(ann / "noisy_train_key_list.txt", "images/0/00/a.jpg\nimages/0/00/b.jpg\nimages/1/01/c.jpg\n")
    write(ann / "clean_label_kv.txt", KV_CLEAN)
    write(ann / "clean_train_key_list.txt", "images/0/00/b.jpg\n")  # in the release, not read
    write(ann / "clean_val_key_list.txt", "images/5/05/v.jpg\n")
    write(ann / "clean_test_key_list.txt", "images/6/06/t.jpg\n")
    for name in ("0/00/a.jpg", "0/00/b.jpg", "1/01/c.jpg", "5/05/v.jpg", "6/06/t.jpg"):
        image(root / "images" / name)
    return ann


@pytest.fixture
def clothing(tmp_path):
    root = tmp_path / "clothing1m"
    clothing_tree(root)
    return root


def expected_clothing(r):
    return dict(train=[(f"{r}/images/0/00/a.jpg", 3), (f"{r}/images/0/00/b.jpg", 13), (f"{r}/images/1/01/c.jpg", 0)],
                val=[(f"{r}/images/5/05/v.jpg", 7)], tests={"clean-test": [(f"{r}/images/6/06/t.jpg", 2)]},
                clean={f"{r}/images/0/00/b.jpg": 12})


def test_clothing1m_trains_on_the_noisy_list_and_keeps_the_clean_labels(clothing):
    got = realnoise.read("clothing1m", clothing)
    want = expected_clothing(clothing)
    assert (got.train, got.val, got.tests, got.clean) == (want["train"], want["val"], want["tests"], want["clean"])
    assert got.classes == ["T-Shirt", "Shirt", "Knitwear", "Chiffon", "Sweater", "Hoodie", "Windbreaker", "Jacket",
                           "Downcoat", "Suit", "Shawl", "Dress", "Vest", "Underwear"]
    assert got.notes == ("1 of the 3 training images have a clean label too",)
    assert all(os.path.isfile(p) for p, _ in got.train + got.val)


def test_clothing1m_in_the_authors_layout_with_its_class_names(tmp_path):
    """The authors' README unpacks the annotations into ROOT itself, beside category_names_eng.txt."""
    root = tmp_path / "c1m"
    clothing_tree(root, annotations=None)
    write(root / "category_names_eng.txt", "".join(f"Name{i}\n" for i in range(14)))
    got = realnoise.read("clothing1m", root)
    want = expected_clothing(root)
    assert (got.train, got.val, got.tests, got.clean) == (want["train"], want["val"], want["tests"], want["clean"])
    assert got.classes == [f"Name{i}" for i in range(14)]


@pytest.mark.parametrize("name", FILES)
def test_a_missing_clothing1m_file_is_named_with_how_to_get_the_set(clothing, name):
    os.remove(clothing / "annotations" / name)
    m = refusal(realnoise.read, "clothing1m", clothing)
    assert m.startswith(f"no file {clothing}/annotations/{name}; clothing1m is read from ROOT/annotations/"), m
    assert "on request" in m and "no public URL" in m


def test_clothing1m_refusals(clothing):
    ann = clothing / "annotations"
    write(ann / "noisy_train_key_list.txt", "images/0/00/a.jpg\n\nimages/9/99/z.jpg\n")
    assert refusal(realnoise.read, "clothing1m", clothing).startswith(
        f"{ann}/noisy_train_key_list.txt:3: 'images/9/99/z.jpg' has no label in noisy_label_kv.txt")
    clothing_tree(clothing)
    write(ann / "clean_label_kv.txt", KV_CLEAN + "images/7/07/w.jpg 14\n")
    assert refusal(realnoise.read, "clothing1m", clothing).startswith(
        f"{ann}/clean_label_kv.txt:4: label 14 is outside 0..13")
    clothing_tree(clothing)
    write(ann / "category_names_eng.txt", "T-Shirt\nShirt\n")
    assert refusal(realnoise.read, "clothing1m", clothing).startswith(
        f"{ann}/category_names_eng.txt names 2 classes, not Clothing1M's 14")
    os.remove(ann / "category_names_eng.txt")
    os.rename(clothing / "images", clothing / "images-away")
    assert refusal(realnoise.read, "clothing1m", clothing).startswith(f"no folder {clothing}/images;")


# --- ANIMAL-10N ---

@pytest.fixture
def animal(tmp_path):
    root = tmp_path / "animal10n"
    for name in ("0_a.jpg", "9_b.jpg", "3_10.jpg", "3_9.jpg"):
        image(root / "training" / name)
    write(root / "training" / ".DS_Store", "x")
    image(root / "testing" / "1_x.jpg")
    image(root / "testing" / "8_y.jpg")
    return root


def test_animal10n_labels_are_the_name_prefixes(animal):
    t, s = animal / "training", animal / "testing"
    got = realnoise.read("animal10n", animal)
    assert got.classes == ["cat", "lynx", "wolf", "coyote", "cheetah", "jaguar", "chimpanzee", "orangutan", "hamster",
                           "guinea pig"]
    assert got.train == [(f"{t}/0_a.jpg", 0), (f"{t}/3_10.jpg", 3), (f"{t}/3_9.jpg", 3), (f"{t}/9_b.jpg", 9)]
    assert got.val is None and got.clean is None
    assert got.tests == {"test": [(f"{s}/1_x.jpg", 1), (f"{s}/8_y.jpg", 8)]}


def test_animal10n_refusals(animal):
    image(animal / "training" / "cat_1.jpg")
    assert refusal(realnoise.read, "animal10n", animal).startswith(
        f"{animal}/training/cat_1.jpg is not named <label>_<id>.jpg")
    os.remove(animal / "training" / "cat_1.jpg")
    image(animal / "training" / "10_1.jpg")
    assert refusal(realnoise.read, "animal10n", animal).startswith(
        f"{animal}/training/10_1.jpg: label 10 is outside 0..9")
    os.remove(animal / "training" / "10_1.jpg")
    os.rename(animal / "testing", animal / "testing-away")
    m = refusal(realnoise.read, "animal10n", animal)
    assert m.startswith(f"no folder {animal}/testing; animal10n is read from ROOT/training/ and ROOT/testing/"), m
    assert "https://dm.kaist.ac.kr/datasets/animal-10n/" in m


# --- Food-101N, tested on Food-101 ---

@pytest.fixture
def food(tmp_path):
    root, f101 = tmp_path / "Food-101N_release", tmp_path / "food-101"
    write(root / "meta" / "classes.txt", "class_name\napple_pie\nbeignets\nwaffles\n")
    write(root / "meta" / "imagelist.tsv",
          "class_name/key\napple_pie/h1.jpg\nbeignets/h2.jpg\nwaffles/h3.jpg\nwaffles/h4.jpg\n")
    # h3 is a waffles image in imagelist.tsv, but verified as beignets: its flag is not about its training label.
    write(root / "meta" / "verified_train.tsv",
          "class_name/key\tverification_label\napple_pie/h1.jpg\t1\nbeignets/h3.jpg\t0\n")
    write(root / "meta" / "verified_val.tsv", "class_name/key\tverification_label\nwaffles/h4.jpg\t0\n")
    for name in ("apple_pie/h1.jpg", "beignets/h2.jpg", "waffles/h3.jpg", "waffles/h4.jpg"):
        image(root / "images" / name)
    write(f101 / "meta" / "test.txt", "apple_pie/100\nwaffles/200\n")
    write(f101 / "meta" / "classes.txt", "apple_pie\nbeignets\nwaffles\n")
    image(f101 / "images" / "apple_pie" / "100.jpg")
    image(f101 / "images" / "waffles" / "200.jpg")
    return root, f101


def test_food101n_labels_are_the_folders_and_the_flags_are_kept(food):
    root, f101 = food
    got = realnoise.read("food101n", root, food101=f101)
    assert got.classes == ["apple_pie", "beignets", "waffles"]  # the header line is not a class
    assert got.train == [(f"{root}/images/apple_pie/h1.jpg", 0), (f"{root}/images/beignets/h2.jpg", 1),
                         (f"{root}/images/waffles/h3.jpg", 2), (f"{root}/images/waffles/h4.jpg", 2)]
    assert got.val is None
    assert got.tests == {"food101-test": [(f"{f101}/images/apple_pie/100.jpg", 0),
                                          (f"{f101}/images/waffles/200.jpg", 2)]}
    assert got.clean == {f"{root}/images/apple_pie/h1.jpg": 1, f"{root}/images/waffles/h4.jpg": 0}
    assert got.notes == ("1 verified keys not in imagelist.tsv (another class, or no such image) left out",)
    assert all(os.path.isfile(p) for p, _ in got.train + got.tests["food101-test"])


def test_food101n_without_its_headers_keeps_the_first_rows(food):
    root, f101 = food
    write(root / "meta" / "classes.txt", "apple_pie\nbeignets\nwaffles\n")
    write(root / "meta" / "imagelist.tsv", "apple_pie/h1.jpg\nwaffles/h4.jpg\n")
    got = realnoise.read("food101n", root, food101=f101)
    assert got.classes == ["apple_pie", "beignets", "waffles"]
    assert got.train == [(f"{root}/images/apple_pie/h1.jpg", 0), (f"{root}/images/waffles/h4.jpg", 2)]


def test_food101n_refusals(food):
    root, f101 = food
    m = refusal(realnoise.read, "food101n", root)
    assert m.startswith("food101n is tested on Food-101's test split: give food101=DIR"), m
    assert "https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/" in m
    for name in ("classes.txt", "imagelist.tsv", "verified_train.tsv", "verified_val.tsv"):
        os.rename(root / "meta" / name, root / "meta" / (name + ".away"))
        m = refusal(realnoise.read, "food101n", root, food101=f101)
        assert m.startswith(f"no file {root}/meta/{name}; food101n is read from ROOT/meta/"), m
        assert "https://kuanghuei.github.io/Food-101N/" in m
        os.rename(root / "meta" / (name + ".away"), root / "meta" / name)
    write(root / "meta" / "imagelist.tsv", "class_name/key\napple_pie/h1.jpg\nsushi/h9.jpg\n")
    assert refusal(realnoise.read, "food101n", root, food101=f101).startswith(
        f"{root}/meta/imagelist.tsv:3: class 'sushi' is not one of the 3 of Food-101N's meta/classes.txt")
    write(root / "meta" / "imagelist.tsv", "class_name/key\napple_pie/h1.jpg\n")
    write(root / "meta" / "verified_val.tsv", "class_name/key\tverification_label\napple_pie/h1.jpg\t2\n")
    assert refusal(realnoise.read, "food101n", root, food101=f101).startswith(
        f"{root}/meta/verified_val.tsv:2: cannot read 'apple_pie/h1.jpg\\t2' as '<class>/<hash>.jpg<TAB>0 or 1'")
    write(root / "meta" / "verified_val.tsv", "class_name/key\tverification_label\n")
    write(f101 / "meta" / "test.txt", "apple_pie/100\nwaffles\n")
    assert refusal(realnoise.read, "food101n", root, food101=f101).startswith(
        f"{f101}/meta/test.txt:2: cannot read 'waffles' as '<class>/<name>'")
    os.remove(f101 / "meta" / "test.txt")
    m = refusal(realnoise.read, "food101n", root, food101=f101)
    assert m.startswith(f"no file {f101}/meta/test.txt; Food-101's test split is read from DIR/meta/test.txt"), m


# --- what every reader shares ---

def test_misuse_of_the_api_is_refused(clothing, webvision):
    assert "did you mean clothing1m?" in refusal(realnoise.read, "clothing1n", clothing, error=UserError)
    assert refusal(realnoise.read, "clothing1m", clothing, imagenet_val=webvision, error=UserError).startswith(
        "imagenet_val applies to webvision-mini only, not clothing1m")
    assert refusal(realnoise.read, "animal10n", clothing, food101=webvision, error=UserError).startswith(
        "food101 applies to food101n only, not animal10n")


def test_a_list_that_is_not_text_is_refused(clothing):
    with open(clothing / "annotations" / "clean_val_key_list.txt", "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 a JPEG, not a list")
    assert refusal(realnoise.read, "clothing1m", clothing).startswith(
        f"cannot read {clothing}/annotations/clean_val_key_list.txt as a text list (UnicodeDecodeError")


def test_the_collector_is_left_as_it_was(clothing):
    assert gc.isenabled()
    realnoise.read("clothing1m", clothing)
    assert gc.isenabled()
    os.remove(clothing / "annotations" / "clean_test_key_list.txt")
    refusal(realnoise.read, "clothing1m", clothing)
    assert gc.isenabled()
    clothing_tree(clothing)
    gc.disable()
    try:
        realnoise.read("clothing1m", clothing)
        assert not gc.isenabled()  # a caller that paused it keeps it paused
    finally:
        gc.enable()


def test_the_module_is_a_leaf_that_needs_neither_torch_nor_numpy():
    with open(realnoise.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    package = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    outside = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    outside |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
    assert package <= {"errors", "fetch"}, package
    assert outside <= set(sys.stdlib_module_names), outside
    code = ("import sys, noisylabels.realnoise; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(realnoise.__file__)))
    assert out.stdout.strip() == "[]"
