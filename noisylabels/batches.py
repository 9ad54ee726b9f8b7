"""The training device's side of the data: the stratified split, batches cut by index, augmentation (crop, flip,
rotation; colour jitter for the streamed sets), normalisation.

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


GREY = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights (ITU-R 601-2 luma)


def _grey(x):
    """Luma [B, 1, H, W] of float RGB [B, 3, H, W]."""
    w = torch.tensor(GREY, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _hue(x, shift):
    """Shift each image's hue by shift [B] turns (of the HSV hue circle), for float RGB in [0, 1].

    RGB -> HSV -> RGB written in closed form: with M, m the largest and smallest channel and C = M - m, the hue
    in sixths of a turn is (g - b) / C mod 6 where r is the largest, (b - r) / C + 2 where g, (r - g) / C + 4
    where b; each channel n of the shifted hue h' is M - C * clamp(min(k, 4 - k), 0, 1) with k = (n + h') mod 6
    and n = 5, 3, 1 for R, G, B. V (= M) and S (= C / M) are kept, as torchvision's adjust_hue keeps them.
    """
    r, g, b = x.unbind(1)
    M, m = x.amax(1), x.amin(1)
    C = M - m
    safe = torch.where(C > 0, C, torch.ones_like(C))  # grey pixels (C = 0): any hue; they stay grey
    h = torch.where(M == r, torch.remainder((g - b) / safe, 6),
                    torch.where(M == g, (b - r) / safe + 2, (r - g) / safe + 4))
    h = torch.remainder(h + 6 * shift.view(-1, 1, 1), 6)  # [B, H, W]
    n = torch.tensor([5.0, 3.0, 1.0], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    k = torch.remainder(n + h[:, None], 6)
    return M[:, None] - C[:, None] * torch.clamp(torch.minimum(k, 4 - k), 0, 1)


def colour_jitter(x, gen, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.2):
    """torchvision's ColorJitter on each image of a uint8 batch [B, 3, H, W], on its device; uint8 out.

    Per image, as ColorJitter: factors b, c, s uniform in [max(0, 1 - v), 1 + v] for brightness, contrast,
    saturation v, and a hue shift uniform in [-hue, hue] turns (hue <= 0.5), applied in a random order of the
    four. Brightness blends with black (x * b), contrast with the mean of the image's luma, saturation with the
    luma of each pixel (x * f + (1 - f) * d), each clamped to [0, 1]; hue shifts H in HSV. The ops run in float
    and are rounded to uint8 once, at the end (torchvision rounds after each op on uint8; the difference is
    under one grey level). A factor of 0 leaves its op out (ColorJitter's None), so all four at 0 is the identity.

    gen is a generator on x's device (as batches.augment's): 8 uniforms per image, 4 for the factors and 4
    whose argsort is the order, drawn whatever the factors so the stream of draws never depends on them.
    """
    if not 0 <= hue <= 0.5 or min(brightness, contrast, saturation) < 0:
        raise ValueError(f"colour_jitter: hue must be in [0, 0.5] and the other factors >= 0 (got {brightness}, "
                         f"{contrast}, {saturation}, {hue})")
    u = torch.rand(x.shape[0], 8, generator=gen, device=x.device)
    spread = lambda v, t: max(0.0, 1 - v) + (1 + v - max(0.0, 1 - v)) * t  # noqa: E731  uniform [max(0, 1-v), 1+v]
    f = [spread(brightness, u[:, 0]), spread(contrast, u[:, 1]), spread(saturation, u[:, 2]), hue * (2 * u[:, 3] - 1)]
    order = u[:, 4:].argsort(1)  # [B, 4]: image i applies op order[i, 0] first, ...
    blends = torch.stack(f[:3] + [torch.ones_like(f[0])], 1)  # [B, 4]: each op's blend factor; 1 for hue

    def blend(y, pos):
        # The op at position pos [B, 1] of each image's order (none where pos is outside 0..3), for the whole batch
        # at once with no sync: the three blends are one, x * f + (1 - f) * d with d = 0 (brightness), the luma's
        # mean (contrast) or the luma (saturation), and f = 1 (exactly the identity) where an image has no op here.
        op = torch.where((pos >= 0) & (pos <= 3), order.gather(1, pos.clamp(0, 3)), 3).view(-1, 1, 1, 1)
        fb = blends.gather(1, op.view(-1, 1)).view(-1, 1, 1, 1)
        grey = _grey(y)  # [B, 1, H, W]
        d = torch.where(op == 2, grey, torch.where(op == 1, grey.mean((1, 2, 3), keepdim=True), 0.0))
        return (fb * y + (1 - fb) * d).clamp(0, 1)

    # Hue, the costly op, is computed once: each image's order is aligned on its hue, at position p, with the
    # ops before it in three slots ahead (the last p of them) and those after it in three slots behind (the first
    # 3 - p): six cheap blends and one hue shift, not four of each.
    p = (order == 3).float().argmax(1, keepdim=True)  # [B, 1]
    y = x.float() / 255
    if not hue:  # nothing to align on: the four positions in turn (hue's is the identity)
        return _rounded(functools.reduce(blend, [torch.full_like(p, k) for k in range(4)], y)
                        if brightness or contrast or saturation else y)
    for k in range(3):
        y = blend(y, p - 3 + k)
    y = _hue(y, f[3])
    for k in range(3):
        y = blend(y, p + 1 + k)
    return _rounded(y)


def _rounded(y):
    return (y * 255).round().to(torch.uint8)  # once, at the end
