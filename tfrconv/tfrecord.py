"""TFRecord framing without TensorFlow: the same bytes `tf.io.TFRecordWriter` writes, and
the one reader of record files.

Each record is: u64 little-endian length, u32 masked CRC32C of those 8 bytes, the payload, u32
masked CRC32C of the payload. There is no file header. GZIP files are the same stream gzipped;
`is_gzip` tells them apart. Reading has two modes over one framing loop: `scan_records` is
tolerant (inspect and verify see as much of a damaged file as they can) and `iter_records` /
`read_records` are strict (data is read only when it is whole). Paths may be URLs (`s3://`,
`memory://`, ...; through `remote.py` and the `[cloud]` extra): files, globs and folders alike.
"""

from __future__ import annotations

import glob as globlib
import gzip
import io
import os
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, NamedTuple

import google_crc32c

from . import remote
from .errors import DataError, UsageError

_MASK_DELTA = 0xA282EAD8
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
GZIP_MAGIC = b"\x1f\x8b"


def masked_crc(data: bytes) -> int:
    return _mask(google_crc32c.value(data))


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


Payload = bytes | Sequence[bytes]


def frame_parts(payload: Payload) -> list[bytes]:
    """One record as pieces for writev: length, its CRC, the payload (one piece or the pieces
    it came in, never joined), the payload's CRC."""
    pieces = [payload] if isinstance(payload, (bytes, bytearray, memoryview)) else list(payload)
    header = _U64.pack(sum(map(len, pieces)))
    crc = 0
    for piece in pieces:
        crc = google_crc32c.extend(crc, piece)
    return [header, _U32.pack(masked_crc(header)), *pieces, _U32.pack(_mask(crc))]


def frame(payload: Payload) -> bytes:
    """One record, framed (header + payload + footer)."""
    return b"".join(frame_parts(payload))


class _CountingFile:
    """Passes writes through and counts the bytes: the compressed size of a GZIP shard."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self.fileobj = fileobj
        self.count = 0

    def write(self, data) -> int:
        self.count += len(data)
        return self.fileobj.write(data)

    def flush(self) -> None:
        self.fileobj.flush()


class RecordWriter:
    """Writes framed records to a binary file object (GZIP when asked)."""

    def __init__(self, fileobj: BinaryIO, compression: str | None = None) -> None:
        self._raw = fileobj
        self._counted: _CountingFile | None = None
        self._fd: int | None = None
        if compression is None:
            self._out = fileobj
            self._fd = _writable_fd(fileobj)
        elif compression.upper() == "GZIP":
            self._counted = _CountingFile(fileobj)
            # mtime=0 and no file name: the same input always gives the same bytes.
            self._out = gzip.GzipFile(fileobj=self._counted, mode="wb", mtime=0, filename="")
        else:
            raise UsageError(f"unknown compression {compression!r} (use GZIP or none)")
        self.records = 0
        self.bytes = 0            # framed records, before compression

    def write(self, payload: Payload) -> int:
        """Write one record (the payload as bytes or as pieces); returns its framed size."""
        pieces = frame_parts(payload)
        size = sum(map(len, pieces))
        if self._fd is not None:
            _writev_all(self._fd, pieces, size)     # one system call, the image not copied
        else:
            for piece in pieces:
                self._out.write(piece)
        self.records += 1
        self.bytes += size
        return size

    def appended(self, length: int) -> None:
        """Count a framed record written to the raw file by someone else (a worker process)."""
        self.records += 1
        self.bytes += length

    @property
    def compressed(self) -> bool:
        return self._counted is not None

    @property
    def file_bytes(self) -> int:
        """Bytes in the file (compressed for GZIP; final once `close()` has run)."""
        return self.bytes if self._counted is None else self._counted.count

    def close(self) -> None:
        if self._out is not self._raw:
            self._out.close()


def _writable_fd(fileobj) -> int | None:
    """The descriptor of a plain buffered file (writes go around its empty buffer), else None
    (also where there is no `os.writev`: Windows writes through the file object)."""
    if not isinstance(fileobj, io.BufferedWriter) or not hasattr(os, "writev"):
        return None
    try:
        fileobj.flush()
        return fileobj.fileno()
    except (OSError, ValueError):
        return None


def _writev_all(fd: int, pieces: list, size: int) -> None:
    written = os.writev(fd, pieces)
    if written < size:                              # a short write: finish plainly
        rest = b"".join(pieces)[written:]
        while rest:
            rest = rest[os.write(fd, rest):]


class Record(NamedTuple):
    """One record slot of a file: the payload, or what is wrong with it (a tuple: cheap to
    make once per record)."""

    path: str
    index: int
    offset: int                 # byte offset of the record (uncompressed stream for GZIP)
    payload: bytes | None       # None when the record could not be read
    error: str | None = None
    fatal: bool = False         # the rest of the file cannot be read


def open_record_file(path: str) -> tuple[BinaryIO, int]:
    """(binary file object, size) of a record file, local or a URL (OSError if unreadable)."""
    if remote.is_url(path):
        return remote.open_input(path)
    fileobj = open(path, "rb")  # noqa: SIM115 - the caller closes it
    return fileobj, os.fstat(fileobj.fileno()).st_size


def file_size(path: str) -> int:
    """The size in bytes of a record file, local or a URL (OSError if it cannot be read)."""
    fileobj, size = open_record_file(path)
    fileobj.close()
    return size


def is_gzip(path: str) -> bool:
    """Whether a record file is GZIP-compressed, from its first bytes."""
    fileobj, _size = open_record_file(path)
    with fileobj:
        head = fileobj.read(12)
    if head[:2] != GZIP_MAGIC:
        return False
    # A plain record file could start with these two bytes; its header CRC tells them apart.
    return not (len(head) == 12 and _U32.unpack(head[8:])[0] == masked_crc(head[:8]))


def scan_records(path: str) -> Iterator[Record]:
    """Every record of one file, in order, read tolerantly: a record whose payload fails its CRC
    (a flipped bit) comes with an error and reading goes on, because its length is intact; a
    damaged length, a file that ends inside a record or one that cannot be read ends the file
    with a fatal error. Never raises for bad content: inspect and verify report it all."""
    try:
        compressed = is_gzip(path)
        raw, size = open_record_file(path)
        if compressed:
            size = None
    except OSError as exc:
        yield Record(path, 0, 0, None, f"cannot read the file: {exc.strerror or exc}",
                     fatal=True)
        return
    stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
    index = offset = 0
    where = "uncompressed offset" if compressed else "offset"
    try:
        while True:
            try:
                header = stream.read(12)
                if not header:
                    return
                if len(header) < 12:
                    what = (f"only {len(header)} bytes: not a TFRecord file" if index == 0 else
                            "file ends inside a record header (truncated file)")
                    yield Record(path, index, offset, None, what, fatal=True)
                    return
                (length,), (length_crc,) = _U64.unpack(header[:8]), _U32.unpack(header[8:])
                if length_crc != masked_crc(header[:8]):
                    what = ("not a TFRecord file (the first record's length fails its CRC)"
                            if index == 0 else "corrupt record length (CRC mismatch); the rest "
                            "of the file cannot be read")
                    yield Record(path, index, offset, None, what, fatal=True)
                    return
                if size is not None and offset + 16 + length > size:
                    yield Record(path, index, offset, None, f"file ends inside the record "
                                 f"({length} bytes announced, {size - offset - 12} left; "
                                 "truncated file)", fatal=True)
                    return
                # Payload and footer read apart: slicing them out of one read would copy
                # the payload (the image) a second time.
                payload = stream.read(length)
                footer = stream.read(4)
            except (OSError, EOFError, zlib.error) as exc:
                yield Record(path, index, offset, None, f"cannot read ({where} {offset}): "
                             f"{exc}", fatal=True)
                return
            if len(payload) < length or len(footer) < 4:
                yield Record(path, index, offset, None, "file ends inside the record "
                             "(truncated file)", fatal=True)
                return
            if _U32.unpack(footer)[0] != masked_crc(payload):
                yield Record(path, index, offset, None, "data CRC mismatch: the record's "
                             "bytes are corrupt (TensorFlow stops reading the file here)")
            else:
                yield Record(path, index, offset, payload)
            index += 1
            offset += 16 + length
    finally:
        stream.close()
        raw.close()


def iter_records(path: str) -> Iterator[bytes]:
    """Each record's payload, read strictly: the first damaged record raises DataError with
    its index and byte offset, as TensorFlow stops there too. GZIP is detected from the bytes."""
    for record in scan_records(path):
        if record.payload is None:
            raise DataError(f"record {record.index} (offset {record.offset}): {record.error}",
                            file=path)
        yield record.payload


def expand_paths(path_or_glob: str | os.PathLike | Iterable[str]) -> list[str]:
    """Files matching a path, a glob, or a list of them (sorted; UsageError if none)."""
    if isinstance(path_or_glob, (str, os.PathLike)):
        patterns = [os.fspath(path_or_glob)]
    else:
        patterns = [os.fspath(p) for p in path_or_glob]
    paths: list[str] = []
    for pattern in patterns:
        if remote.is_url(pattern):
            matches = remote.glob_files(pattern)
            if not matches:
                raise UsageError(f"no record files match {pattern!r}")
            paths.extend(matches)
            continue
        if os.path.isfile(pattern):
            paths.append(pattern)
            continue
        matches = sorted(p for p in globlib.glob(pattern) if os.path.isfile(p))
        if not matches:
            raise UsageError(f"no record files match {pattern!r}")
        paths.extend(matches)
    return paths


def read_records(path_or_glob: str | os.PathLike | Iterable[str]) -> Iterator[bytes]:
    """Every record payload of every matching file, in path order, read strictly."""
    for path in expand_paths(path_or_glob):
        yield from iter_records(path)


SIDECAR_SUFFIXES = (".json", ".pbtxt", ".txt", ".csv", ".md", ".html", ".png", ".jpg")


def record_paths(path_or_glob: str) -> list[str]:
    """The record files a path names: a file, a glob, or a folder (its files whose names
    contain "record", as FiftyOne and most scripts name them; manifests and label maps aside)."""
    if remote.is_url(path_or_glob) and remote.is_dir(path_or_glob):
        found = [url for url, name in remote.list_files(path_or_glob)
                 if "record" in name.lower() and not name.endswith(SIDECAR_SUFFIXES)]
        if not found:
            raise UsageError(f"{path_or_glob} is a folder without record files (no file name "
                             "contains 'record'); name the files or a glob instead")
        return found
    if os.path.isdir(path_or_glob):
        found = sorted(entry.path for entry in os.scandir(path_or_glob)
                       if entry.is_file() and "record" in entry.name.lower()
                       and not entry.name.endswith(SIDECAR_SUFFIXES))
        if not found:
            raise UsageError(f"{path_or_glob} is a folder without record files (no file name "
                             "contains 'record'); name the files or a glob instead")
        return found
    return expand_paths(path_or_glob)


def write_records(path: str, payloads: Iterable[bytes], compression: str | None = None) -> int:
    """Write payloads to one file (not atomic; for tests and small tools). Returns the count."""
    with open(path, "wb") as fileobj:
        writer = RecordWriter(fileobj, compression)
        for payload in payloads:
            writer.write(payload)
        writer.close()
        return writer.records
