"""How training computes: the device, precision and memory layout, the optimizer, one step, one epoch.

train.py runs a whole run around these; bench.py times them, so what it measures is what runs.
"""
import math
import os

import torch

from . import batches
from . import keys
from . import data
from . import diagnose
from .errors import UserError
from .losses import get_loss
from .model import load_pretrained, make_model

OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)  # torch.OutOfMemoryError from 2.5


def pick_device(name):
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but no CUDA GPU is visible; use --device cpu")
    return torch.device(name)


def set_determinism(on):
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it before its first call
    torch.use_deterministic_algorithms(on)
    torch.backends.cudnn.benchmark = not on


def epoch_generators(seed, epoch, device):
    # Generators derived from (seed, epoch): the data order and augmentation of epoch e
    # are the same whether or not the run was resumed. The order is drawn on the CPU,
    # so it is the same on every device; augmentation is drawn on the device itself.
    s = batches.epoch_seed(seed, epoch)
    return torch.Generator().manual_seed(s), torch.Generator(device).manual_seed(s)


def cpuinfo_path():
    # SUITE_CPUINFO names another file to read the flags from: the tests make `auto` resolve either way with it.
    return os.environ.get("SUITE_CPUINFO") or "/proc/cpuinfo"


def cpu_flags(cpuinfo=None):
    """The instruction-set flags the CPU lists (the first processor's), as a set; empty where unknown."""
    try:
        with open(cpuinfo or cpuinfo_path(), errors="replace") as f:
            line = next((l for l in f if l.startswith(("flags", "Features"))), "")
    except OSError:  # not Linux: no way to tell
        return set()
    return set(line.partition(":")[2].split())


def cpu_has_bf16(cpuinfo=None):
    """Native bf16 units (AVX512-BF16 or AMX)? Without them CPU bf16 is emulated, and far slower than fp32."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags(cpuinfo))


def amp_dtype(precision, device):
    """The autocast dtype for --precision on `device`: torch.bfloat16, or None for plain fp32 (and fp64)."""
    if precision == "auto":
        # Ampere (8.0) and later have bf16 units; is_bf16_supported() also says yes where it is emulated.
        fast = torch.cuda.get_device_capability(device) >= (8, 0) if device.type == "cuda" else cpu_has_bf16()
        precision = "bf16" if fast else "fp32"
    return torch.bfloat16 if precision == "bf16" else None


def autocast(device, amp):
    return torch.autocast(device.type, dtype=amp or torch.bfloat16, enabled=amp is not None)


def model_dtype(precision):
    """The parameters' dtype: float64 for the fp64 reference runs (whose numbers no CPU's kernels move), else float32."""
    return torch.float64 if precision == "fp64" else torch.float32


def inputs(x, fmt, spec, dtype=torch.float32):
    """uint8 images [B, C, H, W] -> the batch the model takes, standardised with spec's statistics, in its layout."""
    x = batches.normalize(x.contiguous(memory_format=fmt), spec)  # relaid as uint8, a quarter of the bytes of float
    return x if dtype == torch.float32 else x.to(dtype)


class Step:
    """One optimisation step: the model (and its compiled form), optimizer, loss, precision and memory layout.

    spec is the data set's (data.DATASETS): its statistics normalise the inputs, its flip rule augments them.
    """

    def __init__(self, model, opt, loss_fn, amp=None, fmt=torch.contiguous_format, grad_clip=0.0, net=None,
                 sched=None, spec=data.DATASETS["cifar10"]):
        self.model, self.opt, self.loss_fn, self.amp, self.fmt = model, opt, loss_fn, amp, fmt
        self.grad_clip, self.sched, self.spec = grad_clip, sched, spec
        self.net = model if net is None else net  # what training calls; checkpoints hold self.model
        self.dtype = next(model.parameters()).dtype

    def __call__(self, x, y, idx=None):
        """One step on a ready float batch x [B, C_in, H, W], or [V, B, C_in, H, W] for a loss that reads V views
        of each image; idx [B]: the samples' positions in the training split. Returns (logits [B, C] of the
        first view, float32 loss)."""
        with autocast(x.device, self.amp):
            # One forward pass per view, as GJS's released code makes them: each view has its own BatchNorm statistics.
            logits = self.net(x) if x.ndim == 4 else torch.stack([self.net(v) for v in x])  # [B, C] or [V, B, C]
        loss = self.loss_fn.data_term(logits, y, idx)  # float32: the losses leave autocast themselves
        # ANL's and JAL's delta * sum |theta| (Loss.penalty) is optimised, not logged
        objective = loss + self.loss_fn.penalty(self.model.parameters()) if self.loss_fn.l1 else loss
        self.opt.zero_grad(set_to_none=True)
        objective.backward()
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.opt.step()
        return (logits if logits.ndim == 2 else logits[0]), loss


def make_step(cfg, device, spec=None):
    """The Step a run trains with, built from its configuration (bench.py builds the same); spec: the data set's,
    for own data (owndata.py), else the named data set's with cfg's statistics."""
    torch.manual_seed(cfg["seed"])
    fmt = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
    spec = spec or data.spec_for(cfg["dataset"], cfg.get("stats") or "suite")
    model = model_for(cfg["arch"], spec)
    if cfg.get("pretrained"):  # before the move to the device and dtype; a resume's checkpoint then replaces it
        print(load_pretrained(model, cfg["pretrained"]))
    model = model.to(device, model_dtype(cfg["precision"]), memory_format=fmt)
    opt, sched = make_optimizer(cfg, model, device)
    return Step(model, opt, loss_from(cfg, spec.num_classes), amp_dtype(cfg["precision"], device), fmt, cfg["grad_clip"],
                torch.compile(model) if cfg["compile"] else None, sched, spec)


def loss_from(cfg, num_classes):
    """The run's loss, built with its resolved values."""
    return get_loss(cfg["loss"], num_classes, **{k: cfg.get(k) for k in keys.LOSS_VALUES})


def model_for(arch, spec):
    """The network `arch`, shaped for the data set: its channels, image size and classes."""
    return make_model(arch, spec.num_classes, tuple(spec.shape))


# What train_epoch adds up on the device over an epoch, summed in one tensor so that reading them is one sync.
COUNTS = ("loss_sum", "hit_noisy", "hit_true", "flipped", "flipped_as_noisy", "flipped_as_true", "unflipped_hit")


def train_epoch(step, x, y_noisy, y_true, batch_size, gens, augment, rotate=0.0):
    """One pass over the in-memory training split x (uint8, on the device), in the order and with the augmentation
    of gens (epoch_generators); returns fit()'s dict."""
    order_gen, aug_gen = gens
    cuts = batches.index_batches(len(x), batch_size, x.device, order_gen, drop_last=len(x) >= batch_size)
    views = step.loss_fn.views  # GJS: M - 1 augmented views of each image, each drawn on its own
    feed = (([batches.augment(x[idx], aug_gen, step.spec.flip, rotate) if augment else x[idx] for _ in range(views)],
             idx) for idx in cuts)
    return fit(step, feed, y_noisy, y_true, len(x) // batch_size)


def fit(step, feed, y_noisy, y_true, total):
    """One pass of optimisation steps over feed's batches: ([uint8 views [B, C, H, W] of a batch], positions [B] in
    the training split y_noisy / y_true index, on their device); total: how many batches (for the progress bar).
    Returns the train_* columns of the log as a dict, and under "sample_loss" each sample's -log p_y~ [N] as its
    step computed it (NaN for a sample no batch held).

    The loss logged is the data term (Loss.data_term, with ANL-CE-ER's regulariser of each batch); ANL's and JAL's
    L1 penalty (Loss.penalty, where loss_fn.l1 > 0) is added to what is optimised, not to what is logged.
    """
    from tqdm import tqdm

    step.model.train()
    device = y_noisy.device
    sums, n = torch.zeros(len(COUNTS), device=device), 0  # COUNTS, in that order
    first_bad = torch.tensor(-1, device=device)  # the first batch with a NaN or inf loss, found without a sync
    per_sample = torch.full((len(y_noisy),), float("nan"), device=device)  # -log p_y~ of each sample, from its step
    for i, (xb, idx) in enumerate(tqdm(feed, total=total, leave=False, disable=None, desc="train")):
        xb = inputs(xb[0], step.fmt, step.spec, step.dtype) if len(xb) == 1 else \
            torch.stack([inputs(v, step.fmt, step.spec, step.dtype) for v in xb])  # [B, ...] or [V, B, ...]
        logits, loss = step(xb, y_noisy[idx], idx)
        # Accumulated on the device: reading a value here would stall the GPU every batch.
        pred, yn, yt = logits.detach().argmax(1), y_noisy[idx], y_true[idx]
        flipped, hit_noisy, hit_true = yn != yt, pred == yn, pred == yt
        counts = {"loss_sum": loss.detach() * len(idx), "hit_noisy": hit_noisy.sum(), "hit_true": hit_true.sum(),
                  "flipped": flipped.sum(), "flipped_as_noisy": (flipped & hit_noisy).sum(),
                  "flipped_as_true": (flipped & hit_true).sum(), "unflipped_hit": (~flipped & hit_true).sum()}
        sums += torch.stack([counts[k] for k in COUNTS])
        per_sample[idx] = diagnose.sample_loss(logits, yn)
        first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), i + 1, first_bad)
        n += len(idx)
    s = dict(zip(COUNTS, sums.tolist()))
    ratio = lambda a, b: a / b if b else float("nan")  # noqa: E731
    return {"train_loss": s["loss_sum"] / n, "train_acc_noisy": s["hit_noisy"] / n, "train_acc_true": s["hit_true"] / n,
            "train_flipped_as_noisy": ratio(s["flipped_as_noisy"], s["flipped"]),
            "train_flipped_as_true": ratio(s["flipped_as_true"], s["flipped"]),
            "train_unflipped_acc": ratio(s["unflipped_hit"], n - s["flipped"]),
            "train_flip_auroc": diagnose.flip_auroc(per_sample, y_noisy != y_true).item(),
            "first_bad_batch": int(first_bad), "sample_loss": per_sample}


@torch.inference_mode()
def predict(model, x, batch_size, spec, amp=None, fmt=torch.contiguous_format):
    """Logits [N, C] for uint8 images [N, C_in, H, W], in eval mode. The eager model: no recompilation."""
    model.eval()
    dtype = next(model.parameters()).dtype
    with autocast(x.device, amp):
        cuts = batches.index_batches(len(x), batch_size, x.device)
        return torch.cat([model(inputs(x[idx], fmt, spec, dtype)) for idx in cuts])  # [N, C]


def evaluate(step, x, y, batch_size):
    """(mean loss, accuracy, calibration) of the model on one split; calibration is diagnose.calibration's dict.

    The loss is computed in the loss's evaluation mode (Loss: ELR is CE, GJS of one view JS, no L1 term), and
    the loss's mode is restored after."""
    return score(step, predict(step.model, x, batch_size, step.spec, step.amp, step.fmt), y)


def score(step, logits, y):
    """evaluate()'s (mean loss, accuracy, calibration) of logits [N, C] against labels y [N]."""
    was_training = step.loss_fn.training
    step.loss_fn.eval()
    try:
        loss = step.loss_fn(logits, y).item()
    finally:
        step.loss_fn.train(was_training)
    correct = (logits.argmax(1) == y).sum().item()
    return loss, correct / len(y), diagnose.calibration(logits, y)


def make_optimizer(cfg, model, device):
    fused = device.type == "cuda" or None  # one kernel for all parameters; on CPU it measured no faster
    if cfg["optimizer"] == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], fused=fused)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                              weight_decay=cfg["weight_decay"], nesterov=bool(cfg.get("nesterov")), fused=fused)
    # Each is stepped once per epoch, as in the released code.
    if cfg["scheduler"] == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"], eta_min=cfg["eta_min"])
    elif cfg["scheduler"] == "exp":
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg["lr_gamma"])
    elif cfg["scheduler"] == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg["lr_step"], gamma=cfg["lr_gamma"])
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)
    return opt, sched


def apply_forced(cfg, opt, sched, epoch):
    """--force: the restored optimizer and schedule take the new lr, weight decay, momentum and epochs.

    Loading their state brought back the old values; the schedule continues from `epoch` as if
    the new ones had held from the start.
    """
    for g in opt.param_groups:
        g["initial_lr"], g["weight_decay"] = cfg["lr"], cfg["weight_decay"]
        if "momentum" in g:
            g["momentum"] = cfg["momentum"]
    sched.base_lrs = [cfg["lr"]] * len(opt.param_groups)
    lr = cfg["lr"]  # each schedule's closed form at `epoch`
    if isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR):
        sched.T_max = cfg["epochs"]
        lo = cfg["eta_min"]
        lr = lo + 0.5 * (cfg["lr"] - lo) * (1 + math.cos(math.pi * epoch / cfg["epochs"]))
    elif isinstance(sched, torch.optim.lr_scheduler.ExponentialLR):
        lr = cfg["lr"] * cfg["lr_gamma"] ** epoch
    elif isinstance(sched, torch.optim.lr_scheduler.StepLR):
        lr = cfg["lr"] * cfg["lr_gamma"] ** (epoch // cfg["lr_step"])
    for g in opt.param_groups:
        g["lr"] = lr


def load_optimizer(opt, state):
    """Load a saved optimizer state, keeping opt's own choice of fused kernels.

    load_state_dict brings back the saved groups' `fused` too: a checkpoint from a CPU run would
    resume on a GPU without them. Fused kernels keep `step` as a float32 tensor on the device.
    """
    fused = opt.defaults.get("fused")
    opt.load_state_dict(state)
    for g in opt.param_groups:
        g["fused"] = fused
    if fused:
        for p, st in opt.state.items():
            if "step" in st:
                st["step"] = st["step"].to(dtype=torch.float32, device=p.device)
