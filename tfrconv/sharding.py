"""Sharded, atomic output: the OD API's shard names, a stable shard per example, no half files.

Shard files are `{output}-{i:05d}-of-{N:05d}` (one shard: exactly `{output}`). An example's shard
comes from a stable hash of its source id, so the same input always gives the same files whatever
the order or parallelism of the run. Everything is written under hidden temporary names in the
output's folder and renamed into place only by `commit()`; `abort()` (or leaving the `with` block
with an exception) deletes the temporary files, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from .errors import DataError, UsageError
from .publish import Publication
from .tfrecord import Payload, RecordWriter


def shard_paths(output: str, num_shards: int) -> list[str]:
    if num_shards < 1:
        raise UsageError(f"--num-shards must be at least 1, got {num_shards}")
    if num_shards == 1:
        return [output]
    return [f"{output}-{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]


def shard_glob(output: str, num_shards: int) -> str:
    """The glob a pipeline config uses to read all shards back."""
    return output if num_shards == 1 else f"{output}-?????-of-{num_shards:05d}"


def stable_hash(key: str) -> int:
    """A 64-bit hash of a key, the same on every machine and Python version."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


def shard_index(source_id: str, num_shards: int, shard_key: int | None = None) -> int:
    if num_shards == 1:
        return 0
    return (shard_key if shard_key is not None else stable_hash(source_id)) % num_shards


@dataclass
class ShardStats:
    path: str
    examples: int = 0
    bytes: int = 0


class ShardedWriter:
    """Writes records into N shards under temporary names; `commit()` renames them into place."""

    def __init__(self, output: str, num_shards: int = 1, compression: str | None = None) -> None:
        self.output = output
        self.num_shards = num_shards
        self.paths = shard_paths(output, num_shards)
        folder = os.path.dirname(os.path.abspath(output))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create the output folder: {exc.strerror}", file=folder) \
                from None
        token = os.urandom(4).hex()
        self.temp_paths = [os.path.join(os.path.dirname(os.path.abspath(p)),
                                        f".{os.path.basename(p)}.tmp-{token}")
                           for p in self.paths]
        self._files = []
        self._writers = []
        self.stats = [ShardStats(p) for p in self.paths]
        self.closed = False
        try:
            for temp in self.temp_paths:
                fileobj = open(temp, "wb")  # noqa: SIM115 - closed in commit/abort
                self._files.append(fileobj)
                self._writers.append(RecordWriter(fileobj, compression))
        except OSError as exc:
            self.abort()
            raise DataError(f"cannot write output: {exc.strerror}", file=output) from None

    def write(self, shard: int, payload: Payload) -> None:
        try:
            size = self._writers[shard].write(payload)
        except OSError as exc:
            self.abort()
            raise DataError(f"writing failed: {exc.strerror or exc} (no output was left "
                            "behind)", file=self.paths[shard]) from None
        stats = self.stats[shard]
        stats.examples += 1
        stats.bytes += size

    def reserve(self, shard: int, length: int) -> tuple[str, int]:
        """Room for one framed record of `length` bytes that a worker process writes itself:
        (temporary file, offset). Records are placed back to back in the order reserved."""
        writer = self._writers[shard]
        offset = writer.bytes
        writer.appended(length)
        stats = self.stats[shard]
        stats.examples += 1
        stats.bytes += length
        return self.temp_paths[shard], offset

    def flush(self) -> None:
        """Push buffered records to the files (before worker processes write after them)."""
        for fileobj in self._files:
            fileobj.flush()

    def finish(self) -> None:
        """Flush and close every shard (still under temporary names)."""
        try:
            for writer, fileobj, stats in zip(self._writers, self._files, self.stats):
                writer.close()
                fileobj.close()
                stats.bytes = writer.file_bytes
        except OSError as exc:
            self.abort()
            raise DataError(f"finishing the output failed: {exc.strerror or exc} (no output "
                            "was left behind)", file=self.output) from None

    def renames(self) -> list[tuple[str, str]]:
        """(temporary, final) of every shard, for a `Publication` of the whole run."""
        return list(zip(self.temp_paths, self.paths))

    def published(self) -> None:
        """The shards were renamed into place (by a `Publication`): nothing left to clean."""
        self.closed = True

    def publish(self) -> list[ShardStats]:
        """Rename the finished shards to their final names: all of them, or none."""
        publication = Publication()
        for temp, final in self.renames():
            publication.add(temp, final)
        try:
            publication.commit()
        except BaseException:
            self.abort()
            raise
        self.published()
        return self.stats

    def commit(self) -> list[ShardStats]:
        self.finish()
        return self.publish()

    def abort(self) -> None:
        """Close and delete every temporary file (idempotent)."""
        for fileobj in self._files:
            try:
                fileobj.close()
            except OSError:
                pass
        for temp in self.temp_paths:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
            except OSError:
                pass
        self.closed = True

    def __enter__(self) -> ShardedWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.closed:
            self.abort()
