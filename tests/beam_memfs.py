"""A Beam filesystem held in memory, scheme `memfs://`: it stands in for gs:// or s3:// in tests
(a blob store: no folders, rename = copy + delete). Defining the class registers it with Beam's
`FileSystems`, in this process only, so it serves the in-process DirectRunner."""

from __future__ import annotations

import io

from apache_beam.io.filesystem import BeamIOError, FileMetadata, FileSystem

PREFIX = "memfs://"


class MemoryFileSystem(FileSystem):
    files: dict[str, bytes] = {}

    @classmethod
    def scheme(cls):
        return "memfs"

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path):
        head, _, tail = path[len(PREFIX):].rpartition("/")
        return PREFIX + head, tail

    def mkdirs(self, path):
        pass

    def has_dirs(self):
        return False

    def _list(self, dir_or_prefix):
        for path, data in sorted(self.files.items()):
            if path.startswith(dir_or_prefix):
                yield FileMetadata(path, len(data), 0.0)

    def create(self, path, mime_type="application/octet-stream", compression_type=None):
        return _Upload(self.files, path)

    def open(self, path, mime_type="application/octet-stream", compression_type=None):
        if path not in self.files:
            raise FileNotFoundError(path)
        return io.BytesIO(self.files[path])

    def copy(self, source_file_names, destination_file_names):
        for source, destination in zip(source_file_names, destination_file_names):
            self.files[destination] = self.files[source]

    def rename(self, source_file_names, destination_file_names):
        missing = {(s, d): FileNotFoundError(s) for s, d in
                   zip(source_file_names, destination_file_names) if s not in self.files}
        if missing:
            raise BeamIOError("Rename operation failed", missing)
        for source, destination in zip(source_file_names, destination_file_names):
            self.files[destination] = self.files.pop(source)

    def exists(self, path):
        return path in self.files

    def size(self, path):
        return len(self.files[path])

    def last_updated(self, path):
        return 0.0

    def checksum(self, path):
        return str(len(self.files[path]))

    def metadata(self, path):
        return FileMetadata(path, len(self.files[path]), 0.0)

    def delete(self, paths):
        for path in paths:
            self.files.pop(path, None)


class _Upload(io.BytesIO):
    """Like a blob upload: the object appears, whole, when the writer is closed."""

    def __init__(self, files: dict[str, bytes], path: str) -> None:
        super().__init__()
        self._files = files
        self._path = path

    def close(self) -> None:
        if not self.closed:
            self._files[self._path] = self.getvalue()
        super().close()
