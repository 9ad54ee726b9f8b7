"""Getting data files safely: checked downloads, archive extraction, and pickles that cannot run code.

A download never leaves a half-written file under a valid name: bytes go to a uniquely named
.part file, renamed only once its checksum is the published one. An archive is extracted into
a temporary folder and renamed into place. The unpickler accepts numpy arrays and plain Python
values only, so a doctored data file is refused instead of executed.
"""
import hashlib
import http.client
import io
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

from .errors import UserError


class DataError(UserError):
    """A problem with the data on disk or its download, explained in one line for the user."""


def checksum(path, algo="md5"):
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch(url, path):
    from tqdm import tqdm  # imported here: only a download needs it

    got = 0
    print(f"downloading {url} to {path}", file=sys.stderr)  # a line even where the bar is hidden (no TTY)
    with urllib.request.urlopen(url, timeout=60) as r, open(path, "wb") as f:
        total = int(r.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {os.path.basename(url)}",
                  file=sys.stderr, disable=None) as bar:
            for chunk in iter(lambda: r.read(1 << 20), b""):
                f.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
    # read(n) returns b"" when the server hangs up early instead of raising: count the bytes.
    if total is not None and got != total:
        raise http.client.IncompleteRead(b"", total - got)


def _fetch_retrying(url, part, tries, backoff):
    """_fetch with `tries` attempts; None once it worked, else why it did not."""
    for attempt in range(1, tries + 1):
        try:
            _fetch(url, part)
            return None
        # URLError, HTTPError, timeouts and resets are OSErrors; a cut-off body is IncompleteRead.
        except (OSError, http.client.HTTPException) as e:
            if isinstance(e, urllib.error.HTTPError) and 400 <= e.code < 500 and e.code not in (408, 429):
                return f"{url} answered {e.code} ({e.reason})"  # not there: asking again will not change that
            if attempt == tries:
                return f"download of {url} failed after {tries} tries ({e})"
            print(f"download failed ({e}); retrying in {backoff ** attempt:.0f} s", file=sys.stderr)
            time.sleep(backoff ** attempt)


def download(urls, dest, expected, algo="md5", tries=3, backoff=2.0, by_hand=None):
    """Fetch dest from the first of urls (mirrors, in order) that serves bytes whose checksum is `expected`.

    Each mirror gets `tries` attempts. The .part name is unique, so runs started together on a
    fresh --data-dir do not write into one file. by_hand: the files the failure tells the user to put in dest's
    folder by hand (default: dest's), where the data set needs several.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    fd, part = tempfile.mkstemp(prefix=os.path.basename(dest) + ".", suffix=".part", dir=os.path.dirname(dest) or ".")
    os.close(fd)
    whys = []
    try:
        for url in urls:
            why = _fetch_retrying(url, part, tries, backoff)
            if why is None:
                got = checksum(part, algo)
                if got == expected:
                    os.replace(part, dest)
                    return
                why = f"downloaded {url} has {algo} {got}, expected {expected}; the file was removed"
            whys.append(why)
            if url != urls[-1]:
                print(f"{why}; trying the next mirror", file=sys.stderr)
        where, files = os.path.dirname(dest) or ".", by_hand or [os.path.basename(dest)]
        network = "check the network and " if any("failed after" in w for w in whys) else ""
        raise DataError(f"{'; '.join(whys)}; {network}run again, or put {', '.join(files)} into {where} by hand")
    finally:
        if os.path.exists(part):
            os.remove(part)


def download_into(data_dir, urls, dest, expected, algo="md5", by_hand=None):
    """download(), creating data_dir for it; a data_dir made here is removed again if the download fails."""
    made = not os.path.isdir(data_dir)
    os.makedirs(data_dir, exist_ok=True)
    try:
        download(urls, dest, expected, algo, by_hand=by_hand)
    except DataError:
        if made and not os.listdir(data_dir):
            os.rmdir(data_dir)
        raise


def extract(archive, data_dir, folder, what):
    """Unpack archive's `folder` into data_dir through a temporary folder: a folder named so is always complete."""
    tmp = tempfile.mkdtemp(prefix=".extract-", dir=data_dir)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        if not os.path.isdir(os.path.join(tmp, folder)):
            raise DataError(f"{archive} holds no {folder}/ folder; it is not the {what} python archive")
        try:
            os.replace(os.path.join(tmp, folder), os.path.join(data_dir, folder))
        except OSError:
            if not os.path.isdir(os.path.join(data_dir, folder)):
                raise  # else a run started beside this one extracted the same archive first
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"cannot extract {archive} ({e}); delete it and run again to download a fresh copy") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _ArrayUnpickler(pickle.Unpickler):
    # Data files are dicts of lists, strings and numpy arrays; refusing every other global
    # means a doctored file cannot run code when it is read. numpy.core is the module path
    # numpy < 2 writes, numpy._core the one numpy >= 2 writes; pickle protocol 2 stores an
    # array's raw bytes through _codecs.encode (a string -> bytes).
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def unpickle(path):
    """Load a pickle, or the one pickle inside a torch.save zip, allowing numpy arrays and plain values only.

    torch.load(weights_only=True) would refuse the numpy arrays of the CIFAR-N files; a tensor,
    or any other class, is refused here. Strings of Python-2 pickles are read as latin1.
    """
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith("data.pkl"))
            return _ArrayUnpickler(io.BytesIO(z.read(name)), encoding="latin1").load()
    with open(path, "rb") as f:
        return _ArrayUnpickler(f, encoding="latin1").load()
