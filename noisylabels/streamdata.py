"""A run's data on a real-world noisy set (realnoise.KINDS): its lists read and split, its images streamed from disk.

prepare(cfg, device) is rundata.prepare's counterpart for these sets and gives what it gives: the split train.py's
epochs call (StreamSplit, with rundata.Split's fit, validate and test), noise.json's record, the labels and the Spec.
The images are never all in memory: DataLoader workers decode them (stream.py) with the training crop and flip, and
the batches are colour-jittered and normalised on the device. The labels are the set's own noisy ones, so the
memorisation columns, which need the true label of every training image, stay empty.
"""
import sys

import numpy as np
import torch

from . import batches
from . import data
from . import presets
from . import realconfig
from . import realnoise
from . import stream
from .engine import autocast, epoch_generators, fit, inputs, score
from .errors import UserError


def spec_of(cfg, classes):
    """The Spec a run on a real-world set trains with: its crop side, its classes, its channel statistics."""
    kind, side = cfg["dataset"], cfg["image_size"]
    mean, std = realconfig.STATS[kind]
    return data.Spec(kind, realnoise.TITLE[kind], len(classes), (3, side, side), mean, std, True, ())


class StreamSplit:
    """The training split (its positions in the training list: tr), the validation images (the set's own clean
    list, or a stratified part of its training list) and the named test sets, each an ImageList, with what
    rundata.Split offers train.py. Images that cannot be read are counted under `skipped` with --skip-bad-images."""
    streamed = True
    T = None  # no transition matrix: the noise is the data set's own
    clean_known = False

    def __init__(self, cfg, train, tr, val, tests, classes, device):
        # Without --augment a training image is decoded as a test image is: resized and centre-cropped.
        self.train = images_of(cfg, train, train=cfg["augment"])
        self.val = images_of(cfg, val) if val else None
        self.tests = {name: images_of(cfg, items) for name, items in tests.items()}
        self.tr, self.cfg, self.device, self.classes = tr, cfg, device, classes
        self.y_tr = torch.from_numpy(self.train.labels).to(device)
        self.y_tr_true = self.y_tr  # unknown: nothing counts as flipped
        self.skipped = {}  # split or test set name -> the indices of its images that could not be read
        self.test_names = tuple(tests)  # the first is the one test_acc reports
        self.val_labels = "noisy"  # prepare(): "clean" where the set has its own clean validation list (Clothing1M)
        self._loader = None

    @property
    def sizes(self):
        return len(self.train), len(self.val) if self.val else 0, len(next(iter(self.tests.values())))

    def order(self, epoch):
        """Epoch `epoch`'s training positions: all in a fresh order, or --per-epoch's class-balanced sample. Both are
        functions of (seed, epoch) alone, so a resumed run draws what an unbroken one would."""
        cfg = self.cfg
        if cfg["per_epoch"]:
            return stream.balanced_sample(self.train.labels, cfg["per_epoch"], cfg["seed"], epoch, self.classes)
        return stream.epoch_order(len(self.train), cfg["seed"], epoch)

    def fit(self, step, cfg, epoch):
        """One training epoch over the workers' batches (engine.fit), colour-jittered on the device with --jitter."""
        order = self.order(epoch)
        if self._loader is None:  # its workers live as long as the run: no start-up cost each epoch
            self._loader = stream.loader(self.train, order, cfg["batch_size"], cfg["workers"], epoch, persistent=True)
        else:
            stream.next_epoch(self._loader, order, epoch)
        _, gen = epoch_generators(cfg["seed"], epoch, self.device)
        jitter = cfg["augment"] and cfg["jitter"]

        def feed():
            for batch in batches_of(self._loader):
                x, _, idx = readable(*batch, self.skipped.setdefault("train", set()))
                if len(idx):
                    x, idx = x.to(self.device, non_blocking=True), idx.to(self.device, non_blocking=True)
                    yield [batches.colour_jitter(x, gen) if jitter else x], idx
        return fit(step, feed(), self.y_tr, self.y_tr_true, len(self._loader))

    def _scores(self, step, images, name, batch_size):
        return score(step, *predict(step.model, images, batch_size, self.cfg["workers"], step.spec, step.amp,
                                    step.fmt, self.skipped.setdefault(name, set())))

    def validate(self, step, batch_size):
        return self._scores(step, self.val, "val", batch_size) if self.val else None

    def test(self, step, batch_size):
        return {name: self._scores(step, images, name, batch_size) for name, images in self.tests.items()}

    def flipped(self):
        return np.zeros(len(self.train), dtype=bool)


@torch.inference_mode()
def predict(model, images, batch_size, workers, spec, amp=None, fmt=torch.contiguous_format, skipped=None):
    """(logits [N, C], labels [N]) of an ImageList's images, in eval mode, as engine.predict's of in-memory images;
    an image that cannot be read (label -1, with skip_bad) is left out and its index added to the set `skipped`."""
    model.eval()
    p, skipped = next(model.parameters()), set() if skipped is None else skipped
    logits, ys = [], []
    with autocast(p.device, amp):
        for batch in batches_of(stream.loader(images, np.arange(len(images)), batch_size, workers)):
            x, y, _ = readable(*batch, skipped)
            logits.append(model(inputs(x.to(p.device, non_blocking=True), fmt, spec, p.dtype)))
            ys.append(y.to(p.device))
    return torch.cat(logits), torch.cat(ys)


def readable(x, y, idx, skipped):
    """A batch less the images the workers could not read (label -1, with --skip-bad-images); their indices are added
    to the set `skipped`."""
    bad = y < 0
    if not bad.any():
        return x, y, idx
    skipped.update(idx[bad].tolist())
    return x[~bad], y[~bad], idx[~bad]


def images_of(cfg, items, train=False):
    """An ImageList of (path, label) items as a run's configuration decodes them: its crop side and crop; train: with
    the training crop and flip, drawn from (seed, epoch, index)."""
    return stream.ImageList(items, train=train, size=cfg["image_size"], seed=cfg["seed"],
                            square=cfg["crop"] == "resize-random", skip_bad=cfg["skip_bad_images"])


def batches_of(dl):
    """dl's batches; an image that cannot be read ends the run with one line naming it and the fix. A DataLoader
    worker's error arrives as an OSError whose text is the worker's whole traceback: its last line is the reason."""
    try:
        yield from dl
    except OSError as e:
        said = [line for line in str(e).splitlines() if "cannot read image" in line]
        reason = said[-1].split("OSError: ", 1)[-1] if said else str(e).strip().splitlines()[-1]
        raise UserError(f"{reason}; replace or remove that file, or add --skip-bad-images to leave out the images "
                        f"Pillow cannot read (they are counted in result.json)") from None


def estimated_rate(listing):
    """The noise rate the set's own clean information shows, or None: Clothing1M's training images that also have a
    clean label (the share whose labels differ), Food-101N's verified ones (the share verified wrong)."""
    if not listing.clean:
        return None
    if listing.kind == "clothing1m":
        pairs = [(y, listing.clean[p]) for p, y in listing.train if p in listing.clean]
        wrong, how = sum(a != b for a, b in pairs), "noisy label differs from clean_label_kv.txt's"
    else:
        pairs = [listing.clean[p] for p, _ in listing.train if p in listing.clean]
        wrong, how = sum(flag == 0 for flag in pairs), "verified_train.tsv or verified_val.tsv flags the label wrong"
    return {"rate": wrong / len(pairs), "over": len(pairs), "how": how} if pairs else None


def prepare(cfg, device):
    """(StreamSplit, noise.json's record, (noisy labels, None), Spec) of a run on a real-world set."""
    kind = cfg["dataset"]
    if (cfg["preset"], kind) in presets.FROM_IMAGENET and not cfg["pretrained"]:
        print(f"warning: the {cfg['preset']} protocol on {kind} starts from torchvision's ImageNet weights; without "
              f"--pretrained FILE this run trains from scratch (docs/runs.md, Models)", file=sys.stderr)
    if kind == "webvision-mini" and cfg["preset"] != "report" and cfg["imagenet_val"] is None:
        print(f"warning: the {cfg['preset']} protocol reports ILSVRC12 val of the 50 classes (APL's and ANL's code "
              f"tests on nothing else); without --imagenet-val DIR this run is tested on WebVision's val only",
              file=sys.stderr)
    listing = realnoise.read(kind, cfg["data_dir"], imagenet_val=cfg["imagenet_val"], food101=cfg["food101"])
    for note in listing.notes:
        print(f"note: {note}", file=sys.stderr)
    y = np.asarray([label for _, label in listing.train], dtype=np.int64)
    if listing.val is not None:  # Clothing1M: its clean validation list selects; every training image trains
        tr, val = np.arange(len(y)), listing.val
    else:  # stratified by the labels a researcher sees, as rundata.prepare's split
        tr, va = batches.stratified_split(y, cfg["val_fraction"], [cfg["seed"], 1], len(listing.classes))
        small = batches.check_split(y, va, cfg["val_fraction"], listing.classes)
        if small:
            print(f"warning: {small}", file=sys.stderr)
        val = [listing.train[i] for i in va]
    split = StreamSplit(cfg, [listing.train[i] for i in tr], tr, val, listing.tests, len(listing.classes), device)
    split.val_labels = "clean" if listing.val is not None else "noisy"
    record = {"dataset": kind, "setting": "none-0.0", "transition_matrix": None, "realised_rate": None,
              "n_flipped": None, "n_train_total": len(y), "classes": listing.classes, "expected_rate": None,
              "clean_labels": "unknown: the data set's own noisy labels", "warning": None,
              "estimated_rate": estimated_rate(listing), "source": listing.source, "notes": list(listing.notes),
              "val": "the set's clean validation list" if listing.val is not None else
              f"{len(val)} of the training images (--val-fraction {cfg['val_fraction']})",
              "tests": {name: len(items) for name, items in listing.tests.items()}}
    return split, record, (y, None), spec_of(cfg, listing.classes)
