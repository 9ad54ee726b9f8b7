"""Real images in the real-world sets' official layouts, for the tests: the CIFAR-10 subset's images and labels
(../shared) written as JPEGs where WebVision, Clothing1M, ANIMAL-10N and Food-101N keep theirs, with the list
files each layout reads. Label c of CIFAR-10 is label c of every set; the sets' other classes have rows that point
to no image (WebVision's classes >= 50) or no rows at all, as a real subset would."""
import os
import pickle

import numpy as np
from PIL import Image

from helpers import shared


def cifar10(n_train=None, n_test=None):
    """(x_train, y_train, x_test, y_test) of the CIFAR-10 subset: uint8 [N, 32, 32, 3] and int labels."""
    root = os.path.join(shared("cifar10-subset"), "cifar-10-batches-py")

    def batch(name):
        with open(os.path.join(root, name), "rb") as f:
            d = pickle.load(f, encoding="latin1")
        return np.asarray(d["data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.asarray(d["labels"])
    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    xt, yt = batch("test_batch")
    return x[:n_train], y[:n_train], xt[:n_test], yt[:n_test]


def jpeg(path, pixels):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path, quality=95)


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in lines))


def webvision(root, x, y, xt, yt):
    """info/ lists (1,000 synsets; train rows of class 50 and 999 that point to no file), google/, val_images_256/."""
    write(f"{root}/info/synsets.txt", [f"n{i:08d} class {i}" for i in range(1000)])
    rows = []
    for i, (img, c) in enumerate(zip(x, y)):
        name = f"google/q{c + 1:04d}/{i:06d}.jpg"
        jpeg(f"{root}/{name}", img)
        rows.append(f"{name} {c}")
    write(f"{root}/info/train_filelist_google.txt", rows + ["google/q0051/none.jpg 50", "google/q1000/none.jpg 999"])
    for i, img in enumerate(xt):
        jpeg(f"{root}/val_images_256/val{i + 1:06d}.jpg", img)
    write(f"{root}/info/val_filelist.txt", [f"val{i + 1:06d}.jpg {c}" for i, c in enumerate(yt)])
    return root


def imagenet_val(root, xt, yt):
    """ILSVRC12 val in per-synset folders, for webvision()'s synsets: label c's images under n{c:08d}/, and one grey
    image in each of the other 40 of the first 50 (the reader needs every one of them)."""
    for i, (img, c) in enumerate(zip(xt, yt)):
        jpeg(f"{root}/n{c:08d}/ILSVRC2012_val_{i + 1:08d}.JPEG", img)
    for c in range(10, 50):
        jpeg(f"{root}/n{c:08d}/ILSVRC2012_val_{len(xt) + c:08d}.JPEG", np.full((32, 32, 3), 128, np.uint8))
    return root


def animal10n(root, x, y, xt, yt):
    """training/ and testing/ of <label>_<id>.jpg."""
    for part, images, labels in (("training", x, y), ("testing", xt, yt)):
        for i, (img, c) in enumerate(zip(images, labels)):
            jpeg(f"{root}/{part}/{c}_{i}.jpg", img)
    return root


def clothing1m(root, x, y, xt, yt, n_val):
    """annotations/ key lists and kv files, images/<d>/<dd>/<name>.jpg; the first n_val test images are the clean
    val list, the rest the clean test list; every 5th training image also has a clean label (its CIFAR one)."""
    keys = lambda part, n: [f"images/{i % 10}/{i % 100:02d}/{part}{i}.jpg" for i in range(n)]  # noqa: E731
    train, held = keys("t", len(x)), keys("c", len(xt))
    for k, img in zip(train + held, list(x) + list(xt)):
        jpeg(f"{root}/{k}", img)
    ann = f"{root}/annotations"
    write(f"{ann}/noisy_label_kv.txt", [f"{k} {c}" for k, c in zip(train, y)])
    write(f"{ann}/noisy_train_key_list.txt", train)
    write(f"{ann}/clean_label_kv.txt", [f"{k} {c}" for k, c in zip(train[::5] + held, list(y[::5]) + list(yt))])
    write(f"{ann}/clean_train_key_list.txt", train[::5])
    write(f"{ann}/clean_val_key_list.txt", held[:n_val])
    write(f"{ann}/clean_test_key_list.txt", held[n_val:])
    return root


def food101n(root, food101, x, y, xt, yt):
    """Food-101N's meta/ (classes.txt, imagelist.tsv, verified_*.tsv with headers) and images/<class>/<hash>.jpg,
    and Food-101's meta/test.txt and images/ for its test split; the classes are 101, c0 .. c100."""
    classes = [f"c{i:03d}" for i in range(101)]
    write(f"{root}/meta/classes.txt", ["class_name"] + classes)
    keys = [f"{classes[c]}/{i:08x}.jpg" for i, c in enumerate(y)]
    for k, img in zip(keys, x):
        jpeg(f"{root}/images/{k}", img)
    write(f"{root}/meta/imagelist.tsv", ["class_name/key"] + keys)
    header = "class_name/key\tverification_label"
    write(f"{root}/meta/verified_train.tsv", [header] + [f"{k}\t1" for k in keys[::4]])
    write(f"{root}/meta/verified_val.tsv", [header] + [f"{k}\t1" for k in keys[1::8]])
    write(f"{food101}/meta/classes.txt", classes)
    write(f"{food101}/meta/test.txt", [f"{classes[c]}/{i}" for i, c in enumerate(yt)])
    for i, (img, c) in enumerate(zip(xt, yt)):
        jpeg(f"{food101}/images/{classes[c]}/{i}.jpg", img)
    return root, food101
