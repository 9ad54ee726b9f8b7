"""The streaming image path (noisylabels/stream.py): decoding as Pillow decodes one file at a time, the same
crops whatever the workers, draft decoding of the same region, the epoch orders, colour jitter and normalisation
against values worked out by hand. bench.py --decode's smoke tests are tests/test_benchdecode.py's.

The JPEGs are generated here with Pillow, of a few sizes, one grey and one CMYK; nothing is downloaded.
"""
import colorsys
import math
import types

import numpy as np
import pytest
import torch
from PIL import Image

from noisylabels import batches
from noisylabels import engine
from noisylabels import stream

S = 32  # the output side here; the evaluation resize is round(32 * 256 / 224) = 37
R = 37


def smooth(w, h, seed):
    """A uint8 HWC image of smooth colour fields: what a JPEG keeps well, so decoders agree on it."""
    rng = np.random.default_rng(seed)
    field = Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(field)


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    """(path, label) of 7 JPEGs: RGB of several shapes, a grey one, a CMYK one, and a large one for draft."""
    root = tmp_path_factory.mktemp("jpegs")
    out = []
    for i, (w, h, mode) in enumerate([(96, 64, "RGB"), (64, 96, "RGB"), (50, 50, "RGB"), (120, 90, "L"),
                                      (70, 100, "CMYK"), (256, 192, "RGB"), (41, 77, "RGB")]):
        a = smooth(w, h, i)
        img = Image.fromarray(a).convert(mode) if mode != "CMYK" else Image.fromarray(a).convert("CMYK")
        path = root / f"{i}.jpg"
        img.save(path, quality=92)
        assert Image.open(path).mode == mode
        out.append((str(path), i % 3))
    return out


def by_hand(path, size=S, resize=R):
    """One file as torchvision's eval transform would give it: RGB, shorter side to `resize`, centre crop."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    nw, nh = (resize, int(resize * h / w)) if w <= h else (int(resize * w / h), resize)
    a = np.asarray(img.resize((nw, nh), Image.Resampling.BILINEAR))
    top, left = int(round((nh - size) / 2)), int(round((nw - size) / 2))
    return torch.from_numpy(a[top : top + size, left : left + size].copy()).permute(2, 0, 1)


def batches_of(dl):
    return [(x.clone(), y.clone(), i.clone()) for x, y, i in dl]


def test_eval_loader_is_pillow_one_file_at_a_time_with_any_workers(items):
    ds = stream.ImageList(items, train=False, size=S)
    assert ds.resize == R == stream.eval_size(S) and stream.eval_size(224) == 256
    order = stream.epoch_order(len(items), 5, 0)
    want = [by_hand(items[i][0]) for i in order]
    for workers in (0, 2):
        got = batches_of(stream.loader(ds, order, 3, workers))
        assert [len(x) for x, _, _ in got] == [3, 3, 1]  # evaluation keeps the last partial batch
        x, y, idx = (torch.cat(t) for t in zip(*got))
        assert x.dtype == torch.uint8 and x.shape == (len(items), 3, S, S)
        assert idx.tolist() == order.tolist() and y.tolist() == [items[i][1] for i in order]
        assert all(torch.equal(a, b) for a, b in zip(x, want)), workers


def test_training_crops_depend_on_seed_epoch_index_only(items):
    ds = stream.ImageList(items, train=True, size=S, seed=3)
    order = stream.epoch_order(len(items), 3, 0)
    alone = batches_of(stream.loader(ds, order, 2, 0, epoch=0))
    assert len(alone) == 3  # 7 images in batches of 2: the last partial batch dropped, as in memory
    for a, b in zip(alone, batches_of(stream.loader(ds, order, 2, 2, epoch=0))):
        assert all(torch.equal(u, v) for u, v in zip(a, b))
    other = batches_of(stream.loader(ds, order, 2, 0, epoch=1))
    assert not torch.equal(alone[0][0], other[0][0]) and torch.equal(alone[0][2], other[0][2])
    # persistent workers moved to the next epoch give what fresh ones give: a resumed run sees the same
    dl = stream.loader(ds, order, 2, 2, epoch=0, persistent=True)
    first = batches_of(dl)
    second = batches_of(stream.next_epoch(dl, order, 1))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, alone))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(second, other))
    # a sample's crop is its own: the same (epoch, index) alone, in any order or batch
    assert torch.equal(ds[(1, int(order[0]))][0], other[0][0][0])


def test_the_loader_draws_nothing_from_the_global_rng(items):
    state = torch.get_rng_state()
    for workers in (0, 2):
        list(stream.loader(stream.ImageList(items, train=True, size=S), range(len(items)), 4, workers))
    assert torch.equal(state, torch.get_rng_state())


def test_a_repeated_index_gets_its_own_crop(items):
    assert stream.draws([5, 3, 5, 5, 3]).tolist() == [0, 0, 1, 2, 1]
    ds = stream.ImageList(items, train=True, size=S)
    x, _, idx = next(iter(stream.loader(ds, [5, 5, 5], 3, 0)))
    assert idx.tolist() == [5, 5, 5] and not torch.equal(x[0], x[1]) and not torch.equal(x[1], x[2])


def test_drop_last_as_the_in_memory_path(items):
    ds = stream.ImageList(items, train=True, size=S)
    assert [len(b[0]) for b in stream.loader(ds, range(7), 3, 0)] == [3, 3]
    assert [len(b[0]) for b in stream.loader(ds, range(2), 3, 0)] == [2]  # shorter than a batch: that batch
    assert len(stream.loader(ds, range(7), 3, 0)) == 2


def test_crop_box_follows_random_resized_crops_definition():
    g = torch.Generator().manual_seed(0)
    for _ in range(300):
        u = torch.rand(2 * stream.TRIES + 3, generator=g, dtype=torch.float64).tolist()
        left, top, w, h = stream.crop_box(500, 375, u)
        assert 0 <= left <= 500 - w and 0 <= top <= 375 - h
        assert 0.08 * 0.9 <= w * h / (500 * 375) <= 1 and 3 / 4 * 0.9 <= w / h <= 4 / 3 * 1.1  # up to rounding
    # the first try that fits is taken: area 0.08 + 0.92 * 0.5 of the image, ratio exp(0) = 1
    u = [0.5, 0.5] + [0.0] * (2 * stream.TRIES - 2) + [0.0, 1.0, 0.0]
    side = round(math.sqrt(0.54 * 500 * 375))
    assert stream.crop_box(500, 375, u) == (500 - side, 0, side, side)
    # no try fits a 1000 x 10 strip: the centre crop of ratio 4/3, the nearest in range
    assert stream.crop_box(1000, 10, [0.99] * 23) == ((1000 - 13) // 2, 0, 13, 10)
    assert stream.crop_box(30, 30, [0.99] * 23) == (0, 0, 30, 30)  # its own ratio is in range: the whole image
    assert [stream.draft_scale(w, w, 32) for w in (31, 64, 127, 128, 256, 5000)] == [1, 2, 2, 4, 8, 8]


def test_draft_decodes_the_same_region(items):
    path, label = items[5]  # 256 x 192: crops of 64 px or more decode at 1/2, of 128 or more at 1/4
    plain = stream.ImageList([(path, label)], train=True, size=S, draft=False)
    draft = stream.ImageList([(path, label)], train=True, size=S, draft=True)
    scales = []
    for epoch in range(12):
        u = torch.rand(2 * stream.TRIES + 3, generator=stream.sample_generator(0, epoch, 0),
                       dtype=torch.float64).tolist()
        scales.append(stream.draft_scale(*stream.crop_box(256, 192, u)[2:], S))
        a, b = plain[(epoch, 0)][0].float(), draft[(epoch, 0)][0].float()
        assert (a - b).abs().mean() < 8, (epoch, scales[-1])
        if scales[-1] == 1:
            assert torch.equal(a, b)  # no draft where the crop is under 2 S: the same decode
    assert max(scales) >= 2


def test_unreadable_image_names_its_path(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(OSError, match=f"cannot read image {bad}"):
        stream.ImageList([(bad, 0)], train=True, size=S)[0]


def square_by_hand(path, size=S, resize=R):
    """Clothing1M's transforms by hand: RGB, Resize((resize, resize)) with Pillow's bilinear, as an array."""
    return np.asarray(Image.open(path).convert("RGB").resize((resize, resize), Image.Resampling.BILINEAR))


def test_square_crops_are_resize_then_centre_or_random_crop(items):
    """square=True: Resize((R, R)) then CenterCrop(S) to test; in training a uniform S x S crop of the same resized
    image (no draft here), flipped or not."""
    c = int(round((R - S) / 2))
    ev = stream.ImageList(items, train=False, size=S, square=True)
    tr = stream.ImageList(items, train=True, size=S, square=True, draft=False)
    for i, (path, _) in enumerate(items):
        a = square_by_hand(path)
        assert torch.equal(ev[i][0], torch.from_numpy(a[c : c + S, c : c + S].copy()).permute(2, 0, 1))
        for epoch in range(4):
            got = tr[(epoch, i)][0].permute(1, 2, 0).numpy()
            crops = {(t, l): a[t : t + S, l : l + S] for t in range(R - S + 1) for l in range(R - S + 1)}
            assert any(np.array_equal(got, x) or np.array_equal(got, x[:, ::-1]) for x in crops.values()), (i, epoch)
    offsets = {tuple(tr[(e, 5)][0][:, 0, 0].tolist()) for e in range(12)}
    assert len(offsets) > 3  # the crop moves from epoch to epoch


def test_skip_bad_gives_label_minus_one(tmp_path, items):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    ds = stream.ImageList([(bad, 4), items[0]], train=True, size=S, skip_bad=True)
    x, y, i = ds[0]
    assert y == -1 and i == 0 and x.shape == (3, S, S) and not x.any()
    assert ds[1][1] == items[0][1]


def test_epoch_order_is_the_in_memory_paths():
    order = stream.epoch_order(50, 7, 3)
    assert sorted(order.tolist()) == list(range(50))
    assert order.tolist() == torch.randperm(50, generator=engine.epoch_generators(7, 3, "cpu")[0]).tolist()
    assert order.tolist() != stream.epoch_order(50, 7, 4).tolist()


def test_balanced_sample_counts():
    labels = np.array([0] * 50 + [1] * 3 + [2] * 20 + [4] * 12)  # class 3 has no image
    s = stream.balanced_sample(labels, 52, seed=1, epoch=0)  # k = 52 // 5 = 10
    assert len(s) == 40 and s.dtype == np.int64
    per = {c: s[labels[s] == c] for c in (0, 1, 2, 4)}
    assert all(len(v) == 10 for v in per.values())
    assert all(len(set(per[c].tolist())) == 10 for c in (0, 2, 4))  # enough images: no repeats
    assert sorted(np.bincount(per[1] - 50).tolist()) == [3, 3, 4]  # 3 images, 10 slots: 3 each, 1 once more
    assert s.tolist() == stream.balanced_sample(labels, 52, seed=1, epoch=0).tolist()
    assert s.tolist() != stream.balanced_sample(labels, 52, seed=1, epoch=1).tolist()
    four = stream.balanced_sample(labels, 52, 1, 0, num_classes=4)  # k = 13; class 4 is not among the 4
    assert len(four) == 39 and np.bincount(labels[four], minlength=5).tolist() == [13, 13, 13, 0, 0]


# --- On the device ---------------------------------------------------------------------------------------------

def reference_jitter(x, u, b, c, s, hue):
    """ColorJitter on one image by hand, in float64: factors and order from the 8 uniforms u of that image."""
    y = x.double().permute(1, 2, 0).numpy() / 255  # HWC in [0, 1]
    lum = lambda a: a @ np.array(batches.GREY)  # noqa: E731
    f = [1 - b + 2 * b * u[0], 1 - c + 2 * c * u[1], 1 - s + 2 * s * u[2], hue * (2 * u[3] - 1)]
    for op in np.argsort(u[4:]):
        if op == 0:
            y = np.clip(y * f[0], 0, 1)
        elif op == 1:
            y = np.clip(f[1] * y + (1 - f[1]) * lum(y).mean(), 0, 1)
        elif op == 2:
            y = np.clip(f[2] * y + (1 - f[2]) * lum(y)[..., None], 0, 1)
        else:
            hsv = [colorsys.rgb_to_hsv(*p) for p in y.reshape(-1, 3)]
            y = np.array([colorsys.hsv_to_rgb((hh + f[3]) % 1, ss, vv) for hh, ss, vv in hsv]).reshape(y.shape)
    return torch.from_numpy(y * 255).permute(2, 0, 1)


def test_colour_jitter_is_colorjitters_definition():
    x = torch.randint(0, 256, (8, 3, 5, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out = batches.colour_jitter(x, torch.Generator().manual_seed(9))
    u = torch.rand(8, 8, generator=torch.Generator().manual_seed(9)).double().numpy()
    assert len({tuple(np.argsort(r[4:])) for r in u}) > 1  # the images' orders differ
    for i in range(8):
        assert (out[i].double() - reference_jitter(x[i], u[i], 0.4, 0.4, 0.4, 0.2)).abs().max() <= 1.0


def test_colour_jitter_special_values():
    x = torch.randint(0, 256, (4, 3, 6, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    assert torch.equal(batches.colour_jitter(x, torch.Generator(), 0, 0, 0, 0), x)  # all factors 0: the identity
    # brightness alone: each image times its factor 0.6 + 0.8 u, rounded once
    out = batches.colour_jitter(x, torch.Generator().manual_seed(4), 0.4, 0, 0, 0)
    f = 0.6 + 0.8 * torch.rand(4, 8, generator=torch.Generator().manual_seed(4)).double()[:, 0]
    assert ((out.double() - (x.double() * f.view(-1, 1, 1, 1)).clamp(max=255)).abs() <= 0.5 + 1e-3).all()
    # hue: half a turn takes pure red (H 0) to cyan (H 0.5), in either direction; V and S are kept
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1).repeat(2, 1, 1, 1)
    assert torch.allclose(batches._hue(red, torch.tensor([0.5, -0.5])), torch.tensor([0.0, 1.0, 1.0]).view(1, 3, 1, 1))
    # and a shift of 1/6 turn takes it to yellow, 1/3 to green, exactly
    got = batches._hue(red, torch.tensor([1 / 6, 1 / 3]))
    assert torch.allclose(got[:, :, 0, 0], torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]), atol=1e-6)
    with pytest.raises(ValueError, match="hue must be in"):
        batches.colour_jitter(x, torch.Generator(), hue=0.6)


def test_a_streamed_batch_is_normalised_by_the_in_memory_path_s_function():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 3, 1, 1).repeat(2, 1, 2, 2)
    mean, std = (0.5, 0.2, 0.1), (0.25, 0.5, 2.0)
    want = torch.tensor([(0 - 0.5) / 0.25, (0.2 - 0.2) / 0.5, (1 - 0.1) / 2.0]).view(1, 3, 1, 1).expand(2, 3, 2, 2)
    got = batches.normalize(x, types.SimpleNamespace(mean=mean, std=std))  # a data set's Spec has both
    assert got.dtype == torch.float32 and torch.allclose(got, want, atol=1e-6)
