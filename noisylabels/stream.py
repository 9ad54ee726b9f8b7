"""The streaming image path: JPEGs on disk decoded by DataLoader workers, for the sets too large to hold in memory.

This module owns the path from a list of (path, label) to uint8 batches on the device, and what is done to them
there: the decode with the training crop and flip (random-resized crop, as torchvision's RandomResizedCrop
defines it) or the evaluation resize and centre crop, in the workers; the order of each epoch (a permutation,
or a class-balanced sample drawn afresh); the DataLoader over that order. Colour jitter (batches.colour_jitter) and
the normalisation to float (batches.normalize) run on the device in batch, as the in-memory path's augmentation. The small sets keep that path, whose style this follows: images stay uint8 until the device.

Reproducible for resume: every random choice is a function of (seed, epoch, index), never of a process's RNG
state, so an epoch's images are the same whatever the number of workers, and a resumed run sees what an
unbroken one would.
"""
import hashlib
import math
import os
import struct

import numpy as np
import torch
from PIL import Image

from . import batches

SIZE = 224  # the output side S; the evaluation resize is S * 256 / 224 (256 at 224) unless given
SCALE = (0.08, 1.0)  # RandomResizedCrop's defaults: the crop's share of the image's area,
RATIO = (3 / 4, 4 / 3)  # and its aspect ratio (width / height)
TRIES = 10  # random boxes tried before the centre-crop fallback, as RandomResizedCrop
DRAFT_SCALES = (8, 4, 2, 1)  # the JPEG decoder's DCT scalings (libjpeg): 1/8, 1/4, 1/2, 1


def sample_generator(seed, epoch, index, draw=0):
    """A CPU torch.Generator for one sample's random choices, seeded by (seed, epoch, index, draw).

    draw numbers the repeats of an index within one epoch (a balanced sample can hold an image twice), so
    each repeat gets its own crop. The four numbers are hashed (BLAKE2b) into the 63-bit seed: a plain sum or
    product would give neighbouring samples related seeds, or two (epoch, index) pairs the same one.
    """
    key = hashlib.blake2b(struct.pack("<4q", seed, epoch, index, draw), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(key, "little") >> 1)


def crop_box(width, height, u, scale=SCALE, ratio=RATIO):
    """RandomResizedCrop's box (left, top, w, h) in an image of width x height, from uniforms u [2 * TRIES + 2].

    As its definition: up to TRIES times, an area of uniform(scale) times the image's and an aspect ratio
    log-uniform in ratio give w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)); the first box that
    fits is placed uniformly (top in 0..height - h, left in 0..width - w). If none fits, the fallback is the
    centre crop of the whole image, narrowed to the nearest ratio in range where the image's own is outside it.
    The uniforms are drawn up front, a fixed number per sample, so the flip after them never depends on how
    many tries the crop took.
    """
    area = width * height
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    for t in range(TRIES):
        target = area * (scale[0] + (scale[1] - scale[0]) * u[2 * t])
        r = math.exp(lo + (hi - lo) * u[2 * t + 1])
        w, h = round(math.sqrt(target * r)), round(math.sqrt(target / r))
        if 0 < w <= width and 0 < h <= height:
            top = min(int(u[2 * TRIES] * (height - h + 1)), height - h)  # uniform integer in 0..height-h
            left = min(int(u[2 * TRIES + 1] * (width - w + 1)), width - w)
            return left, top, w, h
    own = width / height
    if own < min(ratio):
        w, h = width, round(width / min(ratio))
    elif own > max(ratio):
        w, h = round(height * max(ratio)), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def draft_scale(w, h, size):
    """The largest DCT scaling (8, 4, 2 or 1) at which a w x h crop still covers size x size pixels."""
    return next((s for s in DRAFT_SCALES if min(w, h) >= s * size), 1)


def eval_size(size):
    """The evaluation resize of the shorter side for output side `size`: 256 at 224, S * 256 / 224 rounded."""
    return round(size * 256 / 224)


class ImageList(torch.utils.data.Dataset):
    """Images (3, S, S) uint8 decoded from a list of (path, label), with the label and the index.

    train=True: random-resized crop (scale, ratio) resized to S x S (bilinear, antialiased: torch's uint8
    kernel, within one level of Pillow's resize) and a horizontal flip with probability 1/2, each drawn from
    sample_generator(seed, epoch, index, draw); with draft, the JPEG is decoded at 1/2, 1/4 or 1/8 of its size
    where the crop still covers S pixels at that scale (libjpeg's DCT scaling: far less decoding, and a mean
    change of 1-3 grey levels once resized to S).
    train=False: the shorter side resized to `resize` (default eval_size(S)), the longer to int(resize * long /
    short), then the centre S x S crop, as torchvision's Resize then CenterCrop; no draft, so test images are
    exactly what the papers' code evaluates.
    square=True (Clothing1M's protocol): the image resized to resize x resize first (bilinear, Pillow's, after
    a draft where both sides keep `resize` pixels), then in training a uniform random S x S crop and the flip,
    in evaluation the centre S x S crop.
    Every image is converted to RGB as decoded (grey and CMYK JPEGs exist in these sets), before any resize.
    skip_bad=True: an image that cannot be read is returned as zeros with label -1 (the training loop leaves it
    out and counts it) instead of raising.

    A key is an index (epoch 0, draw 0) or a tuple (epoch, index) or (epoch, index, draw): loader() sends
    tuples, so the workers need no state that changes between epochs.
    """

    def __init__(self, items, train, size=SIZE, seed=0, resize=None, draft=True, flip=True, scale=SCALE,
                 ratio=RATIO, square=False, skip_bad=False):
        # One numpy array of fixed-width strings, not a list of a million str objects: a forked worker that reads a
        # list touches each object's reference count, copying the pages it sits on (PyTorch's "memory leak" with
        # DataLoader workers); an array is one object, and stays shared.
        # Bytes as the file system has them (os.fsencode): a byte a character, any name.
        self.paths = np.asarray([os.fsencode(str(p)) for p, _ in items], dtype=bytes)
        self.labels = np.asarray([int(y) for _, y in items], dtype=np.int64)
        self.train, self.size, self.seed, self.draft, self.flip = train, size, seed, draft, flip
        self.square, self.skip_bad = square, skip_bad
        self.resize = eval_size(size) if resize is None else resize
        self.scale, self.ratio = scale, ratio
        if self.resize < size:
            raise ValueError(f"resize {self.resize} is smaller than the crop {size}: the centre crop would not fit")

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, key):
        epoch, index, draw = (0, key, 0) if not isinstance(key, tuple) else (*key, 0)[:3]
        index = int(index)
        try:
            return self.decode(index, epoch, draw), int(self.labels[index]), index
        except OSError:
            if not self.skip_bad:
                raise
            return torch.zeros(3, self.size, self.size, dtype=torch.uint8), -1, index

    def decode(self, index, epoch=0, draw=0):
        """uint8 (3, S, S) of one sample: in training, the crop and flip of (epoch, index, draw)."""
        path = os.fsdecode(self.paths[index])
        try:
            with Image.open(path) as img:  # closed on the way out, even when a decode fails
                if self.square:
                    return self._square(img, epoch, index, draw)
                if not self.train:
                    return chw(centre_crop(rgb(img), self.size, self.resize))
                u = self._uniforms(epoch, index, draw)
                left, top, w, h = crop_box(*img.size, u, self.scale, self.ratio)
                s = draft_scale(w, h, self.size) if self.draft else 1
                if s > 1:
                    width = img.size[0]
                    # Image.draft is Pillow's no-op (None) for a format without DCT scaling. The decoder rounds
                    # the scaled size up; the box it returns, (0, 0, width / scale, height / scale), says the scale.
                    got = img.draft("RGB", (img.size[0] // s, img.size[1] // s))
                    s = width / got[1][2] if got else 1
                # The same region in decoded pixels; after a draft, to the nearest whole one (at most half a
                # decoded pixel off on each side, of a crop at least S of them wide).
                box = tuple(round(v / s) for v in (left, top, left + w, top + h))
                crop = chw(rgb(img).crop(box))[None]  # [1, 3, h, w], HWC in memory: the fast layout for this
                # torch's uint8 antialiased bilinear: within one level of Pillow's resize (torchvision's PIL path),
                # and 2.2x faster than it on one core (docs/speed.md)
                x = torch.nn.functional.interpolate(crop, size=(self.size, self.size), mode="bilinear",
                                                    antialias=True, align_corners=False)[0]
                return x.flip(2) if self.flip and u[2 * TRIES + 2] < 0.5 else x
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            # OSError: unreadable or truncated; the others are Pillow's for a malformed file. One line, the path.
            raise OSError(f"cannot read image {path}: {e}") from None


    def _uniforms(self, epoch, index, draw):
        # one draw for everything, a fixed number per sample: see crop_box
        return torch.rand(2 * TRIES + 3, generator=sample_generator(self.seed, epoch, index, draw),
                          dtype=torch.float64).tolist()

    def _square(self, img, epoch, index, draw):
        """torchvision's Resize((R, R)) then RandomCrop(S) and the flip (training) or CenterCrop(S) (evaluation)."""
        R, S = self.resize, self.size
        s = draft_scale(*img.size, R) if self.draft and self.train else 1
        if s > 1:
            img.draft("RGB", (img.size[0] // s, img.size[1] // s))
        img = rgb(img).resize((R, R), Image.Resampling.BILINEAR)
        if not self.train:
            top = left = int(round((R - S) / 2.0))
            return chw(img.crop((left, top, left + S, top + S)))
        u = self._uniforms(epoch, index, draw)
        top, left = (min(int(v * (R - S + 1)), R - S) for v in u[:2])  # uniform integers in 0..R-S
        x = chw(img.crop((left, top, left + S, top + S)))
        return x.flip(2) if self.flip and u[2 * TRIES + 2] < 0.5 else x


def chw(img):
    """A PIL RGB image as a uint8 tensor (3, H, W): a view of a writable HWC copy."""
    return torch.from_numpy(np.array(img)).permute(2, 0, 1)


def rgb(img):
    """The image in RGB (decoded now): grey and CMYK converted, an RGB one as it is (convert would copy it)."""
    img.load()
    return img if img.mode == "RGB" else img.convert("RGB")


def centre_crop(img, size, resize):
    """torchvision's Resize(resize) then CenterCrop(size) on a PIL image: shorter side to resize (bilinear,
    antialiased), the longer to int(resize * long / short), then the centre size x size (offsets rounded)."""
    w, h = img.size
    if w <= h:
        nw, nh = resize, int(resize * h / w)
    else:
        nw, nh = int(resize * w / h), resize
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.Resampling.BILINEAR)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def epoch_order(n, seed, epoch):
    """Epoch `epoch`'s order of n samples: a permutation (int64 array), a function of (seed, epoch) alone."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(batches.epoch_seed(seed, epoch))).numpy()


def balanced_sample(labels, per_epoch, seed, epoch, num_classes=None):
    """A class-balanced sample of indices for one epoch, drawn afresh each epoch (DivideMix's and ELR+'s
    Clothing1M training), shuffled, a function of (seed, epoch) alone.

    The rule: k = per_epoch // C images of each of the C classes (num_classes, else max label + 1), so the sample
    has C * k indices (per_epoch rounded down to a multiple of C). A class of k or more images gives k distinct
    ones, uniformly; a class of n < k gives each of its images k // n times and k % n of them once more (the
    fewest repeats: sampling with replacement, only where it must). A class with no image gives none.
    DivideMix instead caps each class at per_epoch / C without replacement, so a small class leaves the sample
    short; on Clothing1M (per_epoch 32,000 or 64,000, every class over 18,000 noisy images) both give the same.
    """
    labels = np.asarray(labels)
    C = int(labels.max()) + 1 if num_classes is None else num_classes
    k = per_epoch // C
    g = torch.Generator().manual_seed(batches.epoch_seed(seed, epoch))
    out = []
    for c in range(C):
        idx = np.flatnonzero(labels == c)
        if len(idx) == 0:
            continue
        take = np.concatenate([np.tile(np.arange(len(idx)), k // len(idx)),
                               torch.randperm(len(idx), generator=g).numpy()[: k % len(idx)]])
        out.append(idx[take])
    out = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    return out[torch.randperm(len(out), generator=g).numpy()].astype(np.int64)


def draws(indices):
    """For each position of indices, how many times its index came before it (0 for the first occurrence)."""
    indices = np.asarray(indices, dtype=np.int64)
    order = np.argsort(indices, kind="stable")
    s = indices[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # where each run of one index begins
    counts = np.arange(len(s)) - np.repeat(starts, np.diff(np.r_[starts, len(s)]))
    out = np.empty_like(counts)
    out[order] = counts
    return out


class EpochBatches(torch.utils.data.Sampler):
    """The batches of keys (epoch, index, draw) of one epoch: a batch sampler the main process iterates, so
    set() between epochs reaches persistent workers too.

    drop_last as the in-memory path (engine.train_epoch): a training epoch drops its last partial batch
    unless the epoch is shorter than one batch (then it is that one batch); evaluation keeps every sample.
    """

    def __init__(self, indices, batch_size, epoch, train):
        self.batch_size, self.train = batch_size, train
        self.set(indices, epoch)

    def set(self, indices, epoch):
        self.indices, self.epoch = np.asarray(indices, dtype=np.int64), int(epoch)
        self.draws = draws(self.indices)
        n = len(self.indices)
        self.stop = n - n % self.batch_size if self.train and n >= self.batch_size else n

    def __len__(self):
        return -(-self.stop // self.batch_size)

    def __iter__(self):
        keys = list(zip([self.epoch] * self.stop, self.indices[: self.stop].tolist(), self.draws[: self.stop].tolist()))
        for i in range(0, self.stop, self.batch_size):
            yield keys[i : i + self.batch_size]


def loader(dataset, indices, batch_size, workers, epoch=0, persistent=False, pin_memory=None, prefetch=2):
    """A DataLoader of (uint8 [B, 3, S, S], labels [B], indices [B]) over `indices` in their order, for `epoch`.

    pin_memory defaults to whether CUDA is available (pinned batches copy to the GPU asynchronously). With
    persistent=True the workers outlive each pass: give the next epoch with next_epoch(dl, indices, epoch).
    The DataLoader gets its own generator, so it takes no number from torch's global RNG (its workers' base
    seed would otherwise be drawn from it, moving every later global draw of the run).
    """
    pin = torch.cuda.is_available() if pin_memory is None else pin_memory
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=EpochBatches(indices, batch_size, epoch, dataset.train), num_workers=workers,
        pin_memory=pin, persistent_workers=persistent and workers > 0, generator=torch.Generator().manual_seed(0),
        prefetch_factor=prefetch if workers > 0 else None)


def next_epoch(dl, indices, epoch):
    """Point a loader() at another epoch's order; its workers, persistent or not, serve it on the next pass."""
    dl.batch_sampler.set(indices, epoch)
    return dl


# --- On the device, in batch -------------------------------------------------------------------------------------
