"""Atomic writes: every file a script saves (JSON, CSV, torch checkpoints) is written whole or not at all.

Each is written to a temporary name beside its target, flushed to disk, then renamed over it, so a reader,
a kill or a full disk never leaves half a file under the real name. No torch at import.
"""
import json
import os


def save_atomic(path, write):
    """Write through write(f) (a binary file) to a temporary name, then rename it to path."""
    tmp = f"{path}.{os.getpid()}.tmp"  # per process: two writers of one file (two grids' plot.py) never share it
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # a full disk says so at write or flush time, without naming the file
        raise OSError(e.errno, e.strerror, path) from None
    except Exception as e:
        # torch.save turns a Ctrl-C that lands in its writes into a RuntimeError ("unexpected pos"): it is still
        # the user's Ctrl-C, which the scripts end in one line, not a traceback
        if isinstance(e.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_json(path, obj):
    save_atomic(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))


def save_text(path, text):
    save_atomic(path, lambda f: f.write(text.encode()))


def save_csv(path, columns, rows):
    """rows: dicts holding (at least) every column, written in that order under a header."""
    lines = [",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in rows]
    save_text(path, "\n".join(lines) + "\n")


def save_torch(path, obj):
    import torch  # only where a checkpoint is saved: the grid and the plots need no torch
    save_atomic(path, lambda f: torch.save(obj, f))
