"""TensorBoard (`train.py --tensorboard`): each epoch's scalars and the run's configuration, in the run's tb/.

Optional: tensorboard is not a requirement, and nothing here is imported unless a run asks for it. The
scalars are log.csv's columns under TensorBoard's own grouping (loss/, accuracy/, memorisation/, diagnostics/,
lr), at the epoch as step; empty columns (no validation split, no clean labels) are left out rather than
written as 0. The configuration at the run's start is written as hyperparameters (HParams tab) in the same run,
with the test and validation accuracy as its metrics. A resumed run purges the steps after its checkpoint, so an epoch trained
twice (killed after its row, before last.pt) appears once.
"""
import os

from .errors import UserError

# log.csv column -> TensorBoard tag
TAGS = {"train_loss": "loss/train", "val_loss": "loss/val", "test_loss": "loss/test",
        "train_acc_noisy": "accuracy/train_noisy_labels", "train_acc_true": "accuracy/train_true_labels",
        "val_acc": "accuracy/val", "test_acc": "accuracy/test",
        "train_flipped_as_noisy": "memorisation/flipped_as_noisy", "train_flipped_as_true": "memorisation/flipped_as_true",
        "train_unflipped_acc": "memorisation/unflipped_acc", "train_flip_auroc": "diagnostics/flip_auroc",
        "test_ece": "diagnostics/test_ece", "lr": "lr"}


def require():
    """torch's SummaryWriter class; UserError naming the package when tensorboard is not installed (train.py asks
    before anything is written)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises it when the tensorboard package is missing
        raise UserError("--tensorboard needs the tensorboard package: pip install tensorboard, or leave "
                        "--tensorboard out") from None
    return SummaryWriter


def writer(out, start_epoch, cfg):
    """A SummaryWriter on OUT/tb from start_epoch on; a run's first start writes the configuration. (TensorBoard
    keeps the first configuration a run wrote: what a later --force changed is config.json's fact "forced".)"""
    w = require()(os.path.join(out, "tb"), purge_step=start_epoch if start_epoch > 1 else None)
    if start_epoch == 1:
        hyperparameters(w, cfg)
    return w


def hyperparameters(w, cfg):
    """The configuration as TensorBoard hyperparameters: numbers, strings and booleans as they are, the rest as text."""
    from torch.utils.tensorboard.summary import hparams
    flat = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in sorted(cfg.items())}
    for summary in hparams(flat, {"accuracy/test": 0.0, "accuracy/val": 0.0}):
        w.file_writer.add_summary(summary)


def epoch(w, row):
    """One log.csv row (strings) as scalars at step row["epoch"]."""
    for col, tag in TAGS.items():
        if row.get(col) not in (None, ""):
            w.add_scalar(tag, float(row[col]), int(row["epoch"]))
    w.flush()  # a killed run keeps every epoch it finished
