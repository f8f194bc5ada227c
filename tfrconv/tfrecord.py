"""TFRecord framing without TensorFlow: the same bytes `tf.io.TFRecordWriter` writes.

Each record is: u64 little-endian length, u32 masked CRC32C of those 8 bytes, the payload, u32
masked CRC32C of the payload. There is no file header. GZIP files are the same stream gzipped.
"""

from __future__ import annotations

import glob as globlib
import gzip
import io
import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

import google_crc32c

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
    """The descriptor of a plain buffered file (writes go around its empty buffer), else None."""
    if not isinstance(fileobj, io.BufferedWriter):
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


def _open_stream(path: str, compression: str | None) -> BinaryIO:
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if compression is None:
        head = raw.read(12)
        raw.seek(0)
        if head[:2] == GZIP_MAGIC and not _valid_header(head):
            compression = "GZIP"
    if compression and compression.upper() == "GZIP":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _valid_header(head: bytes) -> bool:
    return len(head) == 12 and _U32.unpack(head[8:])[0] == masked_crc(head[:8])


def iter_records(path: str, *, compression: str | None = None, check_crc: bool = True
                 ) -> Iterator[bytes]:
    """Yield each record's payload. A truncated or corrupt file raises DataError with the
    record index and byte offset. GZIP is detected from the bytes when not given."""
    with _open_stream(path, compression) as stream:
        index = 0
        offset = 0
        while True:
            try:
                header = stream.read(12)
            except (OSError, EOFError) as exc:
                raise DataError(f"record {index} (offset {offset}): {exc}", file=path) from None
            if not header:
                return
            if len(header) < 12:
                raise DataError(f"record {index} (offset {offset}): file ends inside a record "
                                "header (truncated file)", file=path)
            (length,), (length_crc,) = _U64.unpack(header[:8]), _U32.unpack(header[8:])
            if check_crc and length_crc != masked_crc(header[:8]):
                raise DataError(f"record {index} (offset {offset}): corrupt length (CRC "
                                "mismatch); this is not a TFRecord file or it is damaged",
                                file=path)
            try:
                body = stream.read(length + 4)
            except (OSError, EOFError) as exc:
                raise DataError(f"record {index} (offset {offset}): {exc}", file=path) from None
            if len(body) < length + 4:
                raise DataError(f"record {index} (offset {offset}): file ends inside the record "
                                "(truncated file)", file=path)
            payload = body[:length]
            if check_crc and _U32.unpack(body[length:])[0] != masked_crc(payload):
                raise DataError(f"record {index} (offset {offset}): data CRC mismatch "
                                "(corrupt record)", file=path)
            yield payload
            index += 1
            offset += 16 + length


def expand_paths(path_or_glob: str | os.PathLike | Iterable[str]) -> list[str]:
    """Files matching a path, a glob, or a list of them (sorted; UsageError if none)."""
    if isinstance(path_or_glob, (str, os.PathLike)):
        patterns = [os.fspath(path_or_glob)]
    else:
        patterns = [os.fspath(p) for p in path_or_glob]
    paths: list[str] = []
    for pattern in patterns:
        if os.path.isfile(pattern):
            paths.append(pattern)
            continue
        matches = sorted(p for p in globlib.glob(pattern) if os.path.isfile(p))
        if not matches:
            raise UsageError(f"no record files match {pattern!r}")
        paths.extend(matches)
    return paths


def read_records(path_or_glob: str | os.PathLike | Iterable[str], *, check_crc: bool = True
                 ) -> Iterator[bytes]:
    """Every record payload of every matching file, in path order."""
    for path in expand_paths(path_or_glob):
        yield from iter_records(path, check_crc=check_crc)


def write_records(path: str, payloads: Iterable[bytes], compression: str | None = None) -> int:
    """Write payloads to one file (not atomic; for tests and small tools). Returns the count."""
    with open(path, "wb") as fileobj:
        writer = RecordWriter(fileobj, compression)
        for payload in payloads:
            writer.write(payload)
        writer.close()
        return writer.records
