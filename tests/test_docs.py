"""The documentation cannot rot: every command line in README.md and docs/ goes through the real parsers, the
tables of defaults equal the code's, every link resolves, nothing of the old README is lost, and --help is grouped."""
import glob
import os
import re
import shlex
import subprocess

import pytest

import bench
from noisylabels import config
from noisylabels import registry
from noisylabels import datasets
from noisylabels import evaluate
from noisylabels import plot
from noisylabels import presets
from noisylabels.data import DATASETS
from noisylabels.registry import canonical, default_hp
from helpers import G, ROOT as HERE, grid_list

PAGES = ["README.md"] + sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "docs", "*.md")))
PARSERS = {"train.py": config.parser, "plot.py": plot.parser, "evaluate.py": evaluate.parser,
           "bench.py": bench.parser, "data.py": datasets.parser}
# What each script does with its command line before any work: train.py's own checks too, bench.py's value checks.
TAKES = {**{n: p().parse_args for n, p in PARSERS.items()},
         "train.py": lambda args: config.check(config.parse_args(args)), "bench.py": bench.parse_args}
# Every section heading of the README at 7af6114, the last commit before it was split into docs/.
HEADINGS_7AF6114 = [
    "Robust losses under label noise, on CIFAR-10, CIFAR-100 and MNIST", "Install", "Use", "Data", "Noise",
    "CIFAR-100's asymmetric noise, and where the official code differs", "Human label noise (CIFAR-10N, CIFAR-100N)",
    "Losses", "The report's \"normalised\" losses", "Models", "Results of a run", "When things go wrong",
    "The whole study: `run_grid.sh`", "On a Slurm cluster", "The papers' protocols: presets and studies",
    "The studies", "A study measured: `ma2020-mnist` on the MNIST subset",
    "Where the presets differ from the released code", "Figures and tables", "Speed",
    "What makes it fast, measured one at a time", "bf16 and accuracy", "On a GPU", "How long a run takes",
    "What the effect looks like", "On MNIST, and the other data sets' paths", "Choices made where the spec was silent",
    "Tests", "The same verdict on every machine"]
# A command as the docs write it: optional VAR=value assignments, then one of the scripts.
COMMAND = re.compile(r"^((?:[A-Z_]+=(?:\"[^\"]*\"|'[^']*'|\S+)\s+)*)(python (?:train|plot|evaluate|bench|data)\.py|"
                     r"bash run_grid\.sh)(?=\s|$)(.*)$")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*$")  # DIR, RUN_DIR, DATASET: a value the reader fills in


def read(page):
    with open(os.path.join(HERE, page), encoding="utf-8") as f:
        return f.read()


def commands(text):
    """Every documented command line in a page: the lines of its code blocks, and its inline code spans."""
    found = []
    for line in text.splitlines():
        if line.startswith("    ") and not line.lstrip().startswith("|"):
            found.append(line.strip())
    spans = re.findall(r"`([^`]+)`", re.sub(r"(?m)^    .*$", "", text))  # a span may break across lines
    found += [" ".join(s.split()) for s in spans]
    return [c for c in found if COMMAND.match(c)]


def fill(parser, args):
    """Replace each placeholder value (an upper-case word after a flag, or a positional) with one the flag takes."""
    actions = {s: a for a in parser._actions for s in a.option_strings}
    out = []
    for i, arg in enumerate(args):
        flag = actions.get(args[i - 1]) if i else None
        if PLACEHOLDER.match(arg):
            arg = str(flag.choices[0]) if flag is not None and flag.choices else \
                "1" if flag is not None and flag.type in (int, float) else arg
        out.append(arg)
    return out


def check_command(line, cwd):
    """Raise AssertionError unless the real parser of its script takes the line (run_grid.sh: its --list, through
    grid.main in this process, which run_grid.sh execs)."""
    env, script, rest = COMMAND.match(line).groups()
    args = shlex.split(rest, comments=True)
    if script == "bash run_grid.sh":
        assigned = dict(a.split("=", 1) for a in shlex.split(env))
        assigned.pop("SLURM_ARRAY_TASK_ID", None)  # --list numbers the grid; a task index would run a point
        p = grid_list(cwd, *args, **assigned)
        assert p.returncode == 0, f"{line}\n{p.stderr.strip()}"
        return
    name = script.split()[1]
    args = fill(PARSERS[name](), args)
    cwd_before = os.getcwd()
    os.chdir(cwd)  # relative --out and --data-dir resolve in an empty folder, as for a new user
    try:
        TAKES[name](args)
    except SystemExit as e:
        if e.code == 0:  # --help
            return
        raise AssertionError(f"{line}: refused by {name}'s parser (exit {e.code})") from None
    except ValueError as e:
        raise AssertionError(f"{line}: {e}") from None
    finally:
        os.chdir(cwd_before)


DOCUMENTED = sorted({(page, c) for page in PAGES for c in commands(read(page))})


def test_the_pages_hold_commands_of_every_script():
    scripts = {COMMAND.match(c).group(2) for _, c in DOCUMENTED}
    assert scripts == {f"python {n}" for n in PARSERS} | {"bash run_grid.sh"}
    assert len(DOCUMENTED) > 45  # 57 when this was written; a collector that stopped finding them would show here


@pytest.mark.parametrize("page,line", DOCUMENTED, ids=[f"{p}: {c[:70]}" for p, c in DOCUMENTED])
def test_a_documented_command_is_taken_by_its_script(page, line, tmp_path):
    check_command(line, str(tmp_path))


@pytest.mark.parametrize("line,why", [
    ("python train.py --noise asym --noise-rate 0.25 --loss nfl", "unrecognized arguments: --noise-rate"),
    ("python train.py --loss nfl --noise sym --rate 1.5", "--rate must be in"),
    ("python plot.py results/ --only-settings sym-0.5", "unrecognized arguments: --only-settings"),
    ("bash run_grid.sh --loss ce", "unrecognized arguments: --loss ce (did you mean --losses?)"),
    ("LOSSES=nfll bash run_grid.sh", "unknown loss"),
])
def test_a_renamed_flag_or_a_bad_value_fails_the_check(line, why, tmp_path, capsys):
    with pytest.raises(AssertionError) as e:
        check_command(line, str(tmp_path))
    assert why in str(e.value) + capsys.readouterr().err


def test_placeholders_are_filled_with_values_their_flag_takes():
    p = config.parser()
    assert fill(p, ["--dataset", "DATASET", "--data-dir", "DIR", "--lr", "SMALLER"]) == \
        ["--dataset", "cifar10", "--data-dir", "DIR", "--lr", "1"]


def slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(text):
    text = re.sub(r"(?m)^    .*$", "", text)  # a '#' comment in a code block is not a heading
    return [h.strip() for h in re.findall(r"(?m)^#{1,6} (.+)$", text)]


def test_every_link_resolves():
    for page in PAGES:
        text = re.sub(r"`[^`\n]*`", "", re.sub(r"(?m)^    .*$", "", read(page)))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = os.path.normpath(os.path.join(HERE, os.path.dirname(page), path)) if path else \
                os.path.join(HERE, page)
            assert os.path.isfile(file), f"{page}: link to {target}: no such file"
            if anchor:
                assert anchor in [slug(h) for h in headings(read(file))], f"{page}: link to {target}: no such heading"


def test_no_heading_of_the_old_readme_is_lost():
    now = {h for page in PAGES for h in headings(read(page))}
    assert [h for h in HEADINGS_7AF6114 if h not in now] == []


@pytest.mark.slow
def test_the_list_of_old_headings_is_the_old_readmes():
    p = subprocess.run(["git", "show", "7af6114:README.md"], cwd=HERE, capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("git history without 7af6114 (a shallow clone)")
    assert headings(p.stdout) == HEADINGS_7AF6114


def test_the_readme_is_a_front_page():
    lines = read("README.md").splitlines()
    assert len(lines) <= 200
    first_screen = "\n".join(lines[:50])
    for needed in ("pip install -r requirements.txt", "python train.py --noise asym --rate 0.25 --loss nfl",
                   "bash run_grid.sh", "python plot.py results/", "python -m pytest -q"):
        assert needed in first_screen


def test_the_readme_names_nothing_outside_the_repository():
    """A clone has no ../shared beside it: the front page may point only at the repository's own files."""
    text = read("README.md")
    assert "../" not in text and "shared/" not in text


# The developers' folder beside their checkout (`../shared`, `/work/shared/...`, `shared/x`): a clone has none.
SHARED = re.compile(r"\.\./shared\b|\bshared/")


def shared_paths(text):
    """(line number, line) of every line of text that names the developers' shared folder."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if SHARED.search(line)]


def test_the_shared_paths_check_finds_them():
    text = "a\n    python train.py --data-dir ../shared/mnist-subset\nin `../shared`'s subsets\n/work/shared/x: ready\n" \
           "the clean run shared by both; shared tests\n"
    assert [n for n, _ in shared_paths(text)] == [2, 3, 4]


def test_no_page_names_the_developers_shared_folder():
    """Every page but docs/tests.md (the developers' own) is for a user, who has no ../shared beside a clone: a
    command naming it fails there, so the pages cut subsets with data.py or describe the data in words."""
    found = [f"{page}:{n}: {line}" for page in PAGES if page != os.path.join("docs", "tests.md")
             for n, line in shared_paths(read(page))]
    assert found == [], "pages name ../shared, which a clone does not have:\n" + "\n".join(found)


def test_the_readmes_figure_is_a_small_png():
    path = os.path.join(HERE, "docs", "memorisation.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(path) < 200_000


def rows(text, first):
    """The rows of the markdown table whose header starts with first, as lists of cells."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(f"| {first} |"))
    out = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        out.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return out


def test_the_protocols_page_holds_the_preset_tables_as_the_code_prints_them():
    page = read("docs/protocols.md")
    assert presets.markdown_setup() in page
    for table in presets.markdown_tables().split("\n\n"):
        assert table.strip() in page


def test_the_readmes_data_set_table_is_the_codes():
    table = rows(read("README.md"), "`--dataset`")
    assert [r[0].strip("`") for r in table] == list(DATASETS)
    for r in table:
        name = r[0].strip("`")
        assert int(r[1]) == DATASETS[name].num_classes
        nets = [n.strip(" `") for n in r[5].split("/")]
        assert nets == [presets.setup_values(p, name)[0]["arch"] for p in ("report", "ma2020", "ye2023")]


SYMBOLS = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "λ": "lamb", "q": "q", "a": "a", "T": "temperature",
           "t": "t", "n": "order", "τ": "tau", "π": "pi", "M": "M", "m": "m"}
NUMBER = r"[−\d.e-]+"  # a value as the page writes it, with a minus sign or a hyphen


def expected(loss, key):
    if key == "gamma":
        return presets.PRESETS["report"]["gamma"]
    if key == "temperature":
        return registry.EVERY_LOSS["temperature"]
    return default_hp(loss)[key]


def test_the_losses_pages_defaults_are_the_codes():
    checked = 0
    syms = "".join(SYMBOLS)
    for r in rows(read("docs/losses.md"), "`--loss`"):
        name, defaults = re.match(r"`([^`]+)`", r[0]).group(1), r[2]
        # a pair's own values: `nce+agce` α 1, β 4, a 6, q 1.5; ...
        for pair, values in re.findall(rf"`([\w-]+\+[\w-]+)` ((?:[αβaqδλ] {NUMBER}(?:, )?)+)", defaults):
            for sym, v in re.findall(rf"([αβaqδλ]) ({NUMBER})", values):
                assert float(v.replace("−", "-")) == expected(pair, SYMBOLS[sym]), (pair, sym)
                checked += 1
        # the row of every pair (α = β = 1 for any pair) and the wraps' (LOSS+lc): checked with a loss of that kind
        name = "nce+rce" if name == "active+passive" else name.replace("LOSS", "ce")
        canonical(name)
        for chain, v in re.findall(rf"((?:[{syms}] = )+)({NUMBER})", defaults):
            for sym in re.findall(rf"[{syms}]", chain):
                assert float(v.replace("−", "-")) == expected(name, SYMBOLS[sym]), (name, sym)
                checked += 1
    assert checked >= 30


def test_the_grid_pages_defaults_are_the_report_studys():
    study = presets.STUDIES["report"]
    table = {r[0].split()[0].strip("`"): r[1] for r in rows(read("docs/grid-and-slurm.md"), "variable (flag)")}
    assert table["STUDY"] == "`report`"
    for var in ("DATASET", "PRESET", "LOSSES", "SEEDS", "SYM_RATES", "ASYM_RATES"):
        assert table[var].strip("`") == study[var.lower()], var


def test_the_studies_table_is_the_codes():
    for r in rows(read("docs/protocols.md"), "study"):
        names = re.findall(r"`([\w-]+)`", r[0])
        names = [names[0]] + [names[0].rsplit("-", 1)[0] + n if n.startswith("-") else n for n in names[1:]]
        for name in names:
            s = presets.STUDIES[name]
            n = len(s["losses"].split()) * len(presets.study_settings(s)) * len(s["seeds"].split())
            assert int(r[5].split()[0]) == n, name
            if not r[2].startswith("as "):
                assert r[2] == s["losses"], name
            assert r[4] == s["seeds"], name
            if not r[3].startswith("as "):
                rates = [f"{k[:-6]} {s[k]}" for k in presets.NOISES if k.endswith("_rates") and s.get(k)]
                assert r[3] == ", ".join(rates), name


@pytest.mark.parametrize("script", list(PARSERS))
def test_every_flag_says_its_default(script):
    for action in PARSERS[script]()._actions:
        if action.option_strings and action.dest != "help":
            assert "default" in (action.help or ""), f"{script} {action.option_strings[0]}"


def test_train_help_is_grouped():
    groups = [g.title for g in config.parser()._action_groups[2:]]  # after argparse's positionals and options
    assert groups == ["protocol", "data", "noise", "loss", "model and optimisation", "compute", "run and resume"]
    helped = config.parser().format_help()
    assert all(f"\n{g}:\n" in helped for g in groups)


@pytest.mark.slow
def test_run_grid_help_is_grouped():
    from noisylabels import grid
    p = subprocess.run(["bash", G, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    assert [l for l in p.stdout.splitlines() if l.endswith(":") and not l.startswith(" ")] == \
        ["The grid:", "Where it runs:", "What it shows:"]
    flags = set(re.findall(r"^  (?:-h, )?(--[\w-]+)", p.stdout, re.M))
    assert flags == {o for a in grid.parser()._actions for o in a.option_strings if o.startswith("--")}
