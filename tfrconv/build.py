"""One item → one encoded example: read, check, apply policies, encode. Runs in workers.

Everything here is format-neutral and side-effect free (no writing), so the same function runs in
the main process, in a local worker pool or inside a Beam DoFn. Problems are returned, not
raised, so the caller can count them, enforce `--max-errors` and stop cleanly.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from typing import Any, Union

from . import example as example_lib
from . import images
from .datafiles import NotRegularFile, OutsideRoot, read_dataset_file
from .errors import DataError
from .formats import FormatSpec, Options
from .labelmap import LabelMap
from .plugin_code import READ_ITEM_DATA_ERRORS
from .problems import Problem
from .sample import Object, Sample
from .settings import Settings
from .transforms import Context
from .transforms.prepared import Prepared

# Where a problem is: a file name, or the DataError that names file, line and column.
Where = Union[str, DataError, None]  # noqa: UP007 - a runtime alias on Python 3.10


@dataclass
class Result:
    """What one item produced: an encoded example (or not) and every problem met."""

    source_id: str | None = None
    split: str | None = None
    shard_key: int | None = None
    # The serialized Example in pieces (example.encode: the image bytes are not copied);
    # b"".join(payload) is the record. None when the image was skipped.
    payload: list[bytes] | None = None
    labels: tuple[str, ...] = ()     # the class text of each object written
    clipped: int = 0
    skipped_objects: int = 0
    problems: list[Problem] = field(default_factory=list)
    fatal: Problem | None = None     # a problem whose policy is `error`
    origin: str | None = None        # the sample's annotation file (duplicate-id messages)
    # The image's SHA-256 (hex), only when the duplicate-image check needs it.
    image_sha256: str | None = None
    # What the transforms noted for the main process (`transforms.Context.notes`); None
    # when no transform is active.
    notes: dict[str, Any] | None = None

    @property
    def objects(self) -> int:
        return len(self.labels)

    def __reduce__(self):
        # Worker processes send one Result per image: a plain tuple pickles several times
        # faster than the dataclass's default (a dict of its fields).
        return Result, (self.source_id, self.split, self.shard_key, self.payload, self.labels,
                        self.clipped, self.skipped_objects, self.problems, self.fatal,
                        self.origin, self.image_sha256, self.notes)


class Builder:
    """Holds what every item needs (format, options, label map, settings). Picklable."""

    def __init__(self, spec: FormatSpec, opts: Options, label_map: LabelMap,
                 settings: Settings) -> None:
        self.spec_name = spec.name
        self._spec = spec
        self.opts = opts
        self.label_map = label_map
        self.settings = settings
        self.object_fields = frozenset(spec.object_fields)
        self._prepared: Prepared | None = None
        self.keep_sha256 = settings.duplicate_image != "keep"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_spec"] = None           # looked up again by name (entry points) in the worker
        state["_prepared"] = None       # set up again from the option values in the worker
        return state

    @property
    def prepared(self) -> Prepared:
        """The run's transforms, set up in this process from `settings.transform_values`."""
        if self._prepared is None:
            from .plugins import get_registry
            from .transforms.prepared import prepare

            self._prepared = prepare(get_registry().transforms, self.settings.transform_values)
        return self._prepared

    @property
    def spec(self) -> FormatSpec:
        if self._spec is None:
            from .plugins import get_registry
            self._spec = get_registry().format(self.spec_name)
        return self._spec

    # -- the work --------------------------------------------------------------------------
    def read(self, item: Any) -> Sample | Result:
        """read_item with the unreadable-annotation policy applied."""
        try:
            sample = self.spec.read_item(item, self.opts)
        except DataError as exc:
            result = Result()
            self._image_problem(result, "bad_annotation", exc.message,
                                exc if exc.file else _describe(item))
            return result
        except READ_ITEM_DATA_ERRORS as exc:
            # An unexpected file state: still one line, still the policy. (Other exceptions are
            # the plugin's bugs: the registry's guarded read_item reports them as such.)
            result = Result()
            self._image_problem(result, "bad_annotation", f"{type(exc).__name__}: {exc}",
                                _describe(item))
            return result
        if not isinstance(sample, Sample):
            raise TypeError(f"format {self.spec_name!r}: read_item returned "
                            f"{type(sample).__name__}, not a Sample")
        return sample

    def build(self, item: Any) -> Result:
        sample = self.read(item)
        if isinstance(sample, Result):
            return sample
        return self.build_sample(sample)

    def build_sample(self, sample: Sample) -> Result:
        where = sample.origin or sample.image_path or sample.filename
        result = Result(source_id=sample.source_id, split=sample.split,
                        shard_key=sample.shard_key, origin=where)
        prepared = self.prepared
        notes: dict[str, Any] = {}
        if prepared.active:
            result.notes = notes
        if prepared.before:
            sample, dropped_by = prepared.apply(prepared.before, sample,
                                                Context("before", notes=notes))
            if sample is None:
                return self._filtered(result, dropped_by, where)
        for error in sample.object_errors:       # objects the reader could not read
            if not self._object_problem(result, "bad_annotation", error.message,
                                        error if error.file else where, sample.source_id):
                return result
        # Problems of the image itself name the image file; the annotation's, the annotation.
        encoded = self._load_image(sample, result, sample.image_path or where)
        if encoded is None:
            return result
        annotated_w = sample.width or encoded.width
        annotated_h = sample.height or encoded.height
        if (sample.width, sample.height) != (None, None) and \
                (annotated_w, annotated_h) != (encoded.width, encoded.height):
            message = (f"annotation says {annotated_w}x{annotated_h} but the image is "
                       f"{encoded.width}x{encoded.height}")
            if not self._image_problem(result, "size_mismatch", message, where,
                                       sample.source_id, keep=True):
                return result
        else:
            # Reference behaviour: height/width come from the annotation when it has them.
            encoded = example_lib.EncodedImage(encoded.data, encoded.format, annotated_w,
                                               annotated_h, encoded.sha256)
        boxes, labels, kept = self._check_objects(sample, annotated_w, annotated_h, result,
                                                  where)
        if result.fatal is not None:
            return result
        if len(kept) != len(sample.objects):
            sample.objects = kept
        image_label_ids = []
        for image_label in list(sample.image_labels):
            label_id = self.label_map.resolve(image_label.label)
            if label_id is None:
                message = f"unknown image-level class {image_label.label!r}"
                if not self._object_problem(result, "unknown_class", message, where,
                                            sample.source_id):
                    return result
                sample.image_labels.remove(image_label)
            else:
                image_label_ids.append(label_id)
        if prepared.after:
            checked, dropped_by = self._transform_checked(prepared, sample, encoded, boxes, kept,
                                                          notes)
            if checked is None:
                return self._filtered(result, dropped_by, where)
            sample, encoded, boxes, labels, kept = checked
            result.split = sample.split
        if self.keep_sha256:
            result.image_sha256 = encoded.sha256
        features = example_lib.build_features(
            sample, encoded, boxes, labels, object_fields=self.object_fields,
            image_label_ids=image_label_ids)
        result.payload = example_lib.encode(features)
        result.labels = tuple([o.label for o in kept])
        return result

    # -- transforms ------------------------------------------------------------------------
    def _transform_checked(self, prepared: Prepared, sample: Sample,
                           encoded: example_lib.EncodedImage, boxes, kept, notes):
        """Run the "after" transforms on the checked sample (normalized boxes, the image's
        bytes and size): (what to encode, None), or (None, the transform that dropped it)."""
        checked = _checked_copy(sample, encoded, boxes, kept)
        out, dropped_by = prepared.apply(prepared.after, checked,
                                         Context("after", encoded.sha256, notes))
        if out is None:
            return None, dropped_by
        if out.image_bytes is not encoded.data:     # re-encoded: size and hash follow
            info = images.sniff(out.image_bytes)
            encoded = example_lib.EncodedImage(out.image_bytes, info.format, info.width,
                                               info.height,
                                               hashlib.sha256(out.image_bytes).hexdigest())
        boxes = [(obj.xmin, obj.ymin, obj.xmax, obj.ymax) for obj in out.objects]
        labels = []
        for obj in out.objects:
            label_id = self.label_map.resolve(obj.label)
            if label_id is None:
                raise DataError(f"a transform renamed an object's class to {obj.label!r}, "
                                "which is not in the label map", file=sample.origin)
            labels.append(label_id)
        return (out, encoded, boxes, labels, out.objects), None

    def _filtered(self, result: Result, transform: str | None, where: Where) -> Result:
        self._record(result, "filtered", f"left out by the {transform} transform", where,
                     result.source_id, "dropped")
        return result

    # -- images ----------------------------------------------------------------------------
    def _load_image(self, sample: Sample, result: Result, where: str
                    ) -> example_lib.EncodedImage | None:
        data = sample.image_bytes
        if data is None:
            path = sample.image_path
            if path is None:
                raise TypeError(f"format {self.spec_name!r}: a Sample needs image_path or "
                                "image_bytes")
            root = None if self.settings.allow_outside_paths else sample.image_root
            try:
                data = read_dataset_file(path, root)
            except OutsideRoot:
                self._image_problem(result, "missing_image",
                                    f"image path {path} leads outside the dataset folder "
                                    f"{sample.image_root} (--allow-outside-paths to permit)",
                                    where, sample.source_id)
                return None
            except NotRegularFile as exc:       # a pipe or device: there, but not an image
                self._image_problem(result, "bad_image", f"{exc.strerror}: {path}", where,
                                    sample.source_id)
                return None
            except OSError as exc:
                reason = "no such image file" if isinstance(exc, FileNotFoundError) \
                    else f"cannot read the image: {exc.strerror or exc}"
                named = f" (named in {sample.origin})" if sample.origin else ""
                self._image_problem(result, "missing_image", f"{reason}{named}", where,
                                    sample.source_id)
                return None
        info = images.sniff(data)
        # First: an image over the pixel limit (a decompression bomb) is never decoded.
        reason = images.too_many_pixels(info, self.settings.max_image_pixels)
        if reason is not None:
            image = f"the image {sample.image_path}" if sample.image_path else "the image"
            self._image_problem(result, "bad_image",
                                f"{image} is {reason} (a decompression bomb?; "
                                "--max-image-pixels changes the limit)", where, sample.source_id)
            return None
        if info.format == "unknown":
            reason = "not an image file (neither JPEG, PNG, GIF, BMP, WebP nor TIFF bytes)"
        elif not info.passthrough or info.cmyk:
            what = "CMYK JPEG" if info.cmyk else f"{info.format.upper()} image"
            if self.settings.reencode:
                data, info, reason = _reencoded(data, what)
            else:
                reason = (f"{what}: records need JPEG or PNG (RGB, gray or RGBA); --reencode "
                          "converts it")
        elif info.truncated:
            reason = f"truncated or corrupt {info.format} file"
        elif self.settings.verify_images:
            error = images.decode_check(data)
            if error:
                reason = f"cannot decode the {info.format} image: {error}"
        if reason is None and info.orientation != 1:
            if self.settings.reencode:
                data, info, reason = _reencoded(data, "EXIF-rotated JPEG")
            else:
                message = (f"EXIF orientation {info.orientation}: the OD API ignores it, so "
                           "boxes drawn on the rotated view will be misplaced (--reencode "
                           "applies the rotation)")
                if not self._image_problem(result, "exif_rotated", message, where,
                                           sample.source_id, keep=True):
                    return None
        if reason is not None:
            self._image_problem(result, "bad_image", reason, where, sample.source_id)
            return None
        if not info.width or not info.height:
            self._image_problem(result, "bad_image", "the image header has no size", where,
                                sample.source_id)
            return None
        return example_lib.EncodedImage(data, info.format, info.width, info.height,
                                        hashlib.sha256(data).hexdigest())

    # -- objects ---------------------------------------------------------------------------
    def _check_objects(self, sample: Sample, width: int, height: int, result: Result,
                       where: str):
        tolerance = self.settings.box_tolerance
        boxes: list[tuple[float, float, float, float]] = []
        labels: list[int] = []
        kept = []
        for index, obj in enumerate(sample.objects):
            what = f"object {index} ({obj.label!r})"
            label_id = self.label_map.resolve(obj.label)
            if label_id is None:
                message = f"{what}: class {obj.label!r} is not in the label map"
                if not self._object_problem(result, "unknown_class", message, where,
                                            sample.source_id):
                    return boxes, labels, kept
                continue
            if sample.normalized:
                box = (float(obj.xmin), float(obj.ymin), float(obj.xmax), float(obj.ymax))
            else:
                box = (float(obj.xmin) / width, float(obj.ymin) / height,
                       float(obj.xmax) / width, float(obj.ymax) / height)
            if any(math.isnan(v) for v in box) or box[2] <= box[0] or box[3] <= box[1]:
                message = f"{what}: empty or inverted box {_pixels(obj)}"
                if not self._object_problem(result, "degenerate_box", message, where,
                                            sample.source_id):
                    return boxes, labels, kept
                continue
            if min(box) < 0.0 or max(box) > 1.0:
                if min(box) >= -tolerance and max(box) <= 1.0 + tolerance:
                    result.clipped += 1          # float noise at the edge: fix quietly
                    box = _clip(box)
                else:
                    message = (f"{what}: box {_pixels(obj)} lies outside the "
                               f"{width}x{height} image")
                    kind_policy = self.settings.policies["bad_box"]
                    if kind_policy == "clip":
                        clipped = _clip(box)
                        self._record(result, "bad_box", message, where, sample.source_id,
                                     "clipped")
                        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
                            message = f"{what}: box is empty after clipping to the image"
                            if not self._object_problem(result, "degenerate_box", message,
                                                        where, sample.source_id):
                                return boxes, labels, kept
                            continue
                        box = clipped
                    elif not self._object_problem(result, "bad_box", message, where,
                                                  sample.source_id):
                        return boxes, labels, kept
                    else:
                        continue
            boxes.append(box)
            labels.append(label_id)
            kept.append(obj)
        return boxes, labels, kept

    # -- policies --------------------------------------------------------------------------
    def _record(self, result: Result, kind: str, message: str, where: Where,
                source_id: str | None, action: str) -> Problem:
        problem = Problem.at(kind, message, where, source_id, action)
        result.problems.append(problem)
        return problem

    def _object_problem(self, result: Result, kind: str, message: str, where: Where,
                        source_id: str | None = None) -> bool:
        """Apply an object-level policy; True = carry on without this object."""
        policy = self.settings.policies[kind]
        if policy == "error":
            result.fatal = self._record(result, kind, message, where, source_id, "error")
            result.payload = None
            return False
        self._record(result, kind, message, where, source_id, "skipped")
        result.skipped_objects += 1
        return True

    def _image_problem(self, result: Result, kind: str, message: str, where: Where,
                       source_id: str | None = None, keep: bool = False) -> bool:
        """Apply an image-level policy; True when the image is kept (`warn` on a `keep` kind)."""
        policy = self.settings.policies[kind]
        if policy == "error":
            result.fatal = self._record(result, kind, message, where, source_id, "error")
            return False
        if policy == "warn" and keep:
            self._record(result, kind, message, where, source_id, "kept")
            return True
        self._record(result, kind, message, where, source_id, "skipped")
        return False


def _checked_copy(sample: Sample, encoded: example_lib.EncodedImage, boxes, kept) -> Sample:
    """The sample the "after" transforms get: a copy (objects too: the reader's stay as read)
    with the normalized boxes, the image's bytes and its real size."""
    objects = []
    for obj, (xmin, ymin, xmax, ymax) in zip(kept, boxes):
        copy = _shallow_copy(obj)
        copy.xmin, copy.ymin, copy.xmax, copy.ymax = xmin, ymin, xmax, ymax
        objects.append(copy)
    checked = _shallow_copy(sample)
    checked.objects = objects
    checked.image_bytes = encoded.data
    checked.width, checked.height = encoded.width, encoded.height
    checked.normalized = True
    return checked


def _shallow_copy(value):
    """`copy.copy` of a plain `Object` or `Sample`, several times cheaper than `replace`
    (it runs once per object per image); a subclass (slots, its own __init__) gets `replace`."""
    if type(value) not in (Object, Sample):
        return replace(value)
    copy = object.__new__(type(value))
    copy.__dict__ = value.__dict__.copy()      # (a dict copy: 10x faster than an update)
    return copy


def _reencoded(data: bytes, what: str):
    try:
        data = images.reencode(data)
    except Exception as exc:  # noqa: BLE001 - Pillow's many error types for bad data
        return data, images.sniff(data), f"cannot re-encode the {what}: {exc}"
    return data, images.sniff(data), None


def _clip(box):
    return tuple(min(1.0, max(0.0, v)) for v in box)


def _pixels(obj) -> str:
    return f"({obj.xmin:g}, {obj.ymin:g}, {obj.xmax:g}, {obj.ymax:g})"


def _describe(item: Any) -> str:
    text = str(item)
    return text if len(text) <= 200 else text[:197] + "..."

