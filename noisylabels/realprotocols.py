"""The real-world noisy sets' protocols (realnoise.KINDS): their presets' setups, their losses' values, their studies.

presets.py merges these tables into its own (PRESETS, DATASET_PRESETS, LOSS_TABLE, STUDIES, FILE_NOTES); every value
was copied from the released files named beside it. WebVision mini: APL's configs/webvision_mini/*.yaml and ANL's
config/webvision_*.json; eps2024: the eps-softmax code's main_real_world.py and config.py, which JAL's repository
repeats (its AMSE pairs' values in its own config.py). docs/protocols.md#real-world-noisy-labels has them as tables.
No torch here.
"""

# The real-world sets (realnoise.py), streamed: their protocols. WebVision mini as APL's and ANL's released configs
# train it (configs/webvision_mini/*.yaml; config/webvision_*.json): ResNet-50 from scratch, SGD with Nesterov, lr 0.4
# times 0.97 each epoch (their StepLR of step 1), 250 epochs, batch 512, RandomResizedCrop 224 + flip + ColorJitter.
EPS = "cswjl/eps-softmax@f81685c"
JAL = "cswjl/joint-asymmetric-loss@0f9eb7b"
APL_WEBVISION = "HanxunH/Active-Passive-Losses@04bce53"
WEBVISION = {"arch": "resnet50-imagenet", "optimizer": "sgd", "lr": 0.4, "momentum": 0.9, "nesterov": True,
             "weight_decay": 3e-5, "epochs": 250, "scheduler": "exp", "lr_gamma": 0.97, "eta_min": 0.0,
             "augment": True, "rotate": 0.0, "grad_clip": 5.0, "batch_size": 512, "eval_batch_size": 1024,
             "val_fraction": 0.0, "crop": "random-resized", "jitter": True}
# eps2024: the eps-softmax and JAL code's main_real_world.py (the same in both): WebVision as above with batch 256 (in
# bf16: --precision auto on a GPU), Clothing1M from ImageNet weights, lr 5e-3 times 0.1 every 5 epochs, 10 epochs,
# Resize((256, 256)) + RandomCrop 224 + flip. Defined on those two sets only (ONLY_ON).
EPS2024 = {**WEBVISION, "batch_size": 256, "eval_batch_size": 512}  # laid over ye2023's keys (presets.py)
ONLY_ON = {"eps2024": ("webvision-mini", "clothing1m")}
FROM_IMAGENET = {("eps2024", "clothing1m")}  # protocols whose ResNet-50 starts from ImageNet weights (--pretrained)
# The suite's own setup of each real-world set under the report preset (no paper has one): the report's optimiser and
# schedule, with the set's crop; ANIMAL-10N's 64-px images on the report's ResNet-18 as CIFAR's 32-px ones.
_REAL = {"arch": "resnet50-imagenet", "augment": True, "crop": "random-resized", "jitter": False,
         "eval_batch_size": 256}
SETUPS = {
    ("report", "webvision-mini"): _REAL, ("report", "food101n"): _REAL,
    ("report", "clothing1m"): {**_REAL, "crop": "resize-random"},
    ("report", "animal10n"): {**_REAL, "arch": "resnet18", "crop": "resize-random"},
    ("ma2020", "webvision-mini"): WEBVISION, ("ye2023", "webvision-mini"): WEBVISION,
    ("eps2024", "clothing1m"): {"lr": 5e-3, "nesterov": False, "weight_decay": 1e-3, "epochs": 10, "scheduler": "step",
                                "lr_gamma": 0.1, "lr_step": 5, "grad_clip": 0.0, "crop": "resize-random",
                                "jitter": False},
}
REAL_SETS = ("webvision-mini", "clothing1m", "animal10n", "food101n")  # realnoise.KINDS (a test keeps them equal)

# The real-world tables. WebVision mini's rows are the same in APL's and ANL's files where both have the loss. In the
# eps-softmax and JAL code (config.py: WEBVISION_CONFIG, CLOTHING_CONFIG, get_eps_softmax, get_ce_and_lc) ANL-CE is
# NCEandNNCE trained with their L2 weight decay and no L1 term, and the AMSE pairs (JAL's) with the same L2; JAL's
# GCE has q 0.6 on WebVision where eps-softmax's has 0.7 (FILE_NOTES).
_APL_WV = {"ce": {}, "gce": {"q": 0.7}, "sce": {"alpha": 10.0, "beta": 1.0}, "nce+rce": {"alpha": 50.0, "beta": 0.1}}
_AGCE_WV = {"alpha": 50.0, "beta": 0.1, "a": 2.5, "q": 3.0}
LOSS_TABLE = {
    ("ma2020", "webvision-mini"): {**_APL_WV, "nce+mae": {"alpha": 50.0, "beta": 1.0},
                                   "nfl+mae": {"alpha": 50.0, "beta": 1.0, "gamma": 0.5},
                                   "nfl+rce": {"alpha": 50.0, "beta": 0.1, "gamma": 0.5}},
    ("ye2023", "webvision-mini"): {**_APL_WV, "nce+agce": _AGCE_WV,
                                   "anl-ce": {"alpha": 20.0, "beta": 1.0, "delta": 5e-6}},
    ("eps2024", "webvision-mini"): {
        **_APL_WV, "fl": {"gamma": 0.5}, "nce+agce": _AGCE_WV,
        "anl-ce": {"alpha": 20.0, "beta": 1.0, "delta": 0.0, "weight_decay": 3e-5},
        "ece+mae": {"alpha": 0.015, "beta": 0.3, "m": 1e3}, "efl+mae": {"alpha": 0.015, "beta": 0.3, "m": 1e3},
        "ce+lc-released": {"logit_clip": 1.2},
        "nce+amse": {"alpha": 50.0, "beta": 1.0, "a": 30.0, "delta": 0.0, "weight_decay": 3e-5},
        "nfl+amse": {"alpha": 50.0, "beta": 1.0, "a": 30.0, "gamma": 0.5, "delta": 0.0, "weight_decay": 3e-5}},
    ("eps2024", "clothing1m"): {
        "ce": {}, "fl": {"gamma": 0.5}, "gce": {"q": 0.6}, "sce": {"alpha": 10.0, "beta": 1.0},
        "nce+rce": {"alpha": 10.0, "beta": 1.0}, "nce+agce": _AGCE_WV,
        "anl-ce": {"alpha": 5.0, "beta": 0.1, "delta": 0.0, "weight_decay": 1e-3},
        "ece+mae": {"alpha": 0.012, "beta": 0.1, "m": 1e3}, "efl+mae": {"alpha": 0.012, "beta": 0.1, "m": 1e3},
        "nce+amse": {"alpha": 5.0, "beta": 0.1, "a": 5.0, "delta": 0.0, "weight_decay": 1e-3},
        "nfl+amse": {"alpha": 5.0, "beta": 0.1, "a": 5.0, "gamma": 0.5, "delta": 0.0, "weight_decay": 1e-3}},
}
FILE_NOTES = {
    ("eps2024", "webvision-mini", None, "gce"): "eps-softmax's q; JAL's WEBVISION_CONFIG has q 0.6: --q 0.6 for its row",
}

# The eps2024 rows' place in the eps-softmax code's config.py (the AMSE pairs: JAL's config.py).
EPS_PLACE = {"ece+mae": "get_eps_softmax", "efl+mae": "get_eps_softmax", "ce+lc-released": "get_ce_and_lc"}

# The real-world studies: the sets' own labels (one setting, none-0.0), the losses of each protocol's table, one seed
# (the papers report one run of each on these sets). Named <preset>-<data set> as every paper study is: a study named
# like its data set would share results/<name> with that data set's own runs. Their test sets, and so their table's
# columns, are the set's: webvision and, with EXTRA="--imagenet-val DIR", ilsvrc12; clothing1m's clean test.
_REAL_STUDY = {"seeds": "0", "rates_from": "the data set's own noisy labels (no synthetic noise)"}
STUDIES = {
    "eps2024-webvision-mini": {**_REAL_STUDY, "dataset": "webvision-mini", "preset": "eps2024",
                       "losses": "ce fl gce sce nce+rce nce+agce anl-ce ece+mae ce+lc-released nce+amse"},
    "ma2020-webvision-mini": {**_REAL_STUDY, "dataset": "webvision-mini", "preset": "ma2020",
                              "losses": "ce gce sce nce+mae nce+rce nfl+mae nfl+rce"},
    "ye2023-webvision-mini": {**_REAL_STUDY, "dataset": "webvision-mini", "preset": "ye2023",
                              "losses": "ce gce sce nce+rce nce+agce anl-ce"},
    "eps2024-clothing1m": {**_REAL_STUDY, "dataset": "clothing1m", "preset": "eps2024",
                   "losses": "ce fl gce sce nce+rce nce+agce anl-ce ece+mae nce+amse"},
}
