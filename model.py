"""The networks: `python model.py` lists each with its parameter count on a data set's images.

The networks themselves are noisylabels/model.py's (make_model); train.py picks one with --arch.
"""
from noisylabels.errors import Parser, UserError, die

NAMED = ("cifar10", "cifar100", "mnist")


def parser():
    p = Parser(prog="model.py", description="List the networks and their parameter counts for a data set.")
    p.add_argument("--dataset", default="cifar10", choices=NAMED, help="data set whose images and classes the "
                                                                       "networks are built for (default: %(default)s)")
    return p


def main(argv=None):
    try:
        a = parser().parse_args(argv)
    except UserError as e:
        die(f"{e}")
    from noisylabels.data import DATASETS
    from noisylabels.model import ARCHS, DESCRIPTION, make_model

    spec = DATASETS[a.dataset]
    ch, size = spec.shape[0], spec.shape[1]
    print(f"networks for {a.dataset}: {ch} x {size} x {size} images, {spec.num_classes} classes")
    w = max(map(len, ARCHS))
    print(f"{'--arch':{w}} {'parameters':>12}  what")
    for name in ARCHS:
        n = sum(p.numel() for p in make_model(name, spec.num_classes, spec.shape).parameters())
        print(f"{name:{w}} {n:>12,}  {DESCRIPTION[name]}")


if __name__ == "__main__":
    main()
