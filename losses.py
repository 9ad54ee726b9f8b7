"""The losses: `python losses.py` lists every loss with its kind, values and paper; with --dataset (and --noise,
--rate) the values a run in that setting takes.

In a clone, `from losses import get_loss` works as `from noisylabels import get_loss` does. The losses
themselves are noisylabels/losses.py's and noisylabels/modern.py's.
"""
from noisylabels.errors import Parser, UserError, die
from noisylabels.losses import Loss, get_loss, list_losses  # noqa: F401  (the library's loss API, for a clone)
from noisylabels.noise import RATED


def parser():
    p = Parser(prog="losses.py", description="List every loss with its kind, values and paper, or the values a run "
                                             "in one setting takes.")
    p.add_argument("--dataset", choices=["cifar10", "cifar100", "mnist"],
                   help="the values a run on this data set takes (default: none, the papers' values)")
    p.add_argument("--noise", default="none", help="with --dataset: the noise model, as train.py's --noise "
                                                   "(default: %(default)s)")
    p.add_argument("--rate", type=float, help="with --dataset: the noise rate, needed by the noise models with "
                                              "a rate (default: none)")
    p.add_argument("--preset", choices=["report", "ma2020", "ye2023"],
                   help="with --dataset: the protocol (default: the one whose released configuration has the loss "
                        "on that data set, ma2020 else ye2023)")
    p.add_argument("--loss", help="only this loss, by name (default: every loss)")
    return p


def shown(values):
    return " ".join(f"{k}={','.join(f'{x:g}' for x in v) if isinstance(v, (list, tuple)) else f'{v:g}'}"
                    for k, v in sorted(values.items()) if v is not None)


def main(argv=None):
    try:
        a = parser().parse_args(argv)
        if a.dataset is None and (a.rate is not None or a.preset is not None):
            raise UserError("--rate and --preset say which setting's values to show: add --dataset")
        if a.dataset is not None and a.noise in RATED and a.rate is None:
            raise UserError(f"--noise {a.noise} needs --rate, the fraction of labels it flips (e.g. --rate 0.4)")
        rows = list_losses()
        if a.loss is not None:
            rows = [r for r in rows if r["name"] == a.loss] or [{"name": get_loss(a.loss).name, "kind": "",
                                                                  "values": get_loss(a.loss).values, "paper": ""}]
        if a.dataset is not None:
            get_loss(rows[0]["name"], dataset=a.dataset, noise=a.noise, rate=a.rate or 0.0, preset=a.preset)
    except UserError as e:
        die(f"{e}")
    if a.dataset is None:
        width = max(len(r["name"]) for r in rows)
        print(f"{'--loss':{width}}  {'kind':14} {'values':40} paper")
        for r in rows:
            print(f"{r['name']:{width}}  {r['kind']:14} {shown(r['values']) or '-':40} {r['paper']}")
        return
    print(f"values on {a.dataset}, --noise {a.noise} --rate {a.rate or 0:g}"
          f"{f', --preset {a.preset}' if a.preset else ''}:")
    rows = [r for r in rows if r["kind"] not in ("wrap", "alias")]  # a wrap's values are its loss's; an alias's too
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        try:
            loss = get_loss(r["name"], dataset=a.dataset, noise=a.noise, rate=a.rate or 0.0, preset=a.preset)
            said = f"{shown(loss.values) or '-'}  ({loss.setting['preset']})"
        except UserError as e:
            said = f"refused: {e}"
        print(f"{r['name']:{width}}  {said}")


if __name__ == "__main__":
    main()
