"""A run directory's state and its claim: who is training it, and whether what it holds is the run asked for.

A run is trained by one process at a time. train.py claims its directory before it writes anything:
claim.json, created exclusively, holds the host, pid and start time, is renewed after every epoch and
removed at the end. A claim whose process is gone on this host is stale and taken over; a claim from
another host (a shared file system) is honoured until CLAIM_HOURS after its last renewal, since its
process cannot be asked. The grid claims a point before it writes train.log, and the train.py it starts
takes that claim over from its parent. No torch: the grid uses this on a login node.
"""
import json
import os
import socket
import subprocess
import time

from . import keys
from .errors import UserError

CLAIM = "claim.json"
CLAIM_HOURS = 12  # a claim from another host that has not been renewed for this long is taken over


def state(d):
    """running (claimed), done (result.json), resume (last.pt) or new."""
    if holder(d):
        return "running"
    if os.path.isfile(os.path.join(d, "result.json")):
        return "done"
    return "resume" if os.path.isfile(os.path.join(d, "last.pt")) else "new"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        pass
    return True


def holder(d, me=None):
    """The claim on d that is live and not ours (ours: held by `me` or its parent), as a dict; else None."""
    try:
        with open(os.path.join(d, CLAIM)) as f:
            c = json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):  # being written this instant, or torn: treat as held, it is renewed soon
        return {"host": "?", "pid": 0, "started": "?"}
    here = c.get("host") == socket.gethostname()
    if here and c.get("pid") in ({me, os.getppid()} if me else set()):
        return None
    if here and not _alive(int(c.get("pid", 0))):
        return None  # stale: its process is gone
    if not here and time.time() - os.path.getmtime(os.path.join(d, CLAIM)) > CLAIM_HOURS * 3600:
        return None
    return c


def said(c):
    return f"pid {c['pid']} on {c['host']} since {c['started']}"


def refuse_if_held(d):
    """UserError naming the process that holds d's claim, unless it is this one or its parent (the grid)."""
    held = holder(d, me=os.getpid())
    if held:
        raise UserError(f"{d} is being trained by {said(held)}; wait for it to end, or remove "
                        f"{os.path.join(d, CLAIM)} if that process is gone")


def claim(d):
    """Claim run directory d for this process, or UserError naming who holds it. Creates d."""
    refuse_if_held(d)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, CLAIM)
    body = json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                       "started": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n"
    if os.path.exists(path):  # stale, or our parent's (the grid's): replaced whole
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(body)
        os.replace(tmp, path)
        return sweep(d)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:  # another process claimed it a moment ago
        raise UserError(f"{d} was claimed a moment ago by another process; run again later") from None
    with os.fdopen(fd, "w") as f:
        f.write(body)
    sweep(d)


def sweep(d):
    """Remove the half-written files (atomic.py's *.<pid>.tmp) of a writer killed mid-save: once this process holds
    the claim, no other one writes here, so every such file is a dead process's."""
    for name in os.listdir(d):
        if name.endswith(".tmp"):
            try:
                os.remove(os.path.join(d, name))
            except OSError:
                pass


def renew(d):
    """Mark the claim as alive (its time is what another host reads)."""
    try:
        os.utime(os.path.join(d, CLAIM))
    except OSError:
        pass


def release(d, pids=None):
    """Remove the claim on d, if it is this process's (or one of pids')."""
    path = os.path.join(d, CLAIM)
    try:
        with open(path) as f:
            c = json.load(f)
        if c.get("host") == socket.gethostname() and c.get("pid") in (pids or {os.getpid()}):
            os.remove(path)
    except (OSError, ValueError):
        pass


def recorded(d):
    """The config.json of run directory d, or None where it has none."""
    try:
        with open(os.path.join(d, "config.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {d}/config.json ({type(e).__name__}); delete {d} to train it again") from None


def differences(cfg, was):
    """{key: (recorded, asked)} of every value that changes what a run computes: the configuration's keys that
    keys.py does not declare FREE, and the facts it declares CHECKED or FIXED (a file's hash, known once
    config.check_files has run; a late one, precision_used or the data's hash, only where cfg knows it: train.py
    once it has resolved them, not the grid, which resolves no device)."""
    asked, recorded = keys.facts_of(cfg), keys.facts_of(was)
    diff = {k.name: (keys.as_recorded(was)[k.name], cfg[k.name]) for k in keys.KEYS
            if k.record and k.resume != keys.FREE}
    diff.update({f.name: (recorded[f.name], asked[f.name]) for f in keys.FACTS
                 if f.resume != keys.FREE and not (f.late and asked[f.name] is None)})
    return {k: v for k, v in sorted(diff.items()) if v[0] != v[1]}


def fixed(diff):
    """The keys and facts of diff that --force may not change in a run in progress (keys.FIXED)."""
    declared = {**keys.BY_NAME, **{f.name: f for f in keys.FACTS}}
    return sorted(k for k in diff if declared[k].resume == keys.FIXED)


def said_differences(diff):
    return ", ".join(f"{k} {a} -> {b}" for k, (a, b) in diff.items())


def git_commit():
    """The suite's commit (-dirty when its files were changed), recorded in result.json."""
    try:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=here,
                              capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"
