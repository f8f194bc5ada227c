"""The format-neutral sample model: the only thing a format reader produces.

A reader turns one item of its dataset into a `Sample`: where the image is, what size the
annotation says it has, and the objects on it with boxes in the annotation's own units. The core
reads the image, applies the checks and policies, resolves class names through the label map and
encodes the OD-API example. Readers never touch feature keys, and the core never parses a format.

Everything here is plain data (picklable), so samples can cross process and Beam worker boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

# Values allowed in `extra` features: the three tf.train.Feature kinds, one value or a list.
FeatureValue = Union[int, float, str, bytes, "list[int]", "list[float]", "list[str]", "list[bytes]"]


@dataclass
class Object:
    """One annotated object.

    The box is `xmin, ymin, xmax, ymax` in pixels of the annotated image (or in 0..1 when the
    sample says `normalized=True`). Optional attributes are `None` when the source does not have
    them; the encoder writes a key only when the data has it (or the format declares it, see
    `FormatSpec.object_fields`).
    """

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: bool | None = None
    # int (0/1) for most formats; KITTI stores a float fraction. The encoder keeps the type given.
    truncated: int | float | None = None
    occluded: int | None = None
    pose: str | None = None          # written as image/object/view
    group_of: int | None = None
    is_crowd: int | None = None
    depiction: int | None = None
    inside: int | None = None
    area: float | None = None        # pixels², written as image/object/area
    weight: float | None = None
    # An instance mask: a 2-D numpy uint8 array (0/1) the size of the image, or PNG bytes.
    mask: Any = None
    # Further per-object features, full key → value, e.g. {"image/object/alpha": -1.2}.
    extra: dict[str, FeatureValue] = field(default_factory=dict)

    @property
    def width(self) -> float:
        return self.xmax - self.xmin

    @property
    def height(self) -> float:
        return self.ymax - self.ymin


@dataclass
class ImageLabel:
    """An image-level label: the class is (confidence 1) or is not (confidence 0) on the image."""

    label: str
    confidence: float = 1.0


@dataclass
class Sample:
    """One image and its annotations, as every reader yields it.

    Exactly one of `image_path` and `image_bytes` is set. `width`/`height` are the size the
    annotation states (the core compares them with the real pixels); leave them `None` when the
    source has none, and the real size is used.
    """

    source_id: str
    filename: str
    image_path: str | None = None
    image_bytes: bytes | None = None
    width: int | None = None
    height: int | None = None
    objects: list[Object] = field(default_factory=list)
    image_labels: list[ImageLabel] = field(default_factory=list)
    normalized: bool = False          # boxes already in 0..1
    split: str | None = None          # which output of a multi-output format (e.g. "train")
    shard_key: int | None = None      # format's own shard rule: shard = shard_key % num_shards
    mask_type: str = "png"            # "png" (one PNG per object) or "numerical" (float list)
    # Directory the image must stay inside (path-escape check); None = the reader vouches.
    image_root: str | None = None
    # Image-level extra features, full key → value.
    extra: dict[str, FeatureValue] = field(default_factory=dict)
    # Where this sample was read from, for messages (annotation file, CSV row, ...).
    origin: str | None = None
    # Objects the reader could not read, each a `tfrconv.DataError` naming its file and line:
    # the core applies the `on_error` policy to each (skip drops that object and keeps the
    # image's other objects; error stops the run with that error's file and line).
    object_errors: list[Any] = field(default_factory=list)
