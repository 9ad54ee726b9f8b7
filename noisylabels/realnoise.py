"""The real-world noisy benchmarks' file lists, read from the layouts their official downloads unpack to.

This module owns one thing: turning a data set's folder into lists of (image path, label), with its classes,
its test sets and its known-clean information, for WebVision mini, Clothing1M, ANIMAL-10N and Food-101N. It
opens no image and imports neither torch nor numpy: decoding and streaming are the loader's work. A listed
image that is missing on disk is found when the loader opens it (a stat of each of a million files would take
minutes on a network disk); the images folder itself is checked. Every refusal is a fetch.DataError of one
line that names the file (and the line, for a list line it cannot parse or a label out of range), the layout
expected, and where the data set is obtained. Nothing is downloaded: several of these sets are given only on request.

The protocols, as the papers' official loaders read them:
- webvision-mini: the Google images of WebVision 1.0's first 50 classes (rows of info/train_filelist_google.txt
  with label < 50; 65,944 images). WebVision's val (info/val_filelist.txt, 2,500 images of those classes) is a
  test set in the papers (DivideMix and ELR+ report it beside ILSVRC12 val; APL and ANL test on ILSVRC12 val
  only), so `val` is None and both are in `tests`, "webvision" and, given imagenet_val, "ilsvrc12".
- clothing1m: trains on noisy_train_key_list.txt with the labels of noisy_label_kv.txt; val is the clean val
  list, the test the clean test list (10,526), both labelled by clean_label_kv.txt.
- animal10n: training/ (50,000) and testing/ (5,000), the label the file name's prefix.
- food101n: meta/imagelist.tsv, an image's label its folder's class; tested on Food-101's test split (25,250).
Where `val` is None (WebVision, ANIMAL-10N, Food-101N), a run takes its validation split from the noisy
training set.
"""
import gc
import os
from dataclasses import dataclass, field
from operator import itemgetter

from .errors import UserError, nearest
from .fetch import DataError

KINDS = ("webvision-mini", "clothing1m", "animal10n", "food101n")

MINI_CLASSES = 50  # WebVision mini: the first 50 of WebVision's 1,000 classes
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")  # what a per-synset ILSVRC12 val folder holds

# The released category_names_eng.txt's order (Xiao et al. 2015), for a copy whose annotations lack that file.
CLOTHING1M_CLASSES = ["T-Shirt", "Shirt", "Knitwear", "Chiffon", "Sweater", "Hoodie", "Windbreaker", "Jacket",
                      "Downcoat", "Suit", "Shawl", "Dress", "Vest", "Underwear"]
# Labels 0..9 as ANIMAL-10N's page numbers them (five confusable pairs).
ANIMAL10N_CLASSES = ["cat", "lynx", "wolf", "coyote", "cheetah", "jaguar", "chimpanzee", "orangutan", "hamster",
                     "guinea pig"]

# What each set's folder holds, and where it is obtained: the tail of every refusal.
TITLE = {"webvision-mini": "webvision-mini", "clothing1m": "clothing1m", "animal10n": "animal10n",
         "food101n": "food101n", "food101": "Food-101's test split", "ilsvrc12": "ILSVRC12 val"}
LAYOUT = {
    "webvision-mini": "ROOT/info/ with train_filelist_google.txt, val_filelist.txt and synsets.txt, ROOT/google/"
                      "<query>/*.jpg and ROOT/val_images_256/*.jpg (the resized release)",
    "clothing1m": "ROOT/annotations/ (or ROOT itself) with noisy_label_kv.txt, noisy_train_key_list.txt, "
                  "clean_label_kv.txt, clean_val_key_list.txt and clean_test_key_list.txt, and ROOT/images/0..9/",
    "animal10n": "ROOT/training/ and ROOT/testing/ of <label>_<id>.jpg files",
    "food101n": "ROOT/meta/ with classes.txt, imagelist.tsv, verified_train.tsv and verified_val.tsv, and "
                "ROOT/images/<class>/<hash>.jpg",
    "food101": "DIR/meta/test.txt and DIR/images/<class>/<id>.jpg",
    "ilsvrc12": "DIR/<wnid>/*.JPEG, one folder for each of the first 50 synsets of info/synsets.txt",
}
OBTAIN = {
    "webvision-mini": "WebVision 1.0 is downloaded from its site at ETH Zurich, "
                      "https://data.vision.ee.ethz.ch/cvl/webvision/",
    "clothing1m": "Clothing1M is given by its authors on request (the contact is in the README of "
                  "github.com/Cysu/noisy_label); it has no public URL",
    "animal10n": "ANIMAL-10N is given through a request form on its page at KAIST, "
                 "https://dm.kaist.ac.kr/datasets/animal-10n/",
    "food101n": "Food-101N is downloaded from its project page, https://kuanghuei.github.io/Food-101N/",
    "food101": "Food-101 is downloaded from ETH Zurich, https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/",
    "ilsvrc12": "ILSVRC2012_img_val.tar is downloaded from image-net.org and sorted into per-synset folders",
}


@dataclass(frozen=True)
class Listing:
    """A data set's lists. Paths are absolute; labels are ints in 0..len(classes)-1.

    val: the clean validation list (Clothing1M's clean val), or None, where a run takes its validation split
    from the noisy training set. tests: name -> [(path, label)]. clean: the known-clean information of the
    training images, path -> value (Clothing1M: the clean label of the training images that have one in
    clean_label_kv.txt; Food-101N: the 0/1 verification flag of verified_train.tsv and verified_val.tsv, which
    says whether the image's class label is right); None where the set has none. notes: what was left out, in
    lines a caller can print.
    """
    kind: str
    classes: list
    train: list
    val: object
    tests: dict
    clean: object
    source: str
    notes: tuple = field(default=())


def read(kind, root, *, imagenet_val=None, food101=None):
    """The Listing of data set `kind` in folder root. imagenet_val: a per-synset ILSVRC12 val folder, tested
    as "ilsvrc12" (webvision-mini only); food101: the Food-101 folder whose test split tests food101n."""
    if kind not in KINDS:
        raise UserError(f"unknown real-world data set '{kind}'{nearest(kind, KINDS)}; choose from {', '.join(KINDS)}")
    if imagenet_val is not None and kind != "webvision-mini":
        raise UserError(f"imagenet_val applies to webvision-mini only, not {kind}; leave it out")
    if food101 is not None and kind != "food101n":
        raise UserError(f"food101 applies to food101n only, not {kind}; leave it out")
    root = os.path.abspath(root)
    _need_dir(root, kind)
    reader = {"webvision-mini": lambda: _webvision(root, imagenet_val), "clothing1m": lambda: _clothing1m(root),
              "animal10n": lambda: _animal10n(root), "food101n": lambda: _food101n(root, food101)}[kind]
    # Millions of small lists and tuples, none of them in a cycle, set off the cyclic collector again and again:
    # with it paused, Clothing1M's lists read in about half the time.
    paused = gc.isenabled()
    gc.disable()
    try:
        return reader()
    finally:
        if paused:
            gc.enable()


# --- shared checks and list parsing ---

def _missing(path, kind, what="file"):
    return DataError(f"no {what} {path}; {TITLE[kind]} is read from {LAYOUT[kind]}. {OBTAIN[kind]}")


def _need_dir(path, kind):
    if not os.path.isdir(path):
        raise _missing(path, kind, "folder")


def _need_file(path, kind):
    if not os.path.isfile(path):
        raise _missing(path, kind)


def _lines(path, kind):
    """The file's lines (its line n is lines[n - 1]); a file that is not text is refused."""
    _need_file(path, kind)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {path} as a text list ({type(e).__name__}: {e}); {TITLE[kind]} is read "
                        f"from {LAYOUT[kind]}") from None


def _bad_line(path, n, line, expected):
    shown = line if len(line) <= 80 else line[:77] + "..."
    return DataError(f"{path}:{n}: cannot read {shown!r} as '{expected}'; the file is damaged, or not the "
                     f"official one")


def _bad_label(path, n, label, n_classes):
    return DataError(f"{path}:{n}: label {label} is outside 0..{n_classes - 1}; the file is damaged, or not the "
                     f"official one")


def _pair_lists(path, kind, n_classes):
    """(names, labels) of a '<name> <label>' list (blank lines skipped), with the loops in C (map, set, min):
    Clothing1M's lists have a million lines, and a Python loop over them takes seconds. Only where something
    is wrong does a Python loop look for the line to name."""
    lines = _lines(path, kind)
    parts = [p for p in map(str.split, lines) if p]
    try:
        if parts and set(map(len, parts)) == {2}:
            names = list(map(itemgetter(0), parts))
            labels = list(map(int, map(itemgetter(1), parts)))
            if 0 <= min(labels) and max(labels) < n_classes:
                return names, labels
    except ValueError:
        pass
    _refuse_first_bad_pair(path, lines, n_classes)
    return [], []  # no pairs at all: the caller refuses the empty list


def _refuse_first_bad_pair(path, lines, n_classes):
    for n, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        try:
            _, label = parts
            label = int(label)
        except ValueError:
            raise _bad_line(path, n, line, "<name> <label>") from None
        if not 0 <= label < n_classes:
            raise _bad_label(path, n, label, n_classes)


def _header(lines):
    """1 where the first line is a Food-101N header (class_name, class_name/key...), else 0: the line to skip.
    Recognised rather than always dropped, so a copy without the header keeps its first row."""
    return 1 if lines and lines[0].startswith("class_name") else 0


def _nonempty(rows, path, kind, what):
    if not rows:
        raise DataError(f"{path} lists no {what}; {TITLE[kind]} is read from {LAYOUT[kind]}")
    return rows


# --- WebVision mini, with ILSVRC12 val ---

def _synsets(path):
    """[(wnid, name)] of info/synsets.txt: line i is WebVision label i ('n01440764 tench, Tinca tinca')."""
    out = []
    for n, line in enumerate(_lines(path, "webvision-mini"), 1):
        parts = line.split(None, 1)
        if not parts:
            continue
        wnid = parts[0]
        if not (len(wnid) == 9 and wnid[0] == "n" and wnid[1:].isdigit()):
            raise _bad_line(path, n, line, "<wnid> <words>")
        words = parts[1].split(",")[0].strip() if len(parts) > 1 else ""
        out.append((wnid, words or wnid))
    if len(out) < MINI_CLASSES:
        raise DataError(f"{path} names {len(out)} synsets, fewer than webvision-mini's {MINI_CLASSES}; the file is "
                        f"damaged, or not WebVision's")
    return out


def _webvision(root, imagenet_val):
    kind, info = "webvision-mini", os.path.join(root, "info")
    synsets = _synsets(os.path.join(info, "synsets.txt"))
    for folder in ("google", "val_images_256"):
        _need_dir(os.path.join(root, folder), kind)
    train_list = os.path.join(info, "train_filelist_google.txt")
    # The list holds all 1,000 classes (about a million rows); mini keeps the first 50.
    names, labels = _pair_lists(train_list, kind, len(synsets))
    rows = [(f"{root}/{n}", y) for n, y in zip(names, labels) if y < MINI_CLASSES]
    dropped = len(names) - len(rows)
    val_list = os.path.join(info, "val_filelist.txt")
    val = [(f"{root}/val_images_256/{n}", y) for n, y in zip(*_pair_lists(val_list, kind, len(synsets)))
           if y < MINI_CLASSES]
    tests = {"webvision": _nonempty(val, val_list, kind, f"image of the first {MINI_CLASSES} classes")}
    notes = [f"{dropped} training rows of classes {MINI_CLASSES}..{len(synsets) - 1} left out (the mini setting)"] \
        if dropped else []
    if imagenet_val is not None:
        tests["ilsvrc12"] = _ilsvrc12(os.path.abspath(imagenet_val), [w for w, _ in synsets[:MINI_CLASSES]])
    return Listing(kind, [name for _, name in synsets[:MINI_CLASSES]],
                   _nonempty(rows, train_list, kind, f"image of the first {MINI_CLASSES} classes"), None, tests, None,
                   f"WebVision 1.0, Google images of its first {MINI_CLASSES} classes, in {root}", tuple(notes))


def _ilsvrc12(folder, wnids):
    """ILSVRC12 val of the given synsets, label i from DIR/wnids[i]/: WebVision's label i is its synsets.txt line i
    (ImageNet's sorted-wnid order), so the folder names, not the devkit's ground-truth ids, carry the label."""
    kind = "ilsvrc12"
    _need_dir(folder, kind)
    rows = []
    for label, wnid in enumerate(wnids):
        sub = os.path.join(folder, wnid)
        if not os.path.isdir(sub):
            flat = any(f.startswith("ILSVRC2012_val_") for f in os.listdir(folder)[:1000])
            hint = (" (it holds the val images in one flat folder, as the tar unpacks: sort them into per-synset "
                    "folders first)") if flat else ""
            raise DataError(f"no folder {sub}{hint}; {TITLE[kind]} is read from {LAYOUT[kind]}. {OBTAIN[kind]}")
        files = sorted(f for f in os.listdir(sub) if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS))
        _nonempty(files, sub + "/", kind, "image (.JPEG, .jpg or .png)")
        rows += [(os.path.join(sub, f), label) for f in files]
    return rows


# --- Clothing1M ---

def _clothing1m(root):
    kind = "clothing1m"
    ann = os.path.join(root, "annotations")
    # The authors' README unpacks the annotations into ROOT itself; APL and PLC read them from ROOT/annotations/.
    if not os.path.isfile(os.path.join(ann, "noisy_label_kv.txt")):
        ann = root if os.path.isfile(os.path.join(root, "noisy_label_kv.txt")) else ann
    classes = _clothing_classes(os.path.join(ann, "category_names_eng.txt"))
    _need_dir(os.path.join(root, "images"), kind)
    k = len(classes)
    noisy = dict(zip(*_pair_lists(os.path.join(ann, "noisy_label_kv.txt"), kind, k)))
    clean = dict(zip(*_pair_lists(os.path.join(ann, "clean_label_kv.txt"), kind, k)))
    train_keys, train = _keyed(os.path.join(ann, "noisy_train_key_list.txt"), noisy, "noisy_label_kv.txt", root)
    val = _keyed(os.path.join(ann, "clean_val_key_list.txt"), clean, "clean_label_kv.txt", root)[1]
    test = _keyed(os.path.join(ann, "clean_test_key_list.txt"), clean, "clean_label_kv.txt", root)[1]
    train_keys = set(train_keys)
    known = {f"{root}/{key}": label for key, label in clean.items() if key in train_keys}
    return Listing(kind, classes, train, val, {"clean-test": test}, known,
                   f"Clothing1M (Xiao et al. 2015), annotations in {ann}",
                   (f"{len(known)} of the {len(train)} training images have a clean label too",))


def _clothing_classes(path):
    if not os.path.isfile(path):
        return list(CLOTHING1M_CLASSES)
    names = [line.strip() for line in _lines(path, "clothing1m") if line.strip()]
    if len(names) != len(CLOTHING1M_CLASSES):
        raise DataError(f"{path} names {len(names)} classes, not Clothing1M's {len(CLOTHING1M_CLASSES)}; the file is "
                        f"damaged, or not Clothing1M's")
    return names


def _keyed(path, labels, kv_name, root):
    """(keys, [(ROOT/key, label)]) of a key list (one `images/0/00/<name>.jpg` a line), each key's label from its
    kv file; the loops in C, as in _pair_lists."""
    kind = "clothing1m"
    lines = _lines(path, kind)
    keys = [k for k in map(str.strip, lines) if k]
    found = list(map(labels.get, keys))
    if None in found:
        n = next(n for n, line in enumerate(lines, 1) if line.strip() and line.strip() not in labels)
        raise DataError(f"{path}:{n}: {lines[n - 1].strip()[:80]!r} has no label in {kv_name}; the lists are of "
                        f"different releases, or damaged")
    return keys, _nonempty(list(zip(map(f"{root}/".__add__, keys), found)), path, kind, "image")


# --- ANIMAL-10N ---

def _animal10n(root):
    kind = "animal10n"
    train = _animal_folder(os.path.join(root, "training"))
    test = _animal_folder(os.path.join(root, "testing"))
    return Listing(kind, list(ANIMAL10N_CLASSES), train, None, {"test": test}, None,
                   f"ANIMAL-10N (Song et al. 2019), in {root}")


def _animal_folder(folder):
    """[(path, label)] of a folder of <label>_<id>.jpg, sorted by name (the listing order of a folder is not)."""
    kind, rows = "animal10n", []
    _need_dir(folder, kind)
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):
            continue  # a file manager's .DS_Store and the like
        head = name.split("_", 1)[0]
        if "_" not in name or not head.isdigit():
            raise DataError(f"{os.path.join(folder, name)} is not named <label>_<id>.jpg; {kind} is read from "
                            f"{LAYOUT[kind]}")
        if int(head) >= len(ANIMAL10N_CLASSES):
            raise DataError(f"{os.path.join(folder, name)}: label {int(head)} is outside "
                            f"0..{len(ANIMAL10N_CLASSES) - 1}; {kind} has {len(ANIMAL10N_CLASSES)} classes")
        rows.append((os.path.join(folder, name), int(head)))
    return _nonempty(rows, folder + "/", kind, "image")


# --- Food-101N, tested on Food-101 ---

def _food101n(root, food101):
    kind, meta = "food101n", os.path.join(root, "meta")
    if food101 is None:
        raise DataError(f"food101n is tested on Food-101's test split: give food101=DIR, the folder with "
                        f"{LAYOUT['food101']}. {OBTAIN['food101']}")
    classes = _food_classes(os.path.join(meta, "classes.txt"))
    index = {c: i for i, c in enumerate(classes)}
    _need_dir(os.path.join(root, "images"), kind)
    train = _by_folder(os.path.join(meta, "imagelist.tsv"), index, f"{root}/images/", "", kind)
    known, flags, dropped = {path for path, _ in train}, {}, 0
    for name in ("verified_train.tsv", "verified_val.tsv"):
        path = os.path.join(meta, name)
        lines = _lines(path, kind)
        for n in range(_header(lines) + 1, len(lines) + 1):
            parts = lines[n - 1].split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1"):
                raise _bad_line(path, n, lines[n - 1], "<class>/<hash>.jpg<TAB>0 or 1")
            image = f"{root}/images/{parts[0]}"
            # A key whose class is not the one imagelist.tsv gives it verifies another label than the one
            # trained on (other loaders note one such image in the release), so its flag says nothing of the
            # training label.
            if image in known:
                flags[image] = int(parts[1])
            else:
                dropped += 1
    test = _food101_test(os.path.abspath(food101), index)
    return Listing(kind, classes, train, None, {"food101-test": test}, flags,
                   f"Food-101N (Lee et al. 2018), in {root}; tested on Food-101's test split, in "
                   f"{os.path.abspath(food101)}",
                   (f"{dropped} verified keys not in imagelist.tsv (another class, or no such image) left out",)
                   if dropped else ())


def _food_classes(path):
    lines = _lines(path, "food101n")
    names = [line.strip() for line in lines[_header(lines):] if line.strip()]
    if len(set(names)) != len(names) or not names:
        raise DataError(f"{path} names no classes, or one twice; the file is damaged, or not Food-101N's")
    return names


def _by_folder(path, index, prefix, suffix, kind):
    """[(prefix + line + suffix, label)] of a list of <class>/<name> lines (a header skipped): the class folder
    is the label."""
    lines, rows = _lines(path, kind), []
    for n in range(_header(lines) + 1, len(lines) + 1):
        line = lines[n - 1].strip()
        if not line:
            continue
        folder, slash, name = line.partition("/")
        if not slash or not name:
            raise _bad_line(path, n, line, "<class>/<name>")
        label = index.get(folder)
        if label is None:
            raise DataError(f"{path}:{n}: class {folder[:80]!r} is not one of the {len(index)} of Food-101N's "
                            f"meta/classes.txt")
        rows.append((prefix + line + suffix, label))
    return _nonempty(rows, path, kind, "image")


def _food101_test(folder, index):
    """Food-101's meta/test.txt (<class>/<id> lines, no extension), labelled by Food-101N's class list: the two
    share their 101 classes."""
    kind = "food101"
    _need_dir(folder, kind)
    _need_dir(os.path.join(folder, "images"), kind)
    return _by_folder(os.path.join(folder, "meta", "test.txt"), index, f"{folder}/images/", ".jpg", kind)
