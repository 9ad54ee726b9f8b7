"""A run's data on its device: the data set read, its training labels corrupted by the noise model, the split.

train.py's prepare(cfg, device) gives the Split the epochs train on, noise.json's record and the labels saved as
labels.npy and clean_labels.npy. Noise is applied to the whole training set before the split, as in the literature;
the split is stratified by the noisy labels, those a researcher would see.
"""
import sys
from dataclasses import dataclass

import numpy as np
import torch

from . import batches
from . import config
from . import data
from . import datasets
from . import labelfile
from . import noise
from .engine import epoch_generators, evaluate, train_epoch

# Own data with fewer training images than this, on the preset's ResNet, gets a warning: 400 MNIST images as PNGs
# trained resnet18 to chance (test accuracy 0.10-0.13 after 10 epochs) where cnn4 reached 0.58-0.76.
SMALL_OWN = 10_000


@dataclass
class Split:
    """The run's data on the device, split: training (noisy labels, and the true ones memorisation is measured
    against), validation (noisy labels unless --clean-val; empty with --val-fraction 0) and the clean test set."""
    x_tr: object
    y_tr: object
    y_tr_true: object
    x_va: object
    y_va: object
    x_te: object
    y_te: object
    tr: np.ndarray  # the training split's indices into the training set
    T: np.ndarray  # the realised transition matrix
    clean_known: bool  # False: own data without --clean-labels, nothing is known to be flipped
    streamed = False  # streamdata.StreamSplit's counterpart: the same methods, its images decoded from disk
    test_names = ("test",)

    @property
    def sizes(self):
        return len(self.x_tr), len(self.x_va), len(self.x_te)

    @property
    def device(self):
        return self.x_te.device

    def fit(self, step, cfg, epoch):
        """One training epoch (engine.train_epoch): its order and augmentation are epoch `epoch`'s."""
        return train_epoch(step, self.x_tr, self.y_tr, self.y_tr_true, cfg["batch_size"],
                           epoch_generators(cfg["seed"], epoch, self.x_tr.device), cfg["augment"], cfg["rotate"])

    def validate(self, step, batch_size):
        """(loss, accuracy, calibration) on the validation split; None without one."""
        return evaluate(step, self.x_va, self.y_va, batch_size) if len(self.x_va) else None

    def test(self, step, batch_size):
        """{test set: (loss, accuracy, calibration)}: the one clean test set."""
        return {"test": evaluate(step, self.x_te, self.y_te, batch_size)}

    def flipped(self):
        """Which training samples' labels were flipped (bool array of the training split)."""
        return (self.y_tr != self.y_tr_true).cpu().numpy()


def prepare(cfg, device):
    """Load the data set, corrupt the training labels, split; returns device tensors, the noise record, the labels
    and the data set's Spec. Own data (owndata.py): the folder's labels are the ones noise is applied to; the clean
    labels memorisation is measured against are --clean-labels', and unknown without it."""
    d, spec, keep_cache = datasets.for_run(cfg)
    cfg.facts["data_sha256"] = spec.digest or None  # own data: a resume on other images is refused
    x, y_given, x_test, y_test, C = d.x_train, d.y_train, d.x_test, d.y_test, spec.num_classes
    rate = cfg["rate"]  # a clean run at rate 0 has no expected rate, whatever its --noise: all share none-0.0
    expected = noise.expected_rate(cfg["noise"], rate, C) if rate is not None and (rate > 0 or cfg["noise"] == "idn") \
        else None
    # Noise is applied to the whole training set before the split, as in the literature.
    human = data.load_human(spec, cfg["data_dir"]) if cfg["noise"] in ("human", "human-matched") else None
    given = labelfile.check(labelfile.read(cfg["labels"], cfg["labels_key"]), y_given, C, cfg["labels"]) \
        if cfg["noise"] == "file" else None
    y_noisy, T, extra = noise.noisy_labels(cfg, d, human, given)
    clean = labelfile.check(labelfile.read(cfg["clean_labels"], None), y_given, C, cfg["clean_labels"]) \
        if cfg["clean_labels"] else None
    known = cfg["dataset"] not in config.OWN or clean is not None
    y_true = y_given if clean is None else clean
    if clean is not None:
        T = noise.transition_matrix(clean, y_noisy, C)
    # Stratified by the labels a researcher would actually see: the noisy ones.
    tr, va = batches.stratified_split(y_noisy, cfg["val_fraction"], [cfg["seed"], 1], C)
    small = batches.check_split(y_noisy, va, cfg["val_fraction"], d.classes)
    if small:
        print(f"warning: {small}", file=sys.stderr)
    if cfg["dataset"] in config.OWN and cfg.sources["arch"] != "flag" and cfg["arch"].startswith("resnet") and \
            len(tr) < SMALL_OWN:
        print(f"warning: --dataset {cfg['dataset']} trains the preset's {cfg['arch']} on {len(tr)} training images; "
              f"on a small data set it can collapse to chance: start with --arch cnn4 or cnn8, into another --out "
              f"(docs/data-and-noise.md#your-own-data)", file=sys.stderr)
    if keep_cache:
        keep_cache()  # a folder decoded now, for the next run; only once this run is known to start
    on = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
    split = Split(on(x[tr]), on(y_noisy[tr]), on(y_true[tr]), on(x[va]),
                  on(y_true[va] if cfg["clean_val"] else y_noisy[va]), on(x_test), on(y_test), tr, T, known)
    record = {"dataset": cfg["dataset"], "setting": config.setting(cfg), "transition_matrix": T.round(6).tolist(),
              "realised_rate": float((y_noisy != y_true).mean()), "n_flipped": int((y_noisy != y_true).sum()),
              "n_train_total": int(len(y_true)), "classes": d.classes, "expected_rate": expected,
              "clean_labels": "the data set's" if cfg["dataset"] not in config.OWN else
              cfg["clean_labels"] if known else "unknown: rate and matrix are against the given labels",
              "warning": noise.adversarial(cfg["noise"], cfg["rate"] or 0.0, T), **extra}
    if d.superclass_of is not None:  # plot.py draws CIFAR-100's matrix within each superclass from these
        record.update(superclass_of=d.superclass_of.tolist(), superclasses=d.superclasses)
    return split, record, (y_noisy, y_true), spec
