"""All-or-nothing publishing of one run's outputs: every shard and sidecar, or none of them.

Files are finished under hidden temporary names first. `Publication.commit()` then checks every
final path before the first rename, moves any previous file aside, renames the new ones in, and
when a rename fails or a signal arrives meanwhile, puts everything back as it was: the new files
go, the previous ones return. Previous files are deleted only once every rename succeeded.

Moving the old file aside (rather than renaming over it) also keeps ext4's auto_da_alloc from
writing the whole new file out inside the rename.

`RemotePublication` keeps the same promise on an object store (an fsspec URL, docs/remote.md):
every finished local file is uploaded under a hidden temporary name beside its final one first;
only when all uploads succeeded are previous objects moved aside and the new ones moved (copied,
on most stores) into place; a failure removes what was uploaded and moves the previous ones back.
A store has no atomic rename, so a reader listing the folder during the moves may see some new
files beside old ones, never a half-written one.
"""

from __future__ import annotations

import os
import posixpath
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from . import remote
from .errors import DataError

_HELD = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
              if hasattr(signal, name))


class Publication:
    """(temporary, final) pairs renamed together; see the module docstring."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []

    def add(self, temp: str, final: str) -> None:
        self.pairs.append((temp, final))

    def check(self) -> None:
        """A one-line DataError for the first final path no file can be renamed to."""
        seen = set()
        for _temp, final in self.pairs:
            key = os.path.abspath(final)
            if key in seen:
                raise DataError("two outputs of this run have the same name", file=final)
            seen.add(key)
            if os.path.isdir(final):
                raise DataError("a folder is in the way of this output file (nothing was "
                                "published)", file=final)

    def commit(self) -> None:
        """Rename every pair into place, or none (previous files restored)."""
        self.check()
        token = os.urandom(4).hex()
        moved: list[tuple[str, str | None, bool]] = []   # (final, previous file aside, renamed)
        with _signals_held() as interrupted:
            try:
                for temp, final in self.pairs:
                    aside = None
                    if os.path.lexists(final):
                        folder, name = os.path.split(os.path.abspath(final))
                        aside = os.path.join(folder, f".{name}.old-{token}")
                        os.rename(final, aside)
                    moved.append((final, aside, False))
                    os.replace(temp, final)
                    moved[-1] = (final, aside, True)
            except OSError as exc:
                _roll_back(moved)
                raise DataError(f"renaming the output into place failed: "
                                f"{exc.strerror or exc} (nothing was published; previous files "
                                "were restored)", file=final) from None
            if interrupted():
                _roll_back(moved)            # the signal is raised as soon as it is unblocked
                return
        for _final, aside, _renamed in moved:
            if aside is not None:
                unlink_quietly(aside)


class RemotePublication:
    """(local finished file, final URL) pairs uploaded together; see the module docstring."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []

    def add(self, local: str, final_url: str) -> None:
        self.pairs.append((local, final_url))

    def commit(self) -> None:
        """Upload every file under a temporary name, then move each into place, or none."""
        token = os.urandom(4).hex()
        uploaded: list[tuple[object, str, str]] = []   # (filesystem, temporary, final)
        moved: list[tuple[object, str, str | None, bool]] = []
        final = ""
        with _signals_held() as interrupted:
            try:
                for local, final in self.pairs:
                    fs, path = remote.filesystem(final)
                    temp = _hidden_beside(path, f"tmp-{token}")
                    fs.put_file(local, temp)
                    uploaded.append((fs, temp, path))
                for fs, temp, path in uploaded:
                    final = remote.unstrip(fs, path)
                    aside = None
                    if fs.exists(path):
                        aside = _hidden_beside(path, f"old-{token}")
                        fs.mv(path, aside)
                    moved.append((fs, path, aside, False))
                    fs.mv(temp, path)
                    moved[-1] = (fs, path, aside, True)
            except Exception as exc:     # noqa: BLE001 - any store error: put things back
                _roll_back_remote(moved, uploaded)
                raise DataError(f"publishing to the store failed: {remote.first_line(exc)} "
                                "(nothing was published; previous files were restored)",
                                file=final) from None
            if interrupted():
                _roll_back_remote(moved, uploaded)
                return
        for fs, _path, aside, _renamed in moved:
            if aside is not None:
                _remove_quietly(fs, aside)


def _hidden_beside(path: str, tag: str) -> str:
    folder, name = posixpath.split(path)
    return posixpath.join(folder, f".{name}.{tag}")


def _roll_back_remote(moved, uploaded) -> None:
    for fs, path, aside, renamed in reversed(moved):
        if renamed:
            _remove_quietly(fs, path)
        if aside is not None:
            try:
                fs.mv(aside, path)
            except Exception:             # noqa: BLE001, S110 - best effort, as locally
                pass
    for fs, temp, _path in uploaded:
        _remove_quietly(fs, temp)


def _remove_quietly(fs, path: str) -> None:
    try:
        if fs.exists(path):
            fs.rm_file(path)
    except Exception:                     # noqa: BLE001, S110
        pass


def remove_stale_remote_shards(outputs: dict[str | None, str], num_shards: int) -> list[str]:
    """`remove_stale_shards` for output URLs: other shard counts' files of each output."""
    removed = []
    own = num_shards if num_shards > 1 else None
    for output in outputs.values():
        folder, name = remote.split(output)
        pattern = re.compile(re.escape(name) + r"-\d{5}-of-(\d{5})")
        for url, file_name in remote.list_files(folder):
            match = pattern.fullmatch(file_name)
            if match and int(match.group(1)) != own:
                fs, path = remote.filesystem(url)
                try:
                    fs.rm_file(path)
                except Exception:         # noqa: BLE001 - left for the next run
                    continue
                removed.append(url)
    return removed


def _roll_back(moved: list[tuple[str, str | None, bool]]) -> None:
    for final, aside, renamed in reversed(moved):
        if renamed:
            unlink_quietly(final)
        if aside is not None:
            try:
                os.rename(aside, final)
            except OSError:
                pass


@contextmanager
def _signals_held() -> Iterator:
    """Hold Ctrl-C, SIGTERM and SIGHUP inside the block; yields a function telling whether
    one arrived meanwhile, and delivers it (to the handler that was in place) when the block
    ends.

    A recording handler, not a blocked signal mask: the mask is per thread, and a signal sent
    to the process may be taken by any thread that has not blocked it (TensorFlow, Beam and
    pools start threads of their own); Python runs every handler in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    arrived: list[int] = []
    previous = {}
    for sig in _HELD:
        previous[sig] = signal.signal(sig, lambda signum, frame: arrived.append(signum))
    try:
        yield lambda: bool(arrived)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if arrived:
            signal.raise_signal(arrived[0])


def stale_shards(output: str, num_shards: int) -> list[str]:
    """Shard files of `output` left by an earlier run with another --num-shards: names
    `{output}-NNNNN-of-MMMMM` whose MMMMM is not this run's count (every one with one shard)."""
    folder, name = os.path.split(os.path.abspath(output))
    pattern = re.compile(re.escape(name) + r"-\d{5}-of-(\d{5})")
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    own = num_shards if num_shards > 1 else None
    return sorted(os.path.join(folder, n) for n in names
                  if (m := pattern.fullmatch(n)) and int(m.group(1)) != own
                  and os.path.isfile(os.path.join(folder, n)))


def remove_stale_shards(outputs: dict[str | None, str], num_shards: int) -> list[str]:
    """Delete every output's stale shards (after a successful publish); the files removed."""
    removed = []
    for output in outputs.values():
        for path in stale_shards(output, num_shards):
            try:
                os.unlink(path)
            except OSError:
                continue
            removed.append(path)
    return removed


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_temp(final: str, text: str) -> str:
    """Write `text` under a hidden temporary name beside `final`; that name. A failure (a full
    disk) is a one-line DataError naming `final`, and leaves no temporary file."""
    folder, name = os.path.split(os.path.abspath(final))
    temp = os.path.join(folder, f".{name}.tmp-{os.getpid()}")
    try:
        with open(temp, "w", encoding="utf-8") as fileobj:
            fileobj.write(text)
    except OSError as exc:
        unlink_quietly(temp)
        raise DataError(f"cannot write the file: {exc.strerror or exc} (nothing was "
                        "published)", file=final) from None
    return temp
