"""The training device's side of the data: the stratified split, batches cut by index, augmentation, normalisation.

The images stay on the device as one uint8 tensor per split; each batch is cut from it by index,
and augmentation and normalisation run there on the whole batch at once, with no DataLoader.
"""
import functools

import numpy as np
import torch
import torch.nn.functional as F

from .errors import UserError


def epoch_seed(seed, epoch):
    """The seed of epoch `epoch`'s data order and augmentation: in memory (engine.epoch_generators) and streamed
    (stream.epoch_order) alike, so a set is shuffled the same either way, resumed or not."""
    return seed * 1_000_003 + epoch


def stratified_split(labels, val_fraction, seed, num_classes=None):
    """Indices (train, val): round(val_fraction * n_c) of each class c go to validation, at least one and at most
    n_c - 1 where the class has two or more images (a small class keeps one in each part); a class of one image
    trains."""
    rng = np.random.default_rng(seed)
    val = []
    for c in range(int(labels.max()) + 1 if num_classes is None else num_classes):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(val_fraction * idx.size))
        if val_fraction > 0 and idx.size >= 2:
            k = min(max(k, 1), idx.size - 1)
        val.append(idx[: k if idx.size >= 2 else 0])
    val = np.sort(np.concatenate(val)).astype(np.int64)
    return np.setdiff1d(np.arange(len(labels)), val), val


def check_split(y, va, val_fraction, classes):
    """One line of warning (None if none) naming the classes of one image, which train and have no validation
    image; UserError where a validation split was asked for and no class could give it one."""
    if val_fraction == 0:
        return None
    if len(va) == 0:
        raise UserError(f"--val-fraction {val_fraction} asks for a validation split, and no class has two images "
                        f"(by its noisy labels) to give it one; add images, or use --val-fraction 0 (no selection)")
    ones = [classes[c] for c in np.flatnonzero(np.bincount(y, minlength=len(classes)) == 1)]
    if not ones:
        return None
    return (f"class{'es' * (len(ones) > 1)} {', '.join(map(str, ones[:5]))}{', ...' if len(ones) > 5 else ''} "
            f"ha{'ve' if len(ones) > 1 else 's'} one image (by the noisy labels): it trains, and the validation split "
            f"has none of {'them' if len(ones) > 1 else 'it'}")


def index_batches(n, batch_size, device, gen=None, drop_last=False):
    """Index tensors on `device` for one pass over n samples, shuffled by `gen` when given.

    The permutation is drawn on the CPU from a seeded generator so the order is
    the same on every device; it is moved to the device once per epoch.
    """
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    order = order.to(device)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        yield order[i : i + batch_size]


def augment(x, gen, flip=True, rotate=0.0):
    """Random crop with 4-pixel zero padding, (if flip) horizontal flip, and (if rotate) a rotation by an angle
    drawn uniformly from [-rotate, rotate] degrees, each drawn per image: uint8 [B, C, H, W].

    gen is a generator on x's device, so drawing the offsets needs no host-to-device copy.
    """
    B, C, H, W = x.shape
    dev = x.device
    padded = F.pad(x, (4, 4, 4, 4))  # [B, C, H+8, W+8]
    off = torch.randint(0, 9, (2, B), generator=gen, device=dev)
    flips = torch.rand(B, generator=gen, device=dev) < 0.5  # drawn either way: the same crops with or without
    rows = off[0][:, None] + torch.arange(H, device=dev)  # [B, H]
    cols = off[1][:, None] + torch.arange(W, device=dev)  # [B, W]
    if flip:
        cols = torch.where(flips[:, None], cols.flip(1), cols)  # reading columns backwards is the flip
    b = torch.arange(B, device=dev)[:, None, None, None]
    c = torch.arange(C, device=dev)[None, :, None, None]
    out = padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]  # [B, C, H, W]
    if rotate:  # drawn only when asked for: runs without it keep the draws they always had
        out = rotate_images(out, (torch.rand(B, generator=gen, device=dev) * 2 - 1) * rotate)
    return out


def rotate_images(x, degrees):
    """Rotate each uint8 image [B, C, H, W] about its centre by degrees [B], nearest pixel, zeros outside.

    As the released code's RandomRotation: nearest-neighbour, so every pixel keeps a value it had.
    """
    t = torch.deg2rad(degrees.float())
    cos, sin, zero = t.cos(), t.sin(), torch.zeros_like(t)
    # Output pixel -> input pixel, in coordinates normalised to [-1, 1] (square images: no aspect correction).
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)  # [B, 2, 3]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # [B, H, W, 2]
    return F.grid_sample(x.float(), grid, mode="nearest", padding_mode="zeros", align_corners=False).to(x.dtype)


@functools.cache
def _stats(device, mean, std):
    # Made once per device and data set: building them per batch would be a host-to-device copy every step.
    shape = (1, len(mean), 1, 1)
    return torch.tensor(mean, device=device).view(shape) * 255, torch.tensor(std, device=device).view(shape) * 255


def normalize(x, spec):
    """uint8 [B, C, H, W] -> float32, standardised with the data set's channel statistics."""
    mean, std = _stats(x.device, spec.mean, spec.std)
    return (x.float() - mean) / std
