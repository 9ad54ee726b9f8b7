"""The package's layers, kept: read from the source with ast, so this needs no torch and takes well under a second.

The rule:
- Every module of noisylabels/ is declared below as torch-free or torch-side; a new module must be placed.
- A module's imports are every `from . import x`, `from .x import y`, `from noisylabels import x` and
  `import noisylabels.x` in it, at module level and inside functions (lazy imports) alike; `__init__` imports the
  modules its `_API` table names (lazily, through importlib).
- (a) The import graph has no cycle, lazy imports included.
- (b) A torch-free module imports no torch-side module, lazily or not.
- (c) A torch-free module imports torch (or torchvision) never at module level, and inside a function only where
  LAZY_TORCH names the module and says why: to read or write a torch file (.pt), which is all torch is for there.
  (Asking a child Python about torch, as scheduler.py does for the GPU count, is no import.)
- (d) The base helpers (BASE) import only each other, and the readers of files (READERS) only the base helpers:
  the data sets' readers are a leaf, with the dispatch by a run's configuration and the command line above them.
"""
import ast
import os

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "noisylabels")

# The layers, declared. Torch-free: what the grid, the configuration, the data, the noise and the figures need on
# a machine without torch (a login node, plot.py on a laptop).
TORCH_FREE = {
    "config", "keys", "presets", "registry", "released",  # the configuration
    "noise", "idn", "labelfile",  # the noise models and label files
    "data", "owndata", "subset", "fetch", "datasets",  # the data sets: readers, the user's own, subsets, dispatch
    "realnoise", "realsubset", "realconfig", "realprotocols",  # the real-world sets' lists, subsets, flags, protocols
    "grid", "scheduler", "slurm", "rundir",  # the grid
    "errors", "atomic",  # helpers
    "plot", "results", "figures", "tables", "noisefigures", "diagfigures",  # figures and tables from the logs
}
TORCH_SIDE = {"engine", "train", "runstate", "rundata", "stream", "streamdata", "benchdecode", "formulas", "evaluate", "losses", "modern",
              "model", "batches",
              "diagnose", "tboard",
              "__init__"}  # __init__: lazily, each name when first used
# Torch-free modules that may import torch inside a function, and why.
LAZY_TORCH = {"atomic": "save_torch writes a checkpoint (.pt)",
              "labelfile": "a .pt label file that holds tensors is read with torch's own safe loader"}
BASE = {"errors", "atomic", "fetch"}  # under everything
READERS = {"data", "labelfile", "realnoise"}  # the files of the data sets and of noisy labels, read into numpy
TORCH = {"torch", "torchvision"}


def modules():
    return sorted(f[:-3] for f in os.listdir(PACKAGE) if f.endswith(".py"))


def imports(name):
    """[(imported module, line, lazy)] of the package's own modules, and [(top-level name, line, lazy)] of the rest."""
    with open(os.path.join(PACKAGE, name + ".py"), encoding="utf-8") as f:
        tree = ast.parse(f.read(), name + ".py")
    known, own, other = set(modules()), [], []

    def visit(node, lazy):
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for a in child.names:
                    head, _, rest = a.name.partition(".")
                    if head == "noisylabels":
                        own.append((rest.partition(".")[0] or "__init__", child.lineno, inner))
                    else:
                        other.append((head, child.lineno, inner))
            elif isinstance(child, ast.ImportFrom):
                if child.level > 1:
                    raise AssertionError(f"noisylabels/{name}.py:{child.lineno}: a relative import above the package")
                if child.level == 1 or (child.module or "").partition(".")[0] == "noisylabels":
                    module = (child.module or "").removeprefix("noisylabels").lstrip(".") if child.level == 0 \
                        else child.module or ""
                    if module:  # from .x import y, from noisylabels.x import y
                        own.append((module.partition(".")[0], child.lineno, inner))
                    else:  # from . import x: a module, or a name of __init__
                        own.extend((a.name if a.name in known else "__init__", child.lineno, inner)
                                   for a in child.names)
                else:
                    other.append(((child.module or "").partition(".")[0], child.lineno, inner))
            visit(child, inner)

    visit(tree, False)
    if name == "__init__":  # its public names, each imported from the module _API names when first used
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_API" for t in node.targets):
                own += [(m, node.lineno, True) for m in ast.literal_eval(node.value).values()]
    return own, other


GRAPH = {m: imports(m) for m in modules()}


def edges(m):
    """{imported module: (line, lazy)} of m, the first import of each; an import of itself is not an edge."""
    out = {}
    for dep, line, lazy in GRAPH[m][0]:
        if dep != m:
            out.setdefault(dep, (line, lazy))
    return out


def said(m, dep):
    line, lazy = edges(m)[dep]
    return f"noisylabels/{m}.py:{line} imports {dep}{' (lazily, in a function)' if lazy else ''}"


def test_every_module_is_in_one_layer():
    both, found = TORCH_FREE & TORCH_SIDE, set(modules())
    assert not both, f"declared both torch-free and torch-side: {sorted(both)}"
    assert not found - TORCH_FREE - TORCH_SIDE, \
        f"not declared: {sorted(found - TORCH_FREE - TORCH_SIDE)}; add each to TORCH_FREE or TORCH_SIDE above"
    gone = (TORCH_FREE | TORCH_SIDE) - found
    assert not gone, f"declared but not in noisylabels/: {sorted(gone)}; remove them above"
    assert set(LAZY_TORCH) <= TORCH_FREE and BASE | READERS <= TORCH_FREE
    for m in modules():  # every import names a module that is there
        for dep in edges(m):
            assert dep in found, f"noisylabels/{m}.py imports {dep}, which is no module of noisylabels/"


def reach(m):
    """Every module m imports, directly or through others."""
    seen, todo = set(), [m]
    while todo:
        for dep in edges(todo.pop()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def cycles():
    """(the modules, one cycle [m, ..., m] in import order) of each group of modules that import each other."""
    out, placed = [], set()
    for m in (m for m in modules() if m not in placed):
        group = {d for d in reach(m) if m in reach(d)}  # m's strongly connected component (with m, if in a cycle)
        if m not in group:
            continue
        placed |= group
        paths = {dep: [dep] for dep in edges(m) if dep in group}  # breadth first: the shortest way back to m
        while m not in paths:
            paths = {dep: p + [dep] for last, p in paths.items() for dep in edges(last) if dep in group
                     and dep not in p}
        out.append((sorted(group), [m] + paths[m]))
    return out


def test_no_import_cycle():
    found = cycles()
    assert not found, "import cycles: " + " | ".join(
        f"{', '.join(group)} import each other, e.g. {' -> '.join(c)}: " +
        "; ".join(said(a, b) for a, b in zip(c, c[1:])) for group, c in found)


def test_torch_free_modules_import_no_torch_side_one():
    crossings = [said(m, dep) + ", which is torch-side" for m in modules() if m in TORCH_FREE
                 for dep in sorted(edges(m)) if dep in TORCH_SIDE]
    assert not crossings, f"torch-free modules import torch-side ones: {'; '.join(crossings)}"


def test_torch_free_modules_import_torch_only_lazily_and_where_allowed():
    bad = []
    for m in (m for m in modules() if m in TORCH_FREE):
        for head, line, lazy in GRAPH[m][1]:
            if head in TORCH and (not lazy or m not in LAZY_TORCH):
                where = "inside a function, and LAZY_TORCH does not name it" if lazy else "at module level"
                bad.append(f"noisylabels/{m}.py:{line} imports {head} {where}")
    assert not bad, f"torch in a torch-free module: {'; '.join(bad)}"


def test_the_base_helpers_and_the_readers_are_leaves():
    bad = [said(m, dep) for m in modules() if m in BASE | READERS for dep in sorted(edges(m)) if dep not in BASE]
    assert not bad, f"the base helpers ({', '.join(sorted(BASE))}) and the readers ({', '.join(sorted(READERS))}) " \
                    f"may import only the base helpers: " + "; ".join(bad)
