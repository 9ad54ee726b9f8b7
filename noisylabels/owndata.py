"""Your own images as a data set: a folder of class folders (`--dataset folder`) or one .npz (`--dataset npz`).

A folder holds PATH/train/<class>/* and PATH/test/<class>/*, any image Pillow opens; the classes are the
training folder's subfolders, sorted by name, and the labels are the folders the images are in, as given.
The images are decoded once, resized to --image-size (the shorter side, then the centre), and cached as
uint8 arrays in PATH/.cache-<size>px.npz with a checksum of the file list (names, sizes, times), so the second
run starts at once and a changed folder is decoded again. An .npz holds x_train, y_train, x_test, y_test
(uint8 images [N, H, W], [N, H, W, C] or [N, C, H, W]; integer labels) and optionally class_names.

Both give data.Data and a data.Spec: the channel statistics are those of the training images, the flip rule
is on (natural images), and `digest` (sha256 of the arrays) is what config.json records, so a run cannot be
resumed on other images, and the two forms of the same images give the same run. No torch here.
"""
import hashlib
import io
import os
import sys

import numpy as np

from . import labelfile
from .atomic import save_atomic
from .data import Data, Spec
from .realnoise import KINDS as REAL
from .errors import UserError
from .fetch import DataError

KINDS = ("folder", "npz")
IMAGE_SIZE = 32  # the side a folder's images are resized to where --image-size is not given


def digest(x_train, y_train, x_test, y_test):
    h = hashlib.sha256()
    for a in (x_train, y_train, x_test, y_test):
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def spec(kind, path, d, digest_):
    """The data set's Spec: its shape, its classes, the statistics of its training images on the 0..1 scale."""
    x = d.x_train.astype(np.float64) / 255  # [N, C, H, W]
    mean, std = x.mean((0, 2, 3)), x.std((0, 2, 3))
    return Spec(kind, os.path.basename(os.path.normpath(path)), len(d.classes), d.x_train.shape[1:],
                tuple(round(float(m), 6) for m in mean), tuple(round(float(max(s, 1e-6)), 6) for s in std), True, (),
                digest=digest_)


def resolve(cfg):
    """Check the flags of the user's own data against --dataset, and return the name of the run's data set (the
    fact data_name): folder-<folder name> or npz-<file stem>, so runs on two of one's own data sets never share a
    folder; None for a named data set."""
    kind, real = cfg["dataset"], cfg["dataset"] in REAL
    for key, applies in (("image_size", kind == "folder" or real), ("skip_bad_images", kind == "folder" or real),
                         ("clean_labels", kind in KINDS)):
        if cfg[key] not in (None, False) and not applies:
            raise UserError(f"--{key.replace('_', '-')} applies to --dataset "
                            f"{'folder or npz' if key == 'clean_labels' else 'folder or a real-world set'} "
                            f"only, not {kind}; leave it out")
    if real:
        return None  # realconfig.resolve fills and checks its crop side
    cfg["image_size"] = (cfg["image_size"] or IMAGE_SIZE) if kind == "folder" else None
    if cfg["image_size"] is not None and not 8 <= cfg["image_size"] <= 512:
        raise UserError(f"--image-size must be between 8 and 512 pixels, got {cfg['image_size']}")
    if kind not in KINDS:
        return None
    if cfg["data_dir"] is None:
        raise UserError(f"--dataset {kind} needs --data-dir: the {'folder with train/ and test/' if kind == 'folder' else '.npz file'} "
                        f"of your images")
    if cfg["noise"] in ("asym", "human", "human-matched"):
        raise UserError(f"--noise {cfg['noise']} needs {'a class map' if cfg['noise'] == 'asym' else 'human labels'} "
                        f"of cifar10, cifar100 or mnist, and --dataset {kind} has none; use pairflip (each class to "
                        f"the next), sym, uniform, idn, or --noise file with your own noisy labels")
    if cfg["clean_labels"] is not None:
        labelfile.check_format(cfg["clean_labels"], "--clean-labels")
        cfg["clean_labels"] = os.path.abspath(cfg["clean_labels"])
    stem = os.path.basename(os.path.normpath(cfg["data_dir"]))
    stem = os.path.splitext(stem)[0] if kind == "npz" else stem
    return f"{kind}-" + "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)


# --- the folder form ---

def listing(path, part):
    """[(class name, [file paths, sorted])] of PATH/part/, hidden files left out; DataError where it is unusable."""
    root = os.path.join(path, part)
    if not os.path.isdir(root):
        raise DataError(f"{path} has no {part}/ folder; --dataset folder reads PATH/train/<class>/ and "
                        f"PATH/test/<class>/ (docs/data-and-noise.md#your-own-data)")
    classes = sorted(c for c in os.listdir(root) if not c.startswith(".") and os.path.isdir(os.path.join(root, c)))
    if not classes:
        raise DataError(f"{root} has no class folders; put each class's images in {root}/<class name>/")
    out = []
    for c in classes:
        files = sorted(f for f in os.listdir(os.path.join(root, c)) if not f.startswith("."))
        files = [os.path.join(root, c, f) for f in files if os.path.isfile(os.path.join(root, c, f))]
        if not files:
            raise DataError(f"{os.path.join(root, c)}/ holds no images; add some, or remove the folder")
        out.append((c, files))
    return out


def list_sha(path, size, parts):
    h = hashlib.sha256(f"{size}\n".encode())
    for _, files in parts["train"] + parts["test"]:
        for f in files:
            st = os.stat(f)
            h.update(f"{os.path.relpath(f, path)}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


GREY = {"1", "L", "LA", "I", "I;16", "F"}  # Pillow's modes of one channel (LA: with transparency)


def header_mode(f):
    """The Pillow mode of the image in f, from its header alone; None where Pillow cannot open it."""
    from PIL import Image  # only a folder data set needs Pillow
    try:
        with Image.open(f) as im:
            return im.mode
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):  # not an image, or one it cannot read
        return None


def read(f, mode, size):
    """The image in f in mode ("L" or "RGB"), its shorter side resized to size and the centre square cut:
    uint8 [size, size] or [size, size, 3]; None where it cannot be decoded (a truncated file)."""
    from PIL import Image
    try:
        with Image.open(f) as im:
            im = im.convert(mode)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    w, h = im.size
    if (w, h) != (size, size):
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        im = im.crop((left, top, left + size, top + size))
    return np.asarray(im, dtype=np.uint8)


def decode(path, parts, size, skip_bad):
    """Every image of the listing as uint8 [N, C, size, size] with its labels; bad files refused or counted."""
    names = [c for c, _ in parts["train"]]
    files = [(part, c, f) for part in ("train", "test") for c, fs in parts[part] for f in fs]
    modes = {f: header_mode(f) for _, _, f in files}
    kinds = {"grey" if m in GREY else "colour" for m in modes.values() if m}
    mode = "RGB" if "colour" in kinds else "L"
    if len(kinds) > 1:
        print(f"note: {path} holds both greyscale and colour images; all are converted to RGB (3 channels)",
              file=sys.stderr)
    got, bad = {"train": ([], []), "test": ([], [])}, []
    for part, c, f in files:
        a = read(f, mode, size) if modes[f] else None
        if a is None:
            if not skip_bad:
                raise DataError(f"Pillow cannot open {f} as an image; remove it, or add --skip-bad-images to "
                                f"leave out every such file and count them")
            bad.append(f)
            continue
        got[part][0].append(a)
        got[part][1].append(names.index(c))
    out = []
    for part in ("train", "test"):
        images, labels = got[part]
        if not images:
            raise DataError(f"{path}/{part}/ holds no image Pillow can open; add images, or check the files")
        x = np.stack(images)
        out += [x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2), np.asarray(labels, dtype=np.int64)]
    return out, names, bad  # out: x_train [N, C, size, size], y_train [N], x_test, y_test


def load_folder(path, size, skip_bad):
    parts = {p: listing(path, p) for p in ("train", "test")}
    names = [c for c, _ in parts["train"]]
    extra = [c for c, _ in parts["test"] if c not in names]
    if extra:
        raise DataError(f"{path}/test/{extra[0]}/ is a class that {path}/train/ does not have; add its training "
                        f"images to train/{extra[0]}/, or remove it from test/")
    key = list_sha(path, size, parts)
    cache = os.path.join(path, f".cache-{size}px.npz")
    if os.path.isfile(cache):
        try:
            with np.load(cache) as z:
                if str(z["list_sha256"]) == key and (skip_bad or not len(z["bad"])):
                    arrays, names, bad = [z[k] for k in ("x_train", "y_train", "x_test", "y_test")], \
                        [str(n) for n in z["class_names"]], [str(b) for b in z["bad"]]
                    return arrays, names, bad, None
        except (OSError, ValueError, KeyError):  # a cache of another layout or half a file: decode again
            pass
    arrays, names, bad = decode(path, parts, size, skip_bad)

    def keep():
        buf = io.BytesIO()
        np.savez(buf, **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays)), class_names=np.array(names),
                 bad=np.array(bad, dtype=str), list_sha256=np.array(key))
        try:
            save_atomic(cache, lambda f: f.write(buf.getvalue()))
        except OSError as e:
            print(f"note: cannot write the cache {cache} ({e.strerror}); the images are decoded again on every run",
                  file=sys.stderr)
    return arrays, names, bad, keep


# --- the .npz form ---

def nchw(x, path, key):
    """uint8 images [N, H, W], [N, H, W, C] or [N, C, H, W] (C 1 or 3) -> [N, C, H, W]."""
    if x.dtype != np.uint8:
        raise DataError(f"{path}: {key} is {x.dtype}; store the images as uint8 0..255 (np.uint8(np.round(x * 255)) "
                        f"for images on the 0..1 scale)")
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[3] in (1, 3) and x.shape[1] not in (1, 3):
        return x.transpose(0, 3, 1, 2)
    if x.ndim == 4 and x.shape[1] in (1, 3):
        return x
    raise DataError(f"{path}: {key} has shape {x.shape}; images must be [N, H, W], [N, H, W, C] or [N, C, H, W] "
                    f"with C 1 or 3")


def load_npz(path):
    if not os.path.isfile(path):
        raise DataError(f"--data-dir {path} is not a file; --dataset npz reads one .npz with x_train, y_train, x_test "
                        f"and y_test")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in z.files]
            if missing:
                raise DataError(f"{path} has no {', '.join(missing)}; it must hold x_train, y_train, x_test, y_test "
                                f"(and may hold class_names)")
            got = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:  # not a zip, truncated, or object arrays (allow_pickle=False)
        raise DataError(f"cannot read {path} as an .npz of arrays ({e}); write it with np.savez") from None
    x, xt = nchw(got["x_train"], path, "x_train"), nchw(got["x_test"], path, "x_test")
    if x.shape[1:] != xt.shape[1:]:
        raise DataError(f"{path}: x_train's images are {x.shape[1:]} and x_test's {xt.shape[1:]}; give both one shape")
    ys = []
    for k, a in (("y_train", got["y_train"]), ("y_test", got["y_test"])):
        n = len(x) if k == "y_train" else len(xt)
        if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer) or (n and a.min() < 0):
            raise DataError(f"{path}: {k} must be {n} integer labels from 0, one per image; it is {a.dtype} {a.shape}")
        ys.append(a.astype(np.int64))
    C = int(max(ys[0].max(initial=-1), ys[1].max(initial=-1))) + 1
    names = [str(n) for n in got["class_names"]] if "class_names" in got else [str(c) for c in range(C)]
    if len(names) < C:
        raise DataError(f"{path}: the labels go up to {C - 1} but class_names names {len(names)} classes; name them all")
    return [x, ys[0], xt, ys[1]], names, [], None


def load(kind, path, size=IMAGE_SIZE, skip_bad=False):
    """(data.Data, data.Spec, keep) of the user's own data; DataError, one line, for everything wrong with it.

    keep() writes a newly decoded folder's cache (None where there is nothing to write): the caller calls it
    once it has checked the run too, so that a refused run leaves nothing behind."""
    arrays, names, bad, keep = load_folder(path, size, skip_bad) if kind == "folder" else load_npz(path)
    x, y, xt, yt = arrays
    counts = np.bincount(y, minlength=len(names))
    if (counts == 0).any():  # an npz class with no training image (a folder's are refused as empty folders)
        raise DataError(f"{path}: class {names[int(np.argmin(counts))]} has no training images; every class needs some")
    if len(yt) and yt.max() >= len(names) or (len(yt) and (counts[yt] == 0).any()):
        raise DataError(f"{path}: a test label is a class with no training images; remove those test images")
    if bad:
        print(f"note: left out {len(bad)} file(s) Pillow cannot open (--skip-bad-images), the first {bad[0]}",
              file=sys.stderr)
    d = Data(x, y, xt, yt, names)
    return d, spec(kind, path, d, digest(x, y, xt, yt)), keep
