"""The declaration of a run: every key of its configuration and every fact learnt while it runs, in one table.

A key has a name (its flag is --name with - for _), a type, a default or the place its value is resolved from,
its help, its --help group, and what it means for --resume:
- FREE: may differ on --resume (where the run goes, how it computes rather than what, the run's own name: noise,
  rate, loss and seed are equal whenever the run directory is);
- CHECKED: a change is refused unless --force, which continues with the new value and records it;
- FIXED: never changed in a run in progress, --force or not (the checkpoint's model, optimizer, schedule, split or
  labels would not fit).
`absent` is what a config.json or checkpoint that has no such key means (None: it could not have used one); a
key without it must be there.

config.py builds train.py's parser, the resolution's order and its checks from this table; rundir.py the
--resume and --force rules; plot.py --where's keys; docs/runs.md's flag table is tested against it.

Facts (FACTS) are what a run learns once it runs: its directory, the hashes of the files it read, the precision
the hardware gave it, the --force changes so far. They are not configuration: train.py keeps them in a record of
their own, written beside the configuration in config.json under "facts".
"""
from dataclasses import dataclass

from .registry import KEYS as OWN_VALUES, WHOLE

FREE, CHECKED, FIXED = "free", "checked", "fixed"
REQUIRED = object()  # `absent` of a key every record must hold

# Where a value left out on the command line comes from (Key.origin). config.resolve fills the declared defaults
# first (the rest reads them), then in this order: the data set, the noise model, the loss, the preset.
ORIGINS = {
    "default": "the default below",
    "data": "the data set (owndata.resolve)",
    "noise": "the noise model (noise.resolve_flags)",
    "loss": "the preset's loss table, else the loss's paper value for the data set and noise, else the preset's "
            "setup, else registry.EVERY_LOSS (config.loss_settings; null where the loss does not read it)",
    "preset": "the preset's setup for the data set (presets.setup_values)",
}
GROUPS = ("protocol", "data", "noise", "loss", "model and optimisation", "compute", "run and resume")


@dataclass(frozen=True)
class Key:
    name: str
    group: str
    help: str  # "{preset}" in it is replaced by each preset's value (config.preset_help)
    type: type = str  # str, int, float, bool (a switch) or list (numbers separated by commas)
    default: object = None  # origin "default": the value when the flag is left out
    origin: str = "default"  # ORIGINS
    resume: str = CHECKED
    choices: tuple = None
    metavar: str = None
    toggle: bool = False  # a bool with --no-NAME too (None when left out: resolved from origin)
    absent: object = REQUIRED
    record: bool = True  # False: a flag that is not configuration (it sets another key, or asks for an action)

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Fact:
    name: str
    help: str
    resume: str = FREE  # CHECKED or FIXED: a resume whose fact differs is refused (FIXED: --force or not)
    # Compared only where this process knows it: learnt once train.py runs (the grid never knows it), or, for
    # --pretrained's file, read at the start only (a resume without the flag continues the same weights).
    late: bool = False


# The losses' own values: registry.KEYS has their names and what each is, registry.py which loss reads which; each is
# refused on the command line where the loss does not read it, and null in config.json.
OWN = [Key(n, "loss", f"{what} (default: the preset's loss table, {{paper_{n}}}; docs/losses.md has every value)",
           type=int if n in WHOLE else float, origin="loss", absent=None) for n, what in OWN_VALUES.items()]

KEYS = [
    Key("preset", "protocol", "protocol the defaults below come from: report, ma2020 (Ma et al. 2020's released "
        "configs), ye2023 (Ye et al. 2023's), eps2024 (the eps-softmax and JAL code's WebVision and Clothing1M "
        "setups); each sets its losses' own values per data set too", default="report",
        choices=("report", "ma2020", "ye2023", "eps2024")),
    # data
    Key("dataset", "data", "data set; folder: your own images in --data-dir's train/<class>/ and test/<class>/, npz: "
        "your own arrays in the .npz file --data-dir names (docs/data-and-noise.md#your-own-data); webvision-mini, "
        "clothing1m, animal10n, food101n: real-world noisy labels, read from --data-dir in their official layout and "
        "streamed from disk (docs/data-and-noise.md#real-world-noisy-data-sets)", default="cifar10",
        resume=FIXED),
    Key("data_dir", "data", "folder with the data set; ./data is made and the data set downloaded there on first use, "
        "a folder given here must exist; with --dataset npz, the .npz file (which it then needs)", default="./data",
        origin="data", resume=FREE),
    Key("image_size", "data", "with --dataset folder, the side every image is resized to; with a real-world set, the "
        "side of the crops it trains and is tested on (default: {image_size})", type=int, metavar="PX",
        origin="data", resume=FIXED, absent=None),
    Key("skip_bad_images", "data", "with --dataset folder or a real-world set, leave out the files Pillow cannot "
        "open, and count them, instead of stopping", type=bool, default=False, resume=FREE, absent=False),
    Key("imagenet_val", "data", "with --dataset webvision-mini, ILSVRC12 val in per-synset folders: its 50 classes are "
        "a second test set, reported as ilsvrc12 (default: none)", metavar="DIR", resume=FIXED, absent=None),
    Key("food101", "data", "with --dataset food101n, the Food-101 folder whose test split (meta/test.txt) tests it; "
        "food101n needs it (default: none)", metavar="DIR", resume=FIXED, absent=None),
    Key("per_epoch", "data", "with a real-world set, train each epoch on a class-balanced sample of N training "
        "images drawn afresh (DivideMix's and ELR+'s Clothing1M epochs) instead of all of them (default: none, all)",
        type=int, metavar="N", resume=FIXED, absent=None),
    Key("crop", "data", "with a real-world set and --augment, the training crop: random-resized (RandomResizedCrop, "
        "then flip) or resize-random (the image resized to a square of SIZE*256/224, then a random SIZE crop and "
        "flip, Clothing1M's); test images are resized as the crop's kind resizes (the shorter side, or the square, to "
        "SIZE*256/224) and centre-cropped (default: the preset's for the set, docs/protocols.md)", choices=("random-resized", "resize-random"), origin="preset",
        resume=FIXED, absent=None),
    Key("jitter", "data", "with a real-world set and --augment, torchvision's ColorJitter(0.4, 0.4, 0.4, 0.2) on the "
        "device (default: the preset's for the set, docs/protocols.md)", type=bool, toggle=True, origin="preset",
        absent=None),
    Key("clean_labels", "data", "with --dataset folder or npz, the clean labels of the training images, in --labels' "
        "formats: memorisation is measured against them (default: none; the memorisation columns stay empty)",
        metavar="PATH", resume=FREE, absent=None),
    Key("val_fraction", "data", "fraction of the training set held out for model selection; 0 trains on all of it and "
        "keeps the last epoch ({preset})", type=float, origin="preset", resume=FIXED),
    Key("augment", "data", "random crop (4-pixel padding) and horizontal flip, no flip on mnist ({preset})", type=bool,
        toggle=True, origin="preset"),
    Key("rotate", "data", "with --augment, also rotate each image by a random angle in [-DEG, DEG] ({preset})",
        type=float, metavar="DEG", origin="preset"),
    Key("stats", "data", "channel statistics the inputs are standardised with: the suite's, or the released code's "
        "({released_stats}) ({preset})", choices=("suite", "released"), origin="preset", resume=FIXED),
    # noise
    Key("noise", "noise", "label noise: none, sym, asym, pairflip (c to c+1), uniform (resampled from all C classes), "
        "idn (instance-dependent, Xia et al. 2020), human (CIFAR-N), human-matched (the human labels' transition "
        "counts on random images), file (--labels); docs/noise.md", default="none", metavar="TYPE", resume=FREE),
    Key("rate", "noise", "for sym, asym and pairflip the fraction of each (source) class whose label is flipped, for "
        "uniform the chance a label is resampled, for idn the mean flip rate; those need it (default: none, a clean "
        "run)", type=float, origin="noise", resume=FREE),
    Key("human_label", "noise", "human label set for --noise human and human-matched: CIFAR-10N's aggre, random1-3 or "
        "worse, CIFAR-100N's noisy (default: {human_default})", origin="noise", resume=FREE),
    Key("labels", "noise", "the noisy training labels of --noise file: .npy/.npz, .pt, .csv (index,label), .json list, "
        "or a run's labels.npy (default: none)", metavar="PATH", resume=FREE, absent=None),
    Key("labels_key", "noise", "the array to read from a --labels file holding several, such as a CIFAR-N dict's "
        "aggre_label (default: the file's only array)", metavar="KEY", resume=FIXED, absent=None),
    Key("asym_cifar100", "noise", "CIFAR-100's asymmetric noise: each class to the next of its superclass, or the "
        "released code's blocks of 5 consecutive class indices ({preset})", choices=("superclass", "blocks"),
        origin="preset", resume=FIXED),
    Key("clean_val", "noise", "give the validation split its clean labels (default: off, noisy)", type=bool,
        default=False, resume=FIXED),
    # loss (its own values follow the table)
    Key("loss", "loss", "one of: {loss_names}, or active+passive such as nce+rce; docs/losses.md lists them all",
        default="ce", metavar="NAME", resume=FREE),
    *OWN,
    Key("gamma", "loss", "focal exponent of fl, nfl, nfl-exp, anl-fl ({preset})", type=float, origin="loss"),
    Key("temperature", "loss", "T of the report's nce-exp and nfl-exp (default: {temperature})", type=float,
        origin="loss"),
    Key("q", "loss", "exponent of gce, ngce, agce and aul, one for the whole loss (default: the loss table, else its "
        "paper's for the data set; on cifar10 {q_paper} ({preset})", type=float, origin="loss"),
    Key("logit_clip", "loss", "clip the logits' L2 norm at DELTA, as Wei et al. 2023 define it; makes the loss LOSS+lc "
        "(default: off; with --loss LOSS+lc, its paper's for the data set and noise)", type=float, metavar="DELTA",
        origin="loss", absent=None),
    Key("logit_clip_released", "loss", "the released code's logit clipping: norms above 1/DELTA scaled to DELTA; makes "
        "the loss LOSS+lc-released (default: off; with that loss, as --logit-clip)", type=float, metavar="DELTA",
        record=False),
    Key("sr", "loss", "sparse regularisation (Zhou et al. 2021): the loss of z / (TAU ||z||) plus LAMBDA sum_k p_k^P, "
        "LAMBDA times RHO every FREQ epochs (1); makes the loss LOSS+sr (default: off; with --loss LOSS+sr, its "
        "paper's for the data set and noise)", type=list, metavar="TAU,P,LAMBDA,RHO[,FREQ]", origin="loss",
        absent=None),
    Key("sr_normalise", "loss", "with LOSS+sr, normalise the logits before dividing them by TAU; the released code "
        "does not on MNIST (default: on, off on mnist)", type=bool, toggle=True, origin="loss", absent=None),
    # model and optimisation
    Key("arch", "model and optimisation", "model ({preset})", origin="preset", resume=FIXED),
    Key("pretrained", "model and optimisation", "with --arch resnet50-imagenet, torchvision's ImageNet weights file "
        "to start from (resnet50-0676ba61.pth, docs/runs.md); fc starts afresh for the data set's classes "
        "(default: none, from scratch)", metavar="PATH", resume=FREE, absent=None),
    Key("epochs", "model and optimisation", "training epochs ({preset})", type=int, origin="preset"),
    Key("batch_size", "model and optimisation", "training batch size ({preset})", type=int, origin="preset"),
    Key("optimizer", "model and optimisation", "optimizer ({preset})", choices=("adamw", "sgd"), origin="preset",
        resume=FIXED),
    Key("lr", "model and optimisation", "initial learning rate ({preset})", type=float, origin="preset"),
    Key("weight_decay", "model and optimisation", "weight decay ({zero_wd}; otherwise {preset})", type=float,
        origin="loss"),
    Key("momentum", "model and optimisation", "SGD momentum ({preset})", type=float, origin="preset"),
    Key("nesterov", "model and optimisation", "SGD with Nesterov momentum ({preset})", type=bool, toggle=True,
        origin="preset", resume=FIXED),
    Key("scheduler", "model and optimisation", "lr schedule over the epochs: cosine to --eta-min, exp or step by "
        "--lr-gamma, none ({preset})", choices=("cosine", "exp", "step", "none"),
        origin="preset", resume=FIXED),
    Key("eta_min", "model and optimisation", "the cosine schedule's last learning rate ({preset})", type=float,
        origin="preset", resume=FIXED),
    Key("lr_gamma", "model and optimisation", "with --scheduler exp or step, the factor the learning rate is "
        "multiplied by: exp each epoch (WebVision's released configs: 0.97), step every --lr-step epochs (0.1 in the "
        "Clothing1M ones) (default: none; those two need it)", type=float, resume=FIXED, absent=None),
    Key("lr_step", "model and optimisation", "with --scheduler step, the epochs between two multiplications by "
        "--lr-gamma (default: none; step needs it)", type=int, resume=FIXED, absent=None),
    Key("grad_clip", "model and optimisation", "clip the gradient norm to this, 0 for off ({preset})", type=float,
        origin="preset"),
    # compute: how training computes, not what
    Key("eval_batch_size", "compute", "batch size for validation and test ({preset})", type=int, origin="preset"),
    Key("device", "compute", "auto picks cuda when present", default="auto", choices=("auto", "cpu", "cuda")),
    Key("deterministic", "compute", "deterministic algorithms, cudnn.benchmark off", type=bool, toggle=True,
        default=True),
    Key("precision", "compute", "bf16 autocast for the model (losses stay float32); auto picks bf16 where the hardware "
        "has it: CUDA GPUs of compute capability 8.0+, CPUs with AVX512-BF16 or AMX; fp64 is for reference runs whose "
        "numbers must not depend on the CPU (slow); what a resume compares is the fact precision_used",
        default="auto", choices=("auto", "bf16", "fp32", "fp64"), resume=FREE),
    Key("channels_last", "compute", "NHWC memory layout for the model and its inputs, faster convolutions", type=bool,
        toggle=True, default=True, resume=FREE),
    Key("workers", "compute", "with a real-world set, the DataLoader processes decoding its JPEGs; each image's crop "
        "is drawn from (seed, epoch, index), so results do not depend on it (default: the CPU cores, at most 8)",
        type=int, origin="data", resume=FREE, absent=None),
    Key("compile", "compute", "torch.compile the training model; the first epoch pays for the compilation", type=bool,
        default=False, resume=FREE),
    # run and resume
    Key("seed", "run and resume", "seed of the noise, the split, the model and the data order", type=int, default=42,
        resume=FREE),
    Key("out", "run and resume", "results root; the run goes to OUT/<dataset>/<noise>-<rate or human label>/<loss>/"
        "seed<seed>", default="results", resume=FREE),
    Key("resume", "run and resume", "continue the run from its last.pt", type=bool, default=False, resume=FREE),
    Key("tensorboard", "run and resume", "also write each epoch's scalars and the configuration for TensorBoard, under "
        "the run directory's tb/ (needs pip install tensorboard)", type=bool, default=False, resume=FREE,
        absent=False),
    Key("force", "run and resume", "with --resume: continue even where a setting that changes results differs from "
        "the checkpoint's, e.g. a lower --lr", type=bool, default=False, resume=FREE),
    Key("show_config", "run and resume", "print every resolved value with where it came from, then exit, training "
        "nothing", type=bool, default=False, record=False),
]

FACTS = [
    Fact("run_dir", "the run directory: OUT/<dataset or data_name>/<setting>/<loss>/seed<seed>"),
    Fact("data_name", "own data: folder-<folder name> or npz-<file stem>, the run directory's first part; else the "
                      "data set's name"),
    Fact("loss_as_given", "--loss as typed (loss is its canonical name: an alias resolved, a wrap flag added)"),
    Fact("labels_sha256", "sha256 of --labels' file", FIXED),
    Fact("clean_labels_sha256", "sha256 of --clean-labels' file", FIXED),
    Fact("data_sha256", "own data: sha256 of the images and labels read", FIXED, late=True),
    Fact("pretrained_sha256", "sha256 of --pretrained's file", FIXED, late=True),
    Fact("precision_used", "bf16, fp32 or fp64: --precision as this machine resolved it", CHECKED, late=True),
    Fact("forced", "each --force change: the epoch after which it took effect and {key: [was, now]}"),
]


BY_NAME = {k.name: k for k in KEYS}
RECORDED = [k.name for k in KEYS if k.record]  # a run's configuration: config.json's keys, less "sources" and "facts"
# The values a loss is built with (get_loss's keyword arguments), in this order: its own, then gamma, q, temperature
# and its wraps'. The one list of them.
LOSS_VALUES = tuple(k.name for k in KEYS if k.group == "loss" and k.record and k.name != "loss")
FACT_NAMES = [f.name for f in FACTS]


class Declared(dict):
    """A dict of declared keys only (NAMES): reading or writing another is a KeyError naming it, not a silent None."""
    NAMES, WHAT = frozenset(), ""

    def _known(self, key):
        if key not in self.NAMES:
            raise KeyError(f"{key!r} is not a key of {self.WHAT} (noisylabels/keys.py declares them)")

    def __getitem__(self, key):
        self._known(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._known(key)
        return super().get(key, default)

    def __setitem__(self, key, value):
        self._known(key)
        super().__setitem__(key, value)

    def update(self, values=(), **more):
        for k, v in dict(values, **more).items():
            self[k] = v


class Facts(Declared):
    """What a run learns once it runs (keys.FACTS), each None until known."""
    NAMES, WHAT = frozenset(FACT_NAMES), "a run's facts"

    def __init__(self, values=(), **more):
        super().__init__()
        self.update(dict.fromkeys(FACT_NAMES), **dict(values, **more))


class Config(Declared):
    """A run's configuration: RECORDED's keys, each resolved; `sources` says where each value came from and
    `facts` (a Facts) what is known of the run beyond its configuration."""
    NAMES, WHAT = frozenset(RECORDED), "a run's configuration"

    def __init__(self, values=(), sources=None, facts=None):
        super().__init__()
        self.update(values)
        self.sources, self.facts = dict(sources or {}), Facts(facts or {})

    def copy(self):
        return Config(self, self.sources, self.facts)


def record(cfg):
    """config.json's content (and a checkpoint's "config"): the configuration, its sources and the run's facts."""
    return {**cfg, "sources": cfg.sources, "facts": dict(cfg.facts)}


def facts_of(rec):
    """The facts of a Config or of a record (config.json, a checkpoint's config); a record of the flat layout, from
    before facts had a place of their own, holds them among its keys."""
    if isinstance(rec, Config):
        return rec.facts
    return Facts({k: v for k, v in (rec.get("facts") or rec).items() if k in FACT_NAMES})


def as_recorded(rec):
    """A record's configuration values, each key it lacks as its declared absent value."""
    return {k.name: rec.get(k.name, None if k.absent is REQUIRED else k.absent) for k in KEYS if k.record}
