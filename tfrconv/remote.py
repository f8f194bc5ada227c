"""Paths that are URLs (`gs://`, `s3://`, `az://`, `hf://`, `memory://`, ...), through fsspec.

fsspec is the optional `[cloud]` extra: it is imported only when a URL is met, and a URL without
it is a one-line UsageError naming the extra. A store's own package (s3fs for `s3://`, gcsfs for
`gs://`, adlfs for `az://`, huggingface_hub for `hf://`) is named the same way when it is missing.

Nothing here ever treats a URL as a local path, so no run creates `./gs:/bucket/` (docs/remote.md).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from .errors import DataError, UsageError

CLOUD_EXTRA = "pip install 'tfrconv[cloud]'"

# A scheme of two letters or more, so a Windows drive (C://) is never taken for one.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+://")


def is_url(path: Any) -> bool:
    """Whether `path` is a URL with a scheme (`s3://bucket/x`), not a local path."""
    return isinstance(path, str) and _URL.match(path) is not None


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for `url`; a one-line UsageError naming what to
    install when fsspec or the store's package is missing."""
    try:
        import fsspec
    except ImportError:
        raise UsageError(f"{url} is a URL: reading and writing URLs needs the cloud extra "
                         f"({CLOUD_EXTRA})") from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:       # fsspec's message names the store's package
        raise UsageError(f"{url}: {first_line(exc)}") from None
    except ValueError as exc:        # an unknown protocol
        raise UsageError(f"{url}: {first_line(exc)}") from None


def join(folder_url: str, *names: str) -> str:
    return "/".join([folder_url.rstrip("/"), *names])


def split(url: str) -> tuple[str, str]:
    """(folder URL, file name) of a file URL."""
    folder, _, name = url.rstrip("/").rpartition("/")
    return folder, name


def unstrip(fs: Any, path: str) -> str:
    """`path` inside `fs` as a URL again."""
    return fs.unstrip_protocol(path)


def open_input(url: str) -> tuple[IO[bytes], int]:
    """(binary file object, size in bytes) of the file at `url`; OSError when it cannot be
    read (a missing object included), as a local open would raise."""
    fs, path = filesystem(url)
    try:
        size = fs.size(path)
        return fs.open(path, "rb"), size
    except OSError:
        raise
    except Exception as exc:         # a store's own error types: reported as unreadable
        raise OSError(f"{type(exc).__name__}: {first_line(exc)}") from None


def read_bytes(url: str) -> bytes:
    """The whole file at `url` (OSError when it cannot be read)."""
    fileobj, _size = open_input(url)
    with fileobj:
        return fileobj.read()


def is_dir(url: str) -> bool:
    fs, path = filesystem(url)
    try:
        return bool(fs.isdir(path))
    except Exception:                 # noqa: BLE001 - unreachable counts as "not a folder"
        return False


def is_file(url: str) -> bool:
    fs, path = filesystem(url)
    try:
        return bool(fs.isfile(path))
    except Exception:                 # noqa: BLE001
        return False


def glob_files(pattern: str) -> list[str]:
    """The files matching a URL glob (or naming one file), sorted, as URLs."""
    fs, path = filesystem(pattern)
    try:
        if fs.isfile(path):
            return [pattern]
        found = fs.glob(path) if any(c in path for c in "*?[") else []
        return sorted(unstrip(fs, p) for p in found if fs.isfile(p))
    except Exception as exc:          # noqa: BLE001 - a store that cannot be listed
        raise UsageError(f"{pattern}: cannot list: {first_line(exc)}") from None


def list_files(folder_url: str) -> list[tuple[str, str]]:
    """(URL, name) of every file directly in a folder URL, sorted by name."""
    fs, path = filesystem(folder_url)
    try:
        entries = fs.ls(path, detail=True)
    except FileNotFoundError:
        return []
    except Exception as exc:          # noqa: BLE001
        raise UsageError(f"{folder_url}: cannot list: {first_line(exc)}") from None
    files = [(unstrip(fs, e["name"]), posixpath.basename(e["name"].rstrip("/")))
             for e in entries if e.get("type") == "file"]
    return sorted(files, key=lambda pair: pair[1])


# Folder URL → its local copy, while a `local_copy` block runs (one download per run).
_COPIES: dict[str, str] = {}


@contextmanager
def local_copy(url: str) -> Iterator[str]:
    """The file or folder at `url` downloaded once into a temporary folder, removed after the
    block. Meanwhile `fetch` of `url`, or of anything under it, returns this copy instead of
    downloading again: detection and conversion read one download."""
    key = url.rstrip("/")
    if key in _COPIES:
        yield _COPIES[key]
        return
    import shutil
    import tempfile

    into = tempfile.mkdtemp(prefix="tfrconv-copy-")
    try:
        _COPIES[key] = fetch(url, into)
        yield _COPIES[key]
    finally:
        _COPIES.pop(key, None)
        shutil.rmtree(into, ignore_errors=True)


def copied(url: str) -> str | None:
    """The local copy of `url` made by an open `local_copy` block, if any."""
    key = url.rstrip("/")
    for folder, local in _COPIES.items():
        if key == folder:
            return local
        parts = key[len(folder) + 1:].split("/")
        if key.startswith(folder + "/") and not any(p in ("", ".", "..") for p in parts):
            inside = os.path.join(local, *parts)
            if os.path.exists(inside):
                return inside
    return None


def fetch(url: str, into: str) -> str:
    """Download the file or folder at `url` into the new local folder `into`; the local path
    that stands for `url` (a folder is copied with everything under it; an open `local_copy`
    of it is used as it is). A URL naming nothing is a one-line DataError naming it."""
    already = copied(url)
    if already is not None:
        return already
    fs, path = filesystem(url)
    try:
        if fs.isfile(path):
            local = os.path.join(into, posixpath.basename(path.rstrip("/")) or "file")
            os.makedirs(into, exist_ok=True)
            fs.get_file(path, local)
            return local
        if not fs.isdir(path):
            raise DataError("no such file or folder", file=url)
        root = path.rstrip("/")
        remote_files, local_files = [], []
        for found in sorted(fs.find(root)):
            relative = posixpath.relpath(found, root)
            parts = relative.split("/")
            if relative.startswith("..") or any(p in ("", ".", "..") for p in parts):
                continue             # a name a local folder cannot hold safely
            local = os.path.join(into, *parts)
            os.makedirs(os.path.dirname(local), exist_ok=True)
            remote_files.append(found)
            local_files.append(local)
        os.makedirs(into, exist_ok=True)
        if remote_files:
            fs.get(remote_files, local_files)
        return into
    except (DataError, UsageError):
        raise
    except Exception as exc:          # noqa: BLE001 - the store's errors, in one line
        raise DataError(f"cannot download: {first_line(exc)}", file=url) from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
