"""The values the losses' released code bases give, per data set, noise type and rate, and where each was read.

Each source is repository@commit path, as config.json's "sources" records it; registry.py's rows take their
values from here. Nothing here imports torch.
"""

ZHOU = "hitcszx/ALFs@898961f config.py"  # Zhou et al. 2021's released values per data set
ANL_VALUES = {"alpha": 5.0, "beta": 5.0, "delta": 5e-5}
# Zhou et al.'s values per data set, for their losses alone and in NCE+ (hitcszx/ALFs config.py).
ZHOU_VALUES = {"agce": ({"a": 0.6, "q": 0.6}, {"cifar100": {"a": 0.6, "q": 0.6}, "mnist": {"a": 4.0, "q": 0.2}}),
      "aul": ({"a": 5.5, "q": 3.0}, {"cifar100": {"a": 5.5, "q": 3.0}, "mnist": {"a": 3.0, "q": 0.1}}),
      "ael": ({"a": 2.5}, {"cifar100": {"a": 2.5}, "mnist": {"a": 3.5}}),
      "nce+agce": ({"alpha": 1.0, "beta": 4.0, "a": 6.0, "q": 1.5},
                   {"cifar100": {"alpha": 10.0, "beta": 0.1, "a": 1.8, "q": 3.0},
                    "mnist": {"alpha": 0.0, "beta": 1.0, "a": 4.0, "q": 0.2}}),
      "nce+aul": ({"alpha": 1.0, "beta": 4.0, "a": 6.3, "q": 1.5},
                  {"cifar100": {"alpha": 10.0, "beta": 0.015, "a": 6.0, "q": 3.0},
                   "mnist": {"alpha": 0.0, "beta": 1.0, "a": 3.0, "q": 0.1}}),
      "nce+ael": ({"alpha": 1.0, "beta": 4.0, "a": 5.0},
                  {"cifar100": {"alpha": 10.0, "beta": 0.1, "a": 1.5}, "mnist": {"alpha": 0.0, "beta": 1.0, "a": 3.5}})}

# The values of the 2019-2025 baselines (docs/losses.md, "Their values"). A key "sym", "asym", "idn" or
# "human" holds a noise type's own values (clean runs and human noise without one take "sym"'s); "sym-0.4" holds
# values from that rate up, to the next rate listed (below the first listed rate: the first's).
EPS = "cswjl/eps-softmax@f81685c3f00e4ce77b5da36a183a1cdf60fb6655 config.py"
JAL = "cswjl/joint-asymmetric-loss@0f9eb7b7730fecc319dee5cd53508a9ac26b570c config.py"
GJS = "ErikEnglesson/GJS@1a3c9e0788d4e14194771d096ab5a37ed434cebd configs/"
ELR = "shengliu66/ELR@934af53434a336b6db80d05d7649d23216e8ca6d ELR/config_cifar10{,_asym}.json, config_cifar100.json"
SR = "hitcszx/lnl_sr@cd3ed32110b1dfa3236bbcfe66d31db7bf62ad4b config.py (*_params['CE+SR']), main.py"
NONE_RELEASED = "no released value: the suite's choice (docs/losses.md, Their values)"
NLS = "UCSC-REAL/negative-label-smoothing@05078f675b42c13c89219eb8f2238bd4d794d83d loss.py (its default rate)"
BOOT_SOFT = "giorgiop/loss-correction@15a79de3c67c31907733392085c333547c2f2b16 loss.py"
BOOT_HARD = "MohammedAlkhrashi/DeepNoise@a481ba1d12660f6334671af04f990d567177a0de configs/algorithms/" \
            "default_bootstrapping_hard.py"
PHUBER = "dmizr/phuber@56e5f717e01d9de07b02af9e5cd44d9e436b95de README.md (a reimplementation; no official code)"
_EPS10 = {"sym": {"alpha": 0.01, "beta": 5.0, "m": 1e5}, "asym": {"alpha": 0.02, "beta": 5.0, "m": 1e3},
        "idn": {"alpha": 0.045, "beta": 10.0, "m": 1e5}}
_EPS100_SYM = {f"sym-{r}": {"alpha": a} for r, a in zip((0.0, 0.2, 0.4, 0.6, 0.8), (0.1, 0.05, 0.03, 0.00125, 0.0075))}
_EPS100 = {"beta": 1.0, "sym": {"m": 1e4}, "idn": {"m": 1e4}, "asym": {"m": 1e2}, **_EPS100_SYM,
         **{k.replace("sym", "idn"): v for k, v in _EPS100_SYM.items()},
         **{f"asym-{r}": {"alpha": a} for r, a in zip((0.1, 0.2, 0.3, 0.4), (0.015, 0.007, 0.005, 0.004))}}
LC_ROW = dict(values={"sym-0.0": {"logit_clip": 1.0}, "sym-0.5": {"logit_clip": 1.5}, "asym": {"logit_clip": 2.5},
                    "human": {"logit_clip": 2.5}, "idn": {"logit_clip": 2.0}}, source=EPS + " (get_ce_and_lc)",
               by_dataset={"cifar100": {"logit_clip": 0.5, "asym": {"logit_clip": 2.5}}})
EPS_ROW = dict(values=_EPS10, by_dataset={"cifar100": _EPS100}, source=EPS)


def _pi(sym, asym):
    # pi per symmetric rate 0, 0.2, 0.4, 0.6, 0.8, and per asymmetric rate {rate: pi} (GJS's configs)
    return {**{f"sym-{r}": {"pi": p} for r, p in zip((0.0, 0.2, 0.4, 0.6, 0.8), sym)},
            **{f"asym-{r}": {"pi": p} for r, p in asym.items()}}


GJS_ROW = dict(values={"M": 3, **_pi((0.5, 0.3, 0.9, 0.1, 0.1), {0.2: 0.3})}, source=GJS,
                by_dataset={"cifar100": _pi((0.3, 0.3, 0.5, 0.9, 0.1), {0.2: 0.5, 0.4: 0.1})})
JS_ROW = dict(values=_pi((0.1, 0.7, 0.7, 0.9, 0.9), {0.2: 0.3}), source=GJS,
               by_dataset={"cifar100": _pi((0.1, 0.1, 0.3, 0.5, 0.3), {0.2: 0.5})})
AMSE_ROW = dict(values={"a": 30.0, "delta": 5e-5}, by_dataset={"cifar100": {"a": 20.0, "delta": 5e-6}},
             setup={"weight_decay": 0.0}, source=JAL)
