"""What the three exporters (VOC, COCO, YOLO) share: the output folder, file names, splits,
class ids and pixel coordinates.

- `ExportFolder`: everything is written into a hidden temporary folder beside the destination
  and renamed into place only when the export succeeded; on any exception it is removed.
- `FileNames`: image names from ``image/filename``, made safe (one plain name, never a path
  out of the folder) and unique by stem, deterministically in reading order.
- `split_of`: the split a record file stands for (``val.record-00000-of-00004`` → ``val``).
- `ClassIds`: class name → label-map id, from the records' label map or built from the names.
- `pixel`: a normalized coordinate back in pixels, as the shortest decimal that converts back
  to the very same float32 (so VOC → records → VOC → records is exact).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import tempfile
import unicodedata
from collections.abc import Iterable

from ..errors import DataError, UsageError
from ..images import sniff
from ..labelmap import LabelMap, LabelMapItem
from ..sample import Sample
from ..seen import SeenHashes
from ..sharding import stable_hash

MAX_NAME_BYTES = 200                 # well under every file system's 255-byte limit
EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "bmp": ".bmp", "webp": ".webp",
              "tiff": ".tif"}
_SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")
_RECORD_SUFFIXES = (".gz", ".tfrecords", ".tfrecord", ".records", ".record")
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Split words a record file's name may end in (after its last "_"), and the split each means.
_SPLIT_WORDS = {"train": "train", "val": "val", "valid": "val", "validation": "val",
                "test": "test", "trainval": "trainval"}


class ExportFolder:
    """A destination folder written all at once: `path(...)` names files in a temporary folder
    beside `final`; `publish()` renames it into place. Use as a context manager: leaving
    without `publish()` (an exception) removes the temporary folder."""

    def __init__(self, final: str | os.PathLike) -> None:
        self.final = os.path.abspath(os.fspath(final))
        if os.path.lexists(self.final) and not (os.path.isdir(self.final)
                                                and not os.path.islink(self.final)):
            raise UsageError(f"--out {final}: exists and is not a folder")
        if os.path.isdir(self.final) and os.listdir(self.final):
            raise UsageError(f"--out {final}: the folder exists and is not empty; name a new "
                             "folder (nothing is overwritten)")
        parent = os.path.dirname(self.final)
        os.makedirs(parent, exist_ok=True)
        self.temp = tempfile.mkdtemp(prefix=f".{os.path.basename(self.final)}.", suffix=".tmp",
                                     dir=parent)
        self.published = False

    def path(self, *parts: str) -> str:
        """A path inside the temporary folder, its parent folder created."""
        path = os.path.join(self.temp, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def write_bytes(self, data: bytes, *parts: str) -> None:
        with open(self.path(*parts), "wb") as fileobj:
            fileobj.write(data)

    def write_text(self, text: str, *parts: str) -> None:
        with open(self.path(*parts), "w", encoding="utf-8", newline="\n") as fileobj:
            fileobj.write(text)

    def publish(self) -> None:
        os.chmod(self.temp, 0o777 & ~_umask())      # mkdtemp made it private (0700)
        os.replace(self.temp, self.final)           # an empty folder there is replaced
        self.published = True

    def __enter__(self) -> ExportFolder:
        return self

    def __exit__(self, *exc_info) -> None:
        if not self.published:
            shutil.rmtree(self.temp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class FileNames:
    """Safe, unique image file names, decided in reading order (so the same records always give
    the same names). Names are unique by stem, case-folded: VOC and YOLO pair an image with its
    annotation by stem, and case-insensitive file systems would merge ``A.jpg`` and ``a.jpg``."""

    def __init__(self) -> None:
        # Hashes of the names taken (16 bytes a name): a hash that collides only adds a
        # suffix, so names stay unique and deterministic.
        self.taken = SeenHashes()

    def name_for(self, sample: Sample, index: int) -> str:
        extension = EXTENSIONS.get(sniff(sample.image_bytes or b"").format, ".jpg")
        stem, ext = os.path.splitext(safe_name(sample.filename) or safe_name(sample.source_id))
        if not stem:
            stem, ext = f"image_{index:06d}", ""
        ext = ext or extension
        candidate, number = stem, 0
        while not self.taken.add(stable_hash(candidate.casefold())):
            number += 1
            candidate = f"{stem}_{number}"
        return candidate + ext


def safe_name(name: str) -> str:
    """`name` as one plain file name: its last path component (either separator), no control
    characters, whitespace as ``_``, no leading dots, at most MAX_NAME_BYTES bytes; '' when
    nothing usable is left."""
    name = re.split(r"[/\\]", name or "")[-1]
    name = "".join("_" if char.isspace() else char for char in name
                   if unicodedata.category(char)[0] != "C" or char.isspace())
    name = name.lstrip(".")
    while len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem, ext = os.path.splitext(name)
        name = (stem[:-1] + ext) if stem else name[:-1]
    return name


def split_of(record_path: str) -> str:
    """The split a record file stands for: its name without shard and record suffixes
    (``out/val.record-00000-of-00004`` → ``val``); ``train`` when that is no plain name.

    A conversion names its splits' records ``<stem>_<split>.record`` (`tfrconv.split_outputs`):
    when the part after the last ``_`` is a known split word, that word is the split
    (``data_train.record`` → ``train``), as YOLO tools know only train/val/test; ``valid`` and
    ``validation`` (also as whole names) become ``val``."""
    name = _SHARD_SUFFIX.sub("", os.path.basename(record_path))
    for suffix in _RECORD_SUFFIXES:            # ".gz" last: "x.record.gz" → "x"
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    word = name.rpartition("_")[2]
    if word.lower() in _SPLIT_WORDS:
        return _SPLIT_WORDS[word.lower()]
    return name if _SPLIT_NAME.match(name) else "train"


def check_split(split: str) -> str:
    if not _SPLIT_NAME.match(split or ""):
        raise UsageError(f"--split {split!r}: use letters, digits, '.', '_' or '-'")
    return split


class ClassIds:
    """Class name → id, by the label map's rule (name or display name, the larger id)."""

    def __init__(self, label_map: LabelMap) -> None:
        self.label_map = label_map

    @classmethod
    def from_names(cls, names: Iterable[str]) -> ClassIds:
        """Ids from 1 in sorted name order (the rule of `tfrconv labelmap from-data`)."""
        return cls(LabelMap([LabelMapItem(i, name) for i, name in
                             enumerate(sorted(set(names)), start=1)], source="class names"))

    def id_of(self, name: str, sample: Sample) -> int:
        found = self.label_map.resolve(name)
        if found is None:
            raise DataError(f"class {name!r} is not in the label map "
                            f"({self.label_map.source or 'given'}); give --label-map",
                            file=sample.origin)
        return found

    def names_in_id_order(self) -> list[tuple[int, str]]:
        return sorted((item_id, item.name) for item_id, item in self.label_map.by_id().items())


def pixel(normalized: float, size: int) -> float | int:
    """`normalized * size` as the shortest number (an integer when one fits) that divides back
    by `size` to the same float32 the record holds."""
    target = _float32(normalized)
    exact = normalized * size
    rounded = round(exact)
    if _float32(rounded / size) == target:
        return rounded
    for digits in range(1, 18):
        candidate = float(f"{exact:.{digits}g}")
        if _float32(candidate / size) == target:
            return candidate
    return exact


def _float32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]


def require_size(sample: Sample) -> tuple[int, int]:
    """The example's width and height (stored, else read from the image header)."""
    width, height = sample.width, sample.height
    if not width or not height:
        info = sniff(sample.image_bytes or b"")
        width, height = width or info.width, height or info.height
    if not width or not height:
        raise DataError("the example has no image/width and image/height and its image size "
                        "cannot be read", file=sample.origin)
    return int(width), int(height)


def require_image(sample: Sample) -> bytes:
    if not sample.image_bytes:
        raise DataError("the example has no image/encoded bytes", file=sample.origin)
    return sample.image_bytes
