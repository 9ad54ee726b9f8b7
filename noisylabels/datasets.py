"""Which data a run reads, and `python data.py`: the layer above the data sets' readers.

`for_run` gives a run's configuration its images and labels: a named data set (data.py, with the channel
statistics of --stats) or the user's own (owndata.py). `main` is data.py's command line: it downloads and checks
a named data set (and its human labels) once, before the runs that share it start, or cuts a real subset of it
(subset.py; realsubset.py for the real-world noisy sets of realnoise.py, which are never downloaded). The readers
under this import nothing of it (tests/test_layers.py). No torch here.
"""
from . import data
from . import owndata
from . import realnoise
from . import realsubset
from . import subset
from .errors import Parser, UserError, die


def for_run(cfg, fetch=True):
    """(Data, Spec, keep) of a run's configuration: a named data set with the statistics of --stats, or the user's
    own (owndata.py: a folder or an .npz); keep() writes a folder's new cache, or is None."""
    if cfg["dataset"] in owndata.KINDS:
        return owndata.load(cfg["dataset"], cfg["data_dir"], cfg["image_size"], cfg.get("skip_bad_images"))
    spec = data.spec_for(cfg["dataset"], cfg.get("stats") or "suite")
    return data.load(spec, cfg["data_dir"], fetch), spec, None


def parser():
    p = Parser(prog="data.py", description="Download and check a data set (and its human labels) into a folder, "
                                           "once, before runs that share it start; or cut a real subset of it "
                                           "(subset.py), or of a real-world noisy set obtained by hand "
                                           "(realsubset.py).")
    p.add_argument("--dataset", default="cifar10", choices=list(data.DATASETS) + list(realnoise.KINDS),
                   help="which data set; the real-world noisy sets (webvision-mini, clothing1m, animal10n, "
                        "food101n) are obtained by hand, and only cut with --subset (default: cifar10)")
    p.add_argument("--data-dir", default="./data", help="the folder train.py's --data-dir will name, or with "
                                                        "--subset the one it is cut from (default: ./data)")
    p.add_argument("--human", action="store_true", help="also fetch its CIFAR-N human labels, and with --subset "
                                                        "cut them too (default: off)")
    p.add_argument("--subset", type=int, metavar="N", help="write the first images of each class, N training images "
                                                           "in all, to --out in the official layout (default: none)")
    p.add_argument("--test-subset", type=int, metavar="M", help="with --subset, the test images too: M in all, the "
                                                                "first of each class; of a real-world noisy set, M "
                                                                "of each val and test list (default: the whole test "
                                                                "set)")
    p.add_argument("--out", metavar="DIR", help="the new folder of --subset, then train.py's --data-dir "
                                                "(default: none; needed with --subset)")
    p.add_argument("--imagenet-val", metavar="DIR", help="webvision-mini --subset: also cut ILSVRC12 val of its 50 "
                                                         "synsets (per-synset folders) into OUT/ilsvrc12-val "
                                                         "(default: none)")
    p.add_argument("--food101", metavar="DIR", help="food101n --subset: the Food-101 folder whose test split is cut "
                                                    "into OUT/food-101; needed there (default: none)")
    return p


def main(argv=None):
    try:
        args = parser().parse_args(argv)
        real_kind = args.dataset in realnoise.KINDS
        if (args.subset is None) != (args.out is None) or (args.test_subset is not None and args.subset is None):
            tail = "" if real_kind else ", or neither to download the whole data set"
            raise UserError(f"--subset N and --out DIR go together (and --test-subset with them); give both{tail}")
        if real_kind:
            said = real(args)
        elif args.imagenet_val is not None or args.food101 is not None:
            flag, kind = ("--imagenet-val", "webvision-mini") if args.imagenet_val is not None else \
                ("--food101", "food101n")
            raise UserError(f"{flag} applies to a --subset of {kind} only, not of {args.dataset}; leave it out")
        elif args.subset is not None:
            said = subset.make(args.dataset, args.data_dir, args.out, args.subset, args.test_subset, args.human)
        else:
            spec = data.DATASETS[args.dataset]
            data.load(spec, args.data_dir)
            if args.human:
                data.load_human(spec, args.data_dir)
            said = f"{args.data_dir}: {spec.title}{' and its human labels' if args.human else ''} ready"
    except UserError as e:  # DataError too
        die(f"{e}")
    print(said)


def real(args):
    """A --subset of a real-world noisy set (realsubset.py); without --subset, the one line on where it is got."""
    kind = args.dataset
    if args.subset is None:
        raise UserError(f"data.py cannot download {kind}: {realnoise.OBTAIN[kind]}. train.py reads it from --data-dir, "
                        f"the folder it unpacks to; data.py only cuts subsets of it (--subset N --out DIR)")
    if args.human:
        raise UserError(f"--human is CIFAR-N's labels of CIFAR-10 and CIFAR-100; {kind}'s noise is its own: leave "
                        f"--human out")
    return realsubset.make(kind, args.data_dir, args.out, args.subset, args.test_subset, args.imagenet_val,
                           args.food101)


if __name__ == "__main__":
    main()
