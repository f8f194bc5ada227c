"""Files for the Beam runner, through Beam's `FileSystems`: plain paths locally, and gs://, s3://,
azfs://, hdfs:// wherever the matching Beam extra is installed (apache-beam[gcp], [aws], ...).

Shards and sidecars are written into a hidden temporary folder beside each output and renamed to
their final names only when the whole run succeeded; `remove_tree` cleans up after a failure.
"""

from __future__ import annotations

import os
import posixpath

from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems

from ..errors import DataError, UsageError

RAW = CompressionTypes.UNCOMPRESSED      # tfrconv frames (and gzips) records itself


def is_remote(path: str | None) -> bool:
    """True for a path with a scheme (gs://bucket/x); False for a plain local path."""
    return bool(path) and FileSystems.get_scheme(path) not in (None, "file")


def check_filesystem(path: str, what: str) -> None:
    """UsageError when no installed Beam filesystem handles `path` (gs:// without [gcp])."""
    if not is_remote(path):
        return
    try:
        FileSystems.get_filesystem(path)
    except ValueError:
        scheme = FileSystems.get_scheme(path)
        extra = {"gs": "gcp", "s3": "aws", "azfs": "azure", "hdfs": "hadoop"}.get(scheme, "...")
        raise UsageError(f"{what} {path}: no Beam filesystem for {scheme}:// is installed "
                         f"(pip install 'apache-beam[{extra}]')") from None


def local_or_remote(path: str) -> str:
    """Local paths made absolute (workers may run elsewhere); remote paths as they are."""
    return path if is_remote(path) else os.path.abspath(path)


def temp_dir(output: str, token: str) -> str:
    """The hidden folder, beside `output`, that holds its files until they are published."""
    path = local_or_remote(output)
    folder, name = FileSystems.split(path)
    return FileSystems.join(folder, f".{name}.beam-tmp-{token}")


def inside(path: str, root: str) -> bool:
    """`path` lies under `root` (remote paths: compared after resolving `..`)."""
    base = posixpath.normpath(root).rstrip("/")
    return posixpath.normpath(path).startswith(base + "/")


def make_dirs(folder: str) -> None:
    """Create a local folder (blob stores have none); DataError when that is impossible."""
    if is_remote(folder):
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the output folder: {exc.strerror}",
                        file=os.path.dirname(folder)) from None


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path, compression_type=RAW) as fileobj:
        return fileobj.read()


def write_bytes(path: str, data: bytes) -> None:
    fileobj = FileSystems.create(path, compression_type=RAW)
    try:
        fileobj.write(data)
    finally:
        fileobj.close()


def publish(sources: list[str], destinations: list[str]) -> None:
    """Rename finished files to their final names (a copy and delete on blob stores)."""
    if not sources:
        return
    try:
        FileSystems.rename(sources, destinations)
    except (BeamIOError, OSError) as exc:
        raise DataError(f"renaming the output into place failed: {_first_error(exc)}",
                        file=destinations[0]) from None


def remove_tree(folder: str) -> None:
    """Delete a temporary folder and the files in it (best effort: used while failing)."""
    try:
        if not is_remote(folder):
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            return
        found = FileSystems.match([FileSystems.join(folder, "*")])[0].metadata_list
        if found:
            FileSystems.delete([meta.path for meta in found])
    except (BeamIOError, OSError, ValueError):
        pass


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "exception_details", None) or {}
    for error in errors.values():
        return str(error)
    return str(exc)
