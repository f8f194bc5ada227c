"""`tfrconv verify`: will the OD API read these records the way you think it will?

Every record is read the way `TfExampleDecoder` reads it: parsed by TensorFlow against the
decoder's feature spec (a key with the wrong type is a hard error at training), its image decoded
to three channels, and then checked for what the decoder does *not* complain about but training
silently gets wrong: boxes outside [0, 1] or upside down, lists of unequal length, class texts
the label map does not know (the decoder gives them -1 and the boxes vanish), labels outside
the label map, stored sizes that disagree with the pixels, masks of the wrong size, corrupt
bytes. Every problem is reported with file, record index and source id; damaged files are
reported and reading goes on with the next file.

`--no-decode` (`Verifier(decode=False)`) checks the same records without TensorFlow and without
decoding any pixels: framing and CRCs, keys and their types against the decoder's spec (by
tfrconv's own reading of the spec, not by TensorFlow's parser), list lengths, boxes, classes,
the sha256 of the image bytes, and what the image and PNG mask headers say (format, size,
truncation, EXIF rotation). Damage inside the compressed pixels goes unseen. Several files are
then checked at once, one per worker process (`workers`, default one per CPU), and their reports
merged in file order: the same report as one by one, source ids compared across files in the
parent.

TensorFlow is imported only here, inside the command, and only when images are decoded.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any, TextIO

from . import features as F
from . import keys as K
from . import remote
from .images import sniff

ERROR = "error"
WARNING = "warning"
SHOW_PER_PROBLEM = 5            # boxes or classes named in one problem line
# The formats TensorFlow's decode_image reads whose headers `sniff` can size (WebP it reads too).
HEADER_SIZED = ("jpeg", "png", "gif", "bmp")
BATCH = 256                     # records TensorFlow parses in one call
HASH_BATCH = 64                 # without decoding: records whose images one thread hashes
_NOT_PARSED = object()
_NO_VALUES = (None, ())
# Per decoder key: the kinds it may have and whether it is a fixed-length scalar.
_EXPECTED = {key: (F.expected_kinds(key), spec.fixed) for key, spec in F.DECODER_KEYS.items()}
# Per-object keys besides the boxes: one value per box each.
_PER_OBJECT = [key for key, spec in F.DECODER_KEYS.items()
               if spec.per_object and key not in K.BOX_KEYS] + list(F.OTHER_OBJECT_KEYS)


@dataclass(frozen=True)
class Problem:
    severity: str
    kind: str
    message: str
    file: str | None = None
    record: int | None = None
    source_id: str | None = None

    def line(self) -> str:
        where = self.file or ""
        if self.record is not None:
            where += f": record {self.record}"
        if self.source_id:
            where += f" ({self.source_id})"
        prefix = f"{where}: " if where else ""
        return f"{prefix}{self.severity}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class CheckedFile:
    """What a worker process found in one file (`Verifier.take` adds it to the report)."""
    info: dict[str, Any]
    problems: list[Problem]
    examples: int
    objects: int
    bad_examples: int
    missing: Counter
    source_ids: list[tuple[int, int, int, str]]     # (problems before it, hash, record, id)


class Verifier:
    """Checks records one at a time; problems go to `report` (and `stream`, as found)."""

    def __init__(self, label_map=None, *, max_boxes: int = 100, stream: TextIO | None = None,
                 decode: bool = True) -> None:
        self.tf = None                          # decode=False: no TensorFlow, no pixels
        if decode:
            try:
                import tensorflow as tf
            except ImportError as exc:
                from .errors import UsageError

                raise UsageError(f"verify reads records with TensorFlow, which is not "
                                 f"installed ({exc}); install it with: pip install "
                                 "'tfrconv[tf]' (or check without it: --no-decode)") from None
            self.tf = tf
        self.decode = decode
        self.label_map = label_map
        self.label_ids = {item.id for item in label_map} if label_map is not None else set()
        self.max_boxes = max_boxes
        self.stream = stream
        self.problems: list[Problem] = []
        self.counts: Counter = Counter()
        self.severities: Counter = Counter()
        self.files: list[dict[str, Any]] = []
        self.examples = self.objects = 0
        self.bad_examples = 0
        self.missing: Counter = Counter()      # optional keys absent, per example
        self.source_ids: dict[int, tuple[str, int]] = {}
        # In a worker process (one file of several): each record's source id, left for the
        # parent to check against every file's ids, with where its warning would go.
        self.deferred_ids: list[tuple[int, int, int, str]] | None = None
        self._specs: dict[frozenset, dict] = {}
        self._hasher = None                     # decode=False: the thread hashing images
        self._hashing: tuple | None = None      # (batch, decoded, future of their digests)

    # -- reporting -------------------------------------------------------------------------
    def report(self, severity: str, kind: str, message: str, file: str | None = None,
               record: int | None = None, source_id: str | None = None) -> None:
        self._add(Problem(severity, kind, message, file, record, source_id))

    def _add(self, problem: Problem) -> None:
        self.problems.append(problem)
        self.counts[problem.kind] += 1
        self.severities[problem.severity] += 1
        if self.stream is not None:
            self.stream.write(problem.line() + "\n")
            self.stream.flush()

    # -- files -----------------------------------------------------------------------------
    def check_file(self, path: str) -> None:
        from .tfrecord import scan_records

        info: dict[str, Any] = {"path": path, "records": 0}
        self.files.append(info)
        batch: list = []
        size = BATCH if self.decode else HASH_BATCH
        for record in scan_records(path):
            if record.payload is None:
                self._check_batch(batch)                # keep the report in record order
                self._check_hashed()
                self.report(ERROR, "crc", f"{record.error} (offset {record.offset})", path,
                            record.index)
                if record.fatal:
                    info["error"] = record.error
                continue
            info["records"] += 1
            batch.append(record)
            if len(batch) >= size:
                self._check_batch(batch)
        self._check_batch(batch)
        self._check_hashed()

    def take(self, checked: CheckedFile) -> None:
        """Add what a worker found in one file, as if this verifier had checked it: its
        problems in order, each record's source id checked against the files before."""
        self.files.append(checked.info)
        self.examples += checked.examples
        self.objects += checked.objects
        self.bad_examples += checked.bad_examples
        self.missing.update(checked.missing)
        done = 0
        for position, digest, index, source_id in checked.source_ids:
            for problem in checked.problems[done:position]:
                self._add(problem)
            done = position
            self._check_source_id(digest, checked.info["path"], index, source_id)
        for problem in checked.problems[done:]:
            self._add(problem)

    def close(self) -> None:
        """Stop the hashing thread (decode=False), if one was started."""
        if self._hasher is not None:
            self._hasher.shutdown()
            self._hasher = None

    def _check_batch(self, batch: list) -> None:
        """Decode a batch, parse it with TensorFlow in one call (a call per record costs about a
        hundred times more), then check each record in order; without decoding, hand it to the
        hashing thread."""
        if not batch:
            return
        decoded: list = []
        for record in batch:
            try:
                decoded.append(F.decode_typed(record.payload))
            except ValueError as exc:
                decoded.append(exc)
        if not self.decode:
            self._hash_then_check(batch, decoded)
            return
        tf = self.tf
        groups: dict[frozenset, list[int]] = {}
        for i, features in enumerate(decoded):
            if isinstance(features, dict) and not self._type_problems(features):
                groups.setdefault(self._signature(features), []).append(i)
        parse_errors: dict[int, str | None] = {}
        for signature, members in groups.items():
            spec = self._spec(signature)
            try:
                tf.io.parse_example([batch[i].payload for i in members], spec)
            except (tf.errors.OpError, ValueError):
                for i in members:                       # find which records fail
                    parse_errors[i] = self._parse_error(batch[i].payload, spec)
            else:
                parse_errors.update(dict.fromkeys(members))
        for i, record in enumerate(batch):
            self.check_record(record.payload, record.path, record.index, decoded=decoded[i],
                              parse_error=parse_errors.get(i, _NOT_PARSED))
        batch.clear()

    def _hash_then_check(self, batch: list, decoded: list) -> None:
        """Without decoding, hashing the images is a third of the work: a thread hashes this
        batch's (hashlib lets go of the GIL) while this one checks the batch before it."""
        if self._hasher is None:
            from concurrent.futures import ThreadPoolExecutor

            self._hasher = ThreadPoolExecutor(1, thread_name_prefix="verify-sha256")
        images = [_image_to_hash(features) for features in decoded]
        hashing = (list(batch), decoded, self._hasher.submit(_sha256_hex, images))
        batch.clear()
        self._check_hashed()
        self._hashing = hashing

    def _check_hashed(self) -> None:
        """Check the batch whose images are being hashed, once they are."""
        if self._hashing is None:
            return
        batch, decoded, digests = self._hashing
        self._hashing = None
        for record, features, digest in zip(batch, decoded, digests.result()):
            self.check_record(record.payload, record.path, record.index, decoded=features,
                              digest=digest)

    # -- one record ------------------------------------------------------------------------
    def check_record(self, payload: bytes, path: str, index: int, *, decoded=None,
                     parse_error=None, digest: str | None = None) -> None:
        """Check one record. `decoded` and `parse_error` come from `_check_batch`; without
        them the record is decoded and parsed here. `digest`: the image's sha256, if known."""
        before = self.severities[ERROR]
        self.examples += 1
        features = decoded
        if features is None:
            try:
                features = F.decode_typed(payload)
            except ValueError as exc:
                features = exc
        if isinstance(features, Exception):
            self.report(ERROR, "parse", str(features), path, index)
            self.bad_examples += 1
            return
        source = F.first(features, K.SOURCE_ID)
        source_id = F.text(source) if isinstance(source, bytes) else None

        def report(severity: str, kind: str, message: str) -> None:
            self.report(severity, kind, message, path, index, source_id)

        type_problems = self._type_problems(features)
        for message in type_problems:
            report(ERROR, "type", message)
        if not type_problems and self.decode:
            if decoded is None or parse_error is _NOT_PARSED:
                parse_error = self._parse_error(payload, self._spec(self._signature(features)))
            if parse_error:
                report(ERROR, "type", "TensorFlow cannot parse the record with the decoder's "
                       f"spec: {parse_error}")
        self._check_presence(features, source_id, path, index)
        pixels = self._check_image(features, report, digest)
        count = self._check_lengths(features, pixels, report)
        self.objects += count
        self._check_boxes(features, count, report)
        self._check_classes(features, report)
        self._check_masks(features, count, pixels, report)
        if count > self.max_boxes:
            report(WARNING, "max_boxes", f"{count} boxes: with the pipeline config's default "
                   f"max_number_of_boxes ({self.max_boxes}) the rest are dropped at training")
        if self.severities[ERROR] > before:
            self.bad_examples += 1

    @staticmethod
    def _type_problems(features) -> list[str]:
        problems = []
        for key, (kind, values) in features.items():
            expect = _EXPECTED.get(key)
            if expect is None:
                continue
            expected, fixed = expect
            if kind is not None and kind not in expected:
                want = " or ".join(F.TF_TYPE_NAMES[k] for k in expected)
                problems.append((key, f"{key} is stored as {F.TF_TYPE_NAMES[kind]}, but the "
                                 f"decoder parses {want}: training fails with \"Data types "
                                 "don't match\""))
            elif fixed and len(values) != 1:
                problems.append((key, f"{key} holds {len(values)} values; the decoder reads "
                                 "exactly one (a fixed-length feature) and fails on this "
                                 "record"))
        return [message for _key, message in sorted(problems)]

    def _parse_error(self, payload: bytes, spec: dict) -> str | None:
        """TensorFlow's complaint when it parses one record with the decoder's spec."""
        tf = self.tf
        try:
            tf.io.parse_single_example(payload, spec)
        except (tf.errors.OpError, ValueError) as exc:
            return (getattr(exc, "message", None) or str(exc)).strip().splitlines()[0]
        return None

    @staticmethod
    def _signature(features) -> frozenset:
        """The optional decoder keys a record has, with the kind it has them in (for masks,
        that is the mask_type the pipeline config needs)."""
        return frozenset((key, features[key][0] or F.expected_kinds(key)[0])
                         for key in features
                         if key in F.DECODER_KEYS and not F.DECODER_KEYS[key].always)

    def _spec(self, signature: frozenset) -> dict:
        """The decoder's parse spec: the always-parsed keys plus the record's optional ones."""
        spec = self._specs.get(signature)
        if spec is not None:
            return spec
        tf = self.tf
        types = {"bytes": tf.string, "float": tf.float32, "int": tf.int64}
        spec = {}
        for key, key_spec in F.DECODER_KEYS.items():
            if not key_spec.always:
                continue
            kind = key_spec.kind
            if key_spec.fixed:
                default = {"bytes": b"", "int": 1, "float": 0.0}[kind]
                if key == K.FORMAT:
                    default = b"jpeg"
                spec[key] = tf.io.FixedLenFeature((), types[kind], default_value=default)
            else:
                spec[key] = tf.io.VarLenFeature(types[kind])
        for key, kind in signature:
            if F.DECODER_KEYS[key].fixed:
                spec[key] = tf.io.FixedLenFeature((), types[kind])
            else:
                spec[key] = tf.io.VarLenFeature(types[kind])
        self._specs[signature] = spec
        return spec

    def _check_presence(self, features, source_id, path, index) -> None:
        for key in (K.KEY_SHA256, K.SOURCE_ID, K.HEIGHT, K.WIDTH,
                    K.FORMAT):
            if not F.values(features, key) or F.first(features, key) in (b"",):
                self.missing[key] += 1
        if source_id:
            from .sharding import stable_hash

            digest = stable_hash(source_id)
            if self.deferred_ids is not None:
                self.deferred_ids.append((len(self.problems), digest, index, source_id))
            else:
                self._check_source_id(digest, path, index, source_id)

    def _check_source_id(self, digest: int, path: str, index: int, source_id: str) -> None:
        first = self.source_ids.get(digest)
        if first is None:
            self.source_ids[digest] = (path, index)
        else:
            where = f"record {first[1]}" + ("" if first[0] == path else f" of {first[0]}")
            self.report(WARNING, "source_id", f"source id {source_id!r} also belongs to "
                        f"{where}: COCO-style evaluation needs unique ids", path, index,
                        source_id)

    def _check_image(self, features, report, digest=None) -> tuple[int, int] | None:
        """Decode as the decoder does (or, without decoding, read the header); (height, width)
        of the pixels, or None."""
        data = F.first(features, K.ENCODED)
        stored_h, stored_w = F.first(features, K.HEIGHT), F.first(features, K.WIDTH)
        if not isinstance(data, bytes) or not data:
            report(ERROR, "image", f"no {K.ENCODED} bytes: the decoder cannot decode an "
                   "empty image and training fails")
            return None
        fmt = F.first(features, K.FORMAT)
        info = sniff(data)
        if fmt in (b"raw", b"RAW"):
            if info.format != "unknown":
                report(ERROR, "image", f"{K.FORMAT} says raw, but the bytes are a "
                       f"{info.format}: the decoder would read them as raw pixels")
                return None
            if not (isinstance(stored_h, int) and isinstance(stored_w, int)) or \
                    len(data) != stored_h * stored_w * 3:
                report(ERROR, "image", f"raw image of {len(data)} bytes is not height x "
                       f"width x 3 ({stored_h} x {stored_w} x 3)")
                return None
            return stored_h, stored_w
        pixels = self._decode_image(data, info, report) if self.decode else \
            self._image_header(info, stored_h, stored_w, report)
        if pixels is None:
            return None
        height, width = pixels
        if isinstance(stored_h, int) and isinstance(stored_w, int) \
                and (stored_h, stored_w) != (height, width):
            report(ERROR, "size", f"{K.HEIGHT} x {K.WIDTH} say {stored_h} x {stored_w}, "
                   f"but the image is {height} x {width} pixels")
        if info.orientation != 1:
            report(WARNING, "exif", f"the JPEG has EXIF orientation {info.orientation}: the "
                   "decoder ignores it, so boxes drawn on the rotated view are misplaced "
                   "(convert with --reencode to apply the rotation)")
        sha = F.first(features, K.KEY_SHA256)
        if isinstance(sha, bytes) and sha:
            actual = digest or hashlib.sha256(data).hexdigest()
            if sha.decode("ascii", "replace").lower() != actual:
                report(ERROR, "sha256", f"{K.KEY_SHA256} is {F.text(sha)[:16]}..., but the "
                       f"image bytes hash to {actual[:16]}...")
        return height, width

    def _decode_image(self, data: bytes, info, report) -> tuple[int, int] | None:
        tf = self.tf
        try:
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
        except (tf.errors.OpError, ValueError) as exc:
            message = (getattr(exc, "message", None) or str(exc)).strip().splitlines()[0]
            report(ERROR, "image", f"the image does not decode ({info.format} bytes): "
                   f"{message}")
            return None
        return int(image.shape[0]), int(image.shape[1])

    @staticmethod
    def _image_header(info, stored_h, stored_w, report) -> tuple[int, int] | None:
        """What the header says, where decoding would fail on it for sure; the header's size
        (the stored one where the header has none, as for WebP)."""
        if info.format in ("unknown", "tiff"):
            what = "a TIFF" if info.format == "tiff" else "no image format the decoder knows"
            report(ERROR, "image", f"the image bytes are {what} (it reads JPEG, PNG, GIF, BMP "
                   "and WebP): decoding fails at training")
            return None
        if info.truncated:
            report(ERROR, "image", f"the {info.format.upper()} has no end marker or a damaged "
                   "header (truncated): the decoder fails on it")
            return None
        if info.format in HEADER_SIZED and info.width and info.height:
            return info.height, info.width
        if isinstance(stored_h, int) and isinstance(stored_w, int):
            return stored_h, stored_w
        return None

    def _check_lengths(self, features, pixels, report) -> int:
        """Equal list lengths; returns the number of boxes."""
        get = features.get
        lengths = {key: len(get(key, _NO_VALUES)[1]) for key in K.BOX_KEYS}
        count = max(lengths.values())
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{key.rsplit('/', 1)[1]} {n}" for key, n in lengths.items())
            report(ERROR, "lengths", f"the four box lists differ in length ({listed}): the "
                   "decoder cannot stack them")
        for key in _PER_OBJECT:
            n = len(get(key, _NO_VALUES)[1])
            if n and n != count:
                report(ERROR, "lengths", f"{key} has {n} values for {count} boxes")
        xs = len(F.values(features, K.OBJECT_KEYPOINT_X))
        ys = len(F.values(features, K.OBJECT_KEYPOINT_Y))
        visible = len(F.values(features, K.OBJECT_KEYPOINT_VISIBILITY))
        if xs or ys:
            if xs != ys:
                report(ERROR, "lengths", f"keypoints have {xs} x and {ys} y values")
            elif count and xs % count:
                report(ERROR, "lengths", f"{xs} keypoint values for {count} boxes: not the "
                       "same number of keypoints per box")
            if visible and visible != xs:
                report(ERROR, "lengths", f"{visible} keypoint visibilities for {xs} keypoints")
        return count

    def _check_boxes(self, features, count, report) -> None:
        boxes = [F.values(features, key) for key in K.BOX_KEYS]
        outside, unordered, nans = [], [], []
        for i, (xmin, ymin, xmax, ymax) in enumerate(zip(*boxes)):
            if not (isinstance(xmin, float) and isinstance(ymin, float)
                    and isinstance(xmax, float) and isinstance(ymax, float)):
                return                                     # wrong types: reported already
            if 0.0 <= xmin < xmax <= 1.0 and 0.0 <= ymin < ymax <= 1.0:
                continue                                   # a good box (NaN is not)
            if any(v != v for v in (xmin, ymin, xmax, ymax)):
                nans.append(f"#{i}")
                continue
            bad = [f"{name}={value:.4g}" for name, value in
                   zip(("xmin", "ymin", "xmax", "ymax"), (xmin, ymin, xmax, ymax))
                   if not 0.0 <= value <= 1.0]
            if bad:
                outside.append(f"#{i} " + " ".join(bad))
            if xmin >= xmax or ymin >= ymax:
                what = []
                if xmin >= xmax:
                    what.append(f"xmin {xmin:.4g} >= xmax {xmax:.4g}")
                if ymin >= ymax:
                    what.append(f"ymin {ymin:.4g} >= ymax {ymax:.4g}")
                unordered.append(f"#{i} " + ", ".join(what))
        if nans:
            report(ERROR, "box", f"{_n(len(nans), 'box', 'boxes')} with NaN coordinates "
                   f"({_some(nans)}): training drops them silently")
        if outside:
            report(ERROR, "box", f"{_n(len(outside), 'box', 'boxes')} outside [0, 1] "
                   f"({_some(outside)}): boxes must be normalized by the image size")
        if unordered:
            report(ERROR, "box", f"{_n(len(unordered), 'box', 'boxes')} not ordered min < max "
                   f"({_some(unordered)}): swapped or zero-size")

    def _check_classes(self, features, report) -> None:
        for scope, text_key, label_key, severity in (
                ("", K.OBJECT_CLASS_TEXT, K.OBJECT_CLASS_LABEL, ERROR),
                ("image-level ", K.CLASS_TEXT, K.CLASS_LABEL, WARNING)):
            texts = F.values(features, text_key)
            labels = F.values(features, label_key)
            if features.get(text_key, (None,))[0] not in (None, "bytes") or \
                    features.get(label_key, (None,))[0] not in (None, "int"):
                continue                                    # wrong types: reported already
            if texts:
                self._check_texts(scope, texts, labels, severity, report)
            elif labels:
                self._check_labels(scope, labels, severity, report)
        count = len(F.values(features, K.OBJECT_BBOX_XMIN))
        if count and not F.values(features, K.OBJECT_CLASS_TEXT) \
                and not F.values(features, K.OBJECT_CLASS_LABEL):
            report(ERROR, "class", f"{count} boxes have neither {K.OBJECT_CLASS_TEXT} nor "
                   "/label: they have no class at training")

    def _check_texts(self, scope, texts, labels, severity, report) -> None:
        empty = [i for i, t in enumerate(texts) if not t]
        if empty:
            what = _n(len(empty), scope + "class text is", scope + "class texts are")
            report(severity, "class", f"{what} empty "
                   f"(#{', #'.join(map(str, empty[:SHOW_PER_PROBLEM]))}): with a label map "
                   "in the config the decoder maps them to -1 and drops the boxes (the text "
                   "list is used whenever it is not empty, labels are ignored)")
        if self.label_map is None:
            if labels:
                self._check_labels(scope, labels, severity, report)
            return
        unknown: Counter = Counter()
        differs: Counter = Counter()
        for i, raw in enumerate(texts):
            if not raw:
                continue
            text = F.text(raw)
            resolved = self.label_map.resolve(text)
            if resolved is None:
                unknown[text] += 1
            elif i < len(labels) and labels[i] != resolved:
                differs[(text, resolved, labels[i])] += 1
        if unknown:
            names = ", ".join(f"{t!r}" + (f" x{n}" if n > 1 else "")
                              for t, n in unknown.most_common(SHOW_PER_PROBLEM))
            is_are = "is" if len(unknown) == 1 else "are"
            report(severity, "class", f"{scope}class text {names} {is_are} not in the label "
                   f"map ({self.label_map.source}): the decoder gives such boxes -1 and they "
                   "are silently dropped at training")
        for (text, resolved, label), n in differs.items():
            report(severity, "class", f"{scope}class text {text!r} is id {resolved} in the "
                   f"label map, but its label says {label}" + (f" ({n} boxes)" if n > 1 else "")
                   + f": with the label map the decoder uses {resolved}, without it {label}")

    def _check_labels(self, scope, labels, severity, report) -> None:
        low = sorted({v for v in labels if v < 1})
        if low:
            ids = _some(list(map(str, low)))
            report(severity, "class", f"{scope}label {ids} below 1: id 0 is the background and "
                   "negative ids are invalid; these boxes are not training targets")
        if self.label_map is not None:
            missing = sorted({v for v in labels if v >= 1 and v not in self.label_ids})
            if missing:
                ids = _some(list(map(str, missing)))
                is_are = "is" if len(missing) == 1 else "are"
                report(severity, "class", f"{scope}label {ids} {is_are} not in the label map "
                       f"({self.label_map.source}, ids {min(self.label_ids, default=0)}-"
                       f"{self.label_map.max_id}): these boxes have no class at training")

    def _check_masks(self, features, count, pixels, report) -> None:
        kind, masks = features.get(K.OBJECT_MASK, (None, []))
        if not masks:
            return
        if kind == "float":
            height, width = F.first(features, K.HEIGHT), F.first(features, K.WIDTH)
            if not (isinstance(height, int) and isinstance(width, int)):
                report(ERROR, "mask", f"numerical masks need {K.HEIGHT} and {K.WIDTH} to be "
                       "reshaped, and the record has none")
                return
            if len(masks) != count * height * width:
                report(ERROR, "mask", f"numerical masks hold {len(masks)} values; {count} "
                       f"masks of {height} x {width} need {count * height * width}")
            return
        if kind != "bytes":
            return
        if len(masks) != count:
            report(ERROR, "mask", f"{_n(len(masks), 'PNG mask', 'PNG masks')} for "
                   f"{_n(count, 'box', 'boxes')}")
        if pixels is None:
            return
        wrong = []
        for i, data in enumerate(masks):
            shape = self._mask_shape(data)
            if shape is None:
                wrong.append(f"#{i} does not decode as PNG" if self.decode else
                             f"#{i} is not a PNG (by its header)")
                continue
            if shape != pixels:
                wrong.append(f"#{i} is {shape[0]} x {shape[1]}")
        if wrong:
            report(ERROR, "mask", f"{_n(len(wrong), 'mask does', 'masks do')} not match the "
                   f"{pixels[0]} x {pixels[1]} image ({_some(wrong)})")

    def _mask_shape(self, data: bytes) -> tuple[int, int] | None:
        """(height, width) of a PNG mask, decoded or from its header; None if it is none."""
        if not self.decode:
            info = sniff(data)
            if info.format != "png" or info.truncated or not info.width:
                return None
            return info.height, info.width
        tf = self.tf
        try:
            mask = tf.io.decode_png(data, channels=1)
        except (tf.errors.OpError, ValueError):
            return None
        return int(mask.shape[0]), int(mask.shape[1])

    # -- the end ---------------------------------------------------------------------------
    def finish(self) -> None:
        """Dataset-level warnings: optional keys missing from records."""
        effects = {
            K.KEY_SHA256: "tools that deduplicate or track images by key have nothing "
                                "to go by",
            K.SOURCE_ID: "COCO-style evaluation needs a unique source id per image",
            K.HEIGHT: "the decoder assumes 1; masks cannot be reshaped",
            K.WIDTH: "the decoder assumes 1; masks cannot be reshaped",
            K.FORMAT: "the decoder assumes 'jpeg' (harmless: it sniffs the bytes)",
        }
        if not self.examples and not self.problems:
            self.report(WARNING, "empty", "the files hold no records")
        for key, n in sorted(self.missing.items()):
            if key == K.FORMAT:
                continue
            self.report(WARNING, "missing_field", f"{key} is missing or empty in {n} of "
                        f"{self.examples} examples: {effects[key]}")

    def result(self, label_map_origin: str | None) -> dict[str, Any]:
        return {
            "ok": self.severities[ERROR] == 0,
            "files": self.files,
            "examples": self.examples,
            "objects": self.objects,
            "examples_with_errors": self.bad_examples,
            "label_map": label_map_origin,
            "images_decoded": self.decode,
            "errors": self.severities[ERROR],
            "warnings": self.severities[WARNING],
            "counts": dict(sorted(self.counts.items())),
            "problems": [p.as_dict() for p in self.problems],
        }


def _image_to_hash(features) -> bytes | None:
    """The image bytes of a record that states their sha256 (None: nothing to hash)."""
    if not isinstance(features, dict) or not F.first(features, K.KEY_SHA256):
        return None
    data = F.first(features, K.ENCODED)
    return data if isinstance(data, bytes) and data else None


def _sha256_hex(images: list) -> list[str | None]:
    return [hashlib.sha256(data).hexdigest() if data else None for data in images]


def _n(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _some(items: list[str]) -> str:
    shown = ", ".join(items[:SHOW_PER_PROBLEM])
    return shown + (f", ... ({len(items) - SHOW_PER_PROBLEM} more)"
                    if len(items) > SHOW_PER_PROBLEM else "")


def check_file_apart(path: str, label_map, max_boxes: int) -> CheckedFile:
    """One file checked without decoding, in a worker process."""
    verifier = Verifier(label_map, max_boxes=max_boxes, decode=False)
    verifier.deferred_ids = []
    try:
        verifier.check_file(path)
    finally:
        verifier.close()
    return CheckedFile(verifier.files[0], verifier.problems, verifier.examples,
                       verifier.objects, verifier.bad_examples, verifier.missing,
                       verifier.deferred_ids)


def checked_apart(paths: list[str], label_map, max_boxes: int, workers: int):
    """Each file checked in one of `workers` processes (forked on Linux, spawned elsewhere),
    yielded in the order of `paths`. The pool's exit terminates the workers, so an
    interruption does not wait for the files they were given."""
    import multiprocessing
    from functools import partial

    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
    check = partial(check_file_apart, label_map=label_map, max_boxes=max_boxes)
    with context.Pool(workers, initializer=_leave_interrupts_to_the_parent) as pool:
        yield from pool.imap(check, paths)


def _leave_interrupts_to_the_parent() -> None:
    """Ctrl-C reaches the whole process group: the parent stops the workers, which would
    each print a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_count(workers: int | None, paths: list[str], decode: bool) -> int:
    """Processes for checking files apart: only without decoding (TensorFlow is not forked),
    at most one per file; by default one per usable CPU, and none for URLs (a spawned worker
    would not see an in-memory filesystem)."""
    if decode or len(paths) < 2:
        return 1
    if workers is None:
        if any(remote.is_url(path) for path in paths):
            return 1
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            os.cpu_count() or 1
    return max(1, min(workers, len(paths)))


# -- the command ---------------------------------------------------------------------------
def verify_records(path_or_glob: str, *, label_map=None, label_map_origin: str | None = None,
                   max_boxes: int = 100, stream: TextIO | None = None,
                   decode: bool = True, workers: int | None = None) -> dict[str, Any]:
    """Verify every record of a path or glob; the report as `--json` prints it. With
    `decode=False`, nothing is decoded and TensorFlow is not needed (see the module's doc),
    and several files are checked in `workers` processes (default: one per CPU), with the
    same report in the same order as one by one."""
    from .tfrecord import record_paths

    paths = record_paths(path_or_glob)
    verifier = Verifier(label_map, max_boxes=max_boxes, stream=stream, decode=decode)
    processes = worker_count(workers, paths, decode)
    try:
        if processes > 1:
            for checked in checked_apart(paths, label_map, max_boxes, processes):
                verifier.take(checked)
        else:
            for path in paths:
                verifier.check_file(path)
    finally:
        verifier.close()
    verifier.finish()
    return verifier.result(label_map_origin)


def load_verify_label_map(ref: str | None, records: str):
    """(label map or None, where it came from, problems with it): --label-map, else the one
    beside the records. A label map the OD API would refuse is itself an error."""
    from .errors import LabelMapError
    from .labelmap_refs import load_label_map
    from .manifest import find_label_map

    origin = "--label-map"
    if ref is None:
        ref = find_label_map(records)
        origin = "found beside the records"
        if ref is None:
            return None, None, []
    problems = []
    try:
        label_map = load_label_map(ref)
    except LabelMapError as exc:
        problems.append(Problem(ERROR, "label_map", f"the OD API would refuse this label map: "
                                f"{exc}", exc.file))
        label_map = load_label_map(ref, validate=False)
    return label_map, f"{label_map.source or ref} ({origin})", problems


def run(args) -> int:
    """The `tfrconv verify` command (arguments in plugins/inspection.py)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from .errors import UsageError
    from .tfrecord import record_paths

    if args.max_boxes < 1:
        raise UsageError("--max-boxes must be at least 1")
    if getattr(args, "workers", None) is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    record_paths(args.records)                # a bad path fails before TensorFlow loads
    stream = None if args.json else sys.stdout
    label_map, origin, map_problems = load_verify_label_map(args.label_map, args.records)
    result = verify_records(args.records, label_map=label_map, label_map_origin=origin,
                            max_boxes=args.max_boxes, stream=stream,
                            decode=not getattr(args, "no_decode", False),
                            workers=getattr(args, "workers", None))
    for problem in map_problems:
        result["problems"].insert(0, problem.as_dict())
        result["errors"] += 1
        result["counts"]["label_map"] = result["counts"].get("label_map", 0) + 1
        result["ok"] = False
        if stream is not None:
            stream.write(problem.line() + "\n")
    failed = not result["ok"] or (args.strict and result["warnings"] > 0)
    if args.json:
        result["ok"] = not failed
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(summary_line(result, failed, args.records))
    return 1 if failed else 0


def summary_line(result: dict[str, Any], failed: bool, target: str) -> str:
    files = len(result["files"])
    scope = (f"{result['examples']:,} examples ({result['objects']:,} objects) in {files} "
             f"file{'s' if files != 1 else ''}")
    checked = (f"classes checked against {result['label_map']}" if result["label_map"] else
               "no label map given or found beside the records, so class texts were not "
               "checked (use --label-map)")
    if not result.get("images_decoded", True):
        checked += "; images not decoded (--no-decode: their headers and sha256 checked)"
    warnings = result["warnings"]
    if not failed:
        note = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
        return f"OK: {target}: {scope}; {checked}{note}"
    kinds = ", ".join(f"{kind} {n}" for kind, n in result["counts"].items())
    return (f"FAILED: {target}: {result['errors']} errors, {warnings} warnings in "
            f"{result['examples_with_errors']:,} of {scope} ({kinds}); {checked}")
