"""Noisy labels as a file: `python noise.py --noise asym --rate 0.25 --out labels.npy`.

Draws the noise a run of train.py with the same --dataset, --noise, --rate and --seed draws, writes the
training set's noisy labels (in the data set's order) to --out for `train.py --noise file --labels FILE`,
and prints the realised transition matrix and noise rate. The noise models are noisylabels/noise.py's.
"""
import os
import sys

import numpy as np

from noisylabels import data, noise
from noisylabels.atomic import save_atomic
from noisylabels.errors import Parser, UserError, die

NAMED = ("cifar10", "cifar100", "mnist")


def parser():
    p = Parser(prog="noise.py", description="Write a data set's noisy training labels to a file, and print the "
                                            "realised transition matrix and noise rate.")
    p.add_argument("--dataset", default="cifar10", choices=NAMED, help="data set (default: %(default)s)")
    p.add_argument("--data-dir", default="./data", help="folder with the data set, downloaded there on first use "
                                                        "(default: %(default)s)")
    p.add_argument("--noise", default="sym", choices=[k for k in noise.KINDS if k != "file"],
                   help="noise model, as train.py's --noise (default: %(default)s)")
    p.add_argument("--rate", type=float, help="fraction of labels to flip, for the models with a rate "
                                              "(default: none; needed by sym, asym, pairflip, uniform and idn)")
    p.add_argument("--seed", type=int, default=42, help="the noise's seed, as train.py's --seed (default: %(default)s)")
    p.add_argument("--human-label", help="CIFAR-N label set of --noise human and human-matched "
                                         "(default: worse for cifar10, noisy for cifar100)")
    p.add_argument("--asym-cifar100", default="superclass", choices=["superclass", "blocks"],
                   help="CIFAR-100's asymmetric map, as train.py's flag (default: %(default)s)")
    p.add_argument("--out", required=True, help="the .npy file to write (required); an existing file is refused")
    return p


def main(argv=None):
    try:
        a = parser().parse_args(argv)
        if not a.out.endswith(".npy"):
            raise UserError(f"--out {a.out}: the labels are written as .npy; name the file LABELS.npy")
        if os.path.exists(a.out):
            raise UserError(f"--out {a.out} exists; remove it or name another file")
        rated = a.noise in noise.RATED
        if rated != (a.rate is not None):
            raise UserError(f"--noise {a.noise} needs --rate (e.g. --rate 0.4)" if rated else
                            f"--rate does not apply to --noise {a.noise}; leave it out")
        if a.human_label and a.noise not in ("human", "human-matched"):
            raise UserError("--human-label only applies to --noise human and human-matched; leave it out")
        d = data.load(a.dataset, a.data_dir)
        human = data.load_human(a.dataset, a.data_dir) if a.noise.startswith("human") else None
        noisy, T = noise.make_noisy_labels(d.y_train, a.noise, a.rate or 0.0, a.seed, dataset=a.dataset,
                                           images=d.x_train, superclass_of=d.superclass_of, human=human,
                                           human_label=a.human_label, cifar100=a.asym_cifar100)
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        save_atomic(a.out, lambda f: np.save(f, noisy))
    except UserError as e:  # data.DataError too
        die(f"{e}")
    C = T.shape[0]
    if C <= 10:
        print(f"realised transition matrix T[true class, label] ({C} x {C}):")
        print("\n".join(" ".join(f"{v:.3f}" for v in row) for row in T))
    else:  # 100 x 100 is no table to read: the fraction of each class kept
        print(f"realised transition matrix: {C} x {C}; its diagonal, the fraction of each class kept:")
        print("\n".join(" ".join(f"{v:.3f}" for v in np.diag(T)[i:i + 10]) for i in range(0, C, 10)))
    print(f"realised noise rate: {(noisy != d.y_train).mean():.4f} ({int((noisy != d.y_train).sum())} of "
          f"{len(noisy)} labels changed)")
    print(f"wrote {a.out}; train on it with: python train.py --dataset {a.dataset} --data-dir {a.data_dir} "
          f"--noise file --labels {a.out}")


if __name__ == "__main__":
    main()
