"""`tfrconv inspect`: what is inside OD-API record files, ours or anyone's.

One pass over the records, in constant memory (`tfrconv.stats`): counts, a per-class table,
box and image statistics, and which feature keys are present with which types. `--show N`
prints the first examples' features, `--draw N --out DIR` draws them (`tfrconv.draw`). Nothing
here assumes tfrconv wrote the file: keys may be missing, typed differently or unknown.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections import Counter
from typing import Any, TextIO

from . import features as F
from . import keys as K
from .images import sniff
from .stats import RESERVOIR_SIZE, CappedCounter, NumberStats

MAX_CLASSES = 10_000
MAX_ERRORS_KEPT = 200
SHOW_VALUES = 10
MAX_FILES_LISTED = 20
MASK_TYPES = {"bytes": "PNG_MASKS", "float": "NUMERICAL_MASKS"}


class Inspector:
    """Accumulates statistics over examples; `add` one decoded example at a time."""

    def __init__(self, label_map=None, reservoir_size: int = RESERVOIR_SIZE) -> None:
        def stats() -> NumberStats:
            return NumberStats(reservoir_size)

        self.label_map = label_map
        self.files: list[dict[str, Any]] = []
        self.examples = self.objects = self.empty_images = 0
        self.classes: dict[tuple[str | None, int | None], list[int]] = {}
        self.boxes_per_image = stats()
        self.box_width = stats()           # pixels of the image
        self.box_height = stats()
        self.aspect = stats()              # width / height in pixels
        self.box_area = stats()            # fraction of the image
        self.outside = self.degenerate = self.nan_boxes = self.unequal = 0
        self.image_formats = CappedCounter(50)
        self.format_field = CappedCounter(50)
        self.sizes = CappedCounter(10_000)
        self.channels = CappedCounter(20)
        self.image_width = stats()
        self.image_height = stats()
        self.image_bytes = stats()
        self.size_mismatch = self.exif_rotated = self.no_image = 0
        self.keys = CappedCounter(1000)
        self.key_kinds: dict[str, Counter] = {}
        self.errors: list[dict[str, Any]] = []
        self.error_count = 0

    # -- input -----------------------------------------------------------------------------
    def add_error(self, path: str, record: int | None, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"file": path, "record": record, "error": message})

    def add(self, features: dict[str, tuple[str | None, list]]) -> None:
        self.examples += 1
        keys, key_kinds = self.keys, self.key_kinds
        for key, (kind, _values) in features.items():
            kinds = key_kinds.get(key)
            if kinds is None:                   # a key first seen, or one past the cap
                keys.add(key)
                if key not in keys:
                    continue
                kinds = key_kinds[key] = Counter()
            else:                               # counted already: under the cap
                keys[key] += 1
            kinds[kind or "empty"] += 1
        image_w, image_h = self._image(features)
        self._objects(features, image_w, image_h)

    def _image(self, features) -> tuple[int | None, int | None]:
        data = F.first(features, K.ENCODED)
        stored_w, stored_h = F.first(features, K.WIDTH), F.first(features, K.HEIGHT)
        stored_format = F.first(features, K.FORMAT)
        if stored_format is not None:
            self.format_field.add(F.text(stored_format))
        if not isinstance(data, bytes) or not data:
            self.no_image += 1
            self.image_formats.add("(none)")
            return _int_or_none(stored_w), _int_or_none(stored_h)
        info = sniff(data)
        self.image_formats.add(info.format)
        self.image_bytes.add(len(data))
        if info.channels:
            self.channels.add(info.channels)
        if info.orientation != 1:
            self.exif_rotated += 1
        width, height = info.width, info.height
        if width and height:
            if (stored_w, stored_h) != (width, height) and (stored_w, stored_h) != (None, None):
                self.size_mismatch += 1
        else:
            width, height = _int_or_none(stored_w), _int_or_none(stored_h)
        if width and height:
            self.sizes.add(f"{width}x{height}")
            self.image_width.add(width)
            self.image_height.add(height)
        return width, height

    def _objects(self, features, image_w, image_h) -> None:
        boxes = [F.values(features, key) for key in K.BOX_KEYS]
        texts = F.values(features, K.OBJECT_CLASS_TEXT)
        labels = F.values(features, K.OBJECT_CLASS_LABEL)
        count = max(len(b) for b in boxes)
        if len({len(b) for b in boxes}) > 1 or (texts and len(texts) != count) \
                or (labels and len(labels) != count):
            self.unequal += 1
        self.objects += count
        self.boxes_per_image.add(count)
        if count == 0:
            self.empty_images += 1
        seen: set[tuple] = set()
        for i in range(max(count, len(texts), len(labels))):
            text = F.text(texts[i]) if i < len(texts) else None
            label = labels[i] if i < len(labels) and isinstance(labels[i], int) else None
            key = (text, label)
            if key not in self.classes and len(self.classes) >= MAX_CLASSES:
                key = ("(other)", None)
            entry = self.classes.setdefault(key, [0, 0])
            entry[0] += 1
            if key not in seen:
                seen.add(key)
                entry[1] += 1
        for xmin, ymin, xmax, ymax in zip(*boxes):      # as many as the shortest list
            try:
                xmin, ymin, xmax, ymax = float(xmin), float(ymin), float(xmax), float(ymax)
            except (TypeError, ValueError):
                continue
            if xmin != xmin or ymin != ymin or xmax != xmax or ymax != ymax:
                self.nan_boxes += 1
                continue
            if not (0 <= xmin <= 1 and 0 <= ymin <= 1 and 0 <= xmax <= 1 and 0 <= ymax <= 1):
                self.outside += 1
            width, height = xmax - xmin, ymax - ymin
            if width <= 0 or height <= 0:
                self.degenerate += 1
                continue
            self.box_area.add(width * height)
            if image_w and image_h:
                self.box_width.add(width * image_w)
                self.box_height.add(height * image_h)
                self.aspect.add(width * image_w / (height * image_h))

    # -- output ----------------------------------------------------------------------------
    def result(self) -> dict[str, Any]:
        by_id = self.label_map.by_id() if self.label_map is not None else {}
        classes = []
        for (text, label), (objects, images) in self.classes.items():
            entry: dict[str, Any] = {"text": text, "label": label, "objects": objects,
                                     "images": images}
            if self.label_map is not None:
                if text is not None:
                    entry["label_map_id"] = self.label_map.resolve(text)
                elif label is not None and label in by_id:
                    entry["label_map_name"] = by_id[label].name
            classes.append(entry)
        classes.sort(key=lambda c: (c["label"] is None, c["label"] or 0, c["text"] or ""))
        fields = []
        for key, count in sorted(self.keys.items()):
            kinds = dict(self.key_kinds.get(key, {}))
            entry = {"key": key, "examples": count, "kinds": kinds}
            expected = F.expected_kinds(key)
            if expected is not None:
                spec = F.DECODER_KEYS[key]
                entry["decoder"] = "parsed" if spec.always else f"read with {spec.switch}"
                if key == K.OBJECT_MASK:
                    entry["decoder"] += " and mask_type " + " or ".join(
                        MASK_TYPES[k] for k in kinds if k in MASK_TYPES)
                wrong = sorted(k for k in kinds if k not in expected and k != "empty")
                if wrong:
                    entry["wrong_type"] = ", ".join(F.TF_TYPE_NAMES[k] for k in wrong) + \
                        " (the decoder parses " + " or ".join(
                            F.TF_TYPE_NAMES[k] for k in expected) + ")"
            else:
                entry["decoder"] = "not read"
            fields.append(entry)
        return {
            "files": self.files,
            "shards": len(self.files),
            "examples": self.examples,
            "objects": self.objects,
            "empty_images": self.empty_images,
            "classes": classes,
            "boxes": {
                "per_image": self.boxes_per_image.as_dict(2),
                "width_px": self.box_width.as_dict(1),
                "height_px": self.box_height.as_dict(1),
                "aspect_ratio": self.aspect.as_dict(3),
                "area_fraction": self.box_area.as_dict(4),
                "outside_0_1": self.outside,
                "zero_or_negative_size": self.degenerate,
                "nan": self.nan_boxes,
                "examples_with_unequal_lists": self.unequal,
            },
            "images": {
                "formats": dict(self.image_formats.most_common()),
                "format_field": dict(self.format_field.most_common()),
                "sizes": [{"size": size, "examples": n} for size, n in
                          self.sizes.most_common(10)],
                "distinct_sizes": len(self.sizes),
                "width": self.image_width.as_dict(1),
                "height": self.image_height.as_dict(1),
                "encoded_bytes": self.image_bytes.as_dict(0),
                "channels": {str(k): v for k, v in sorted(self.channels.items(), key=str)},
                "stored_size_differs": self.size_mismatch,
                "exif_rotated": self.exif_rotated,
                "missing": self.no_image,
            },
            "fields": fields,
            "optional_fields": {key: self.keys.get(key, 0) for key in F.OPTIONAL_FIELDS},
            "label_map": None if self.label_map is None else self.label_map.source,
            "errors": self.errors,
            "error_count": self.error_count,
        }


def _int_or_none(value) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


# -- the command ---------------------------------------------------------------------------
def inspect_records(path_or_glob: str, *, label_map=None, show: int = 0, draw: int = 0,
                    out_dir: str | None = None, limit: int | None = None,
                    stream: TextIO | None = None,
                    reservoir_size: int = RESERVOIR_SIZE) -> dict[str, Any]:
    """Inspect every record of a path or glob and return the statistics (as `--json` prints
    them). With `show`, the first examples go into the result (and are printed to `stream` as
    they are read); with `draw`, they are drawn into `out_dir` with an index.html."""
    from .tfrecord import file_size, record_paths, scan_records

    inspector = Inspector(label_map, reservoir_size)
    sheet: list = []
    shown: list = []
    if draw:
        os.makedirs(out_dir, exist_ok=True)
    for path in record_paths(path_or_glob):
        info: dict[str, Any] = {"path": path, "bytes": file_size(path), "records": 0}
        inspector.files.append(info)
        if limit is not None and inspector.examples >= limit:
            info["skipped"] = "--limit reached"
            continue
        for record in scan_records(path):
            if record.payload is None:
                inspector.add_error(path, record.index, record.error)
                if record.fatal:
                    info["error"] = f"record {record.index}: {record.error}"
                continue
            info["records"] += 1
            try:
                features = F.decode_typed(record.payload)
            except ValueError as exc:
                inspector.add_error(path, record.index, str(exc))
                continue
            number = inspector.examples
            inspector.add(features)
            if number < show:
                shown.append(example_dict(features, path, record.index))
                if stream is not None:
                    stream.write(show_example(features, path, record.index) + "\n")
            if number < draw:
                sheet.append(_draw_one(features, label_map, out_dir, number, path,
                                       record.index))
            if limit is not None and inspector.examples >= limit:
                break
    result = inspector.result()
    if show:
        result["shown"] = shown
    if draw:
        from .draw import write_contact_sheet

        result["drawn"] = {"out": out_dir, "images": [e.png for e in sheet],
                           "index": write_contact_sheet(out_dir, sheet, f"tfrconv inspect "
                                                        f"{path_or_glob}")}
    return result


def _draw_one(features, label_map, out_dir, number, path, index):
    from .draw import SheetEntry, png_name, render

    source_id = F.text(F.first(features, K.SOURCE_ID, b"")) or \
        F.text(F.first(features, K.FILENAME, b"")) or f"record {index}"
    drawing = render(features, label_map)
    name = png_name(number, source_id)
    drawing.image.save(os.path.join(out_dir, name), format="PNG")
    return SheetEntry(name, source_id, path, index, drawing.width, drawing.height,
                      drawing.names, drawing.note)


# -- text rendering ------------------------------------------------------------------------
def show_example(features: dict, path: str, index: int) -> str:
    """One example's features, one key per line, bytes and long lists summarised."""
    source = F.text(F.first(features, K.SOURCE_ID, b"")) if \
        features.get(K.SOURCE_ID, (None, []))[0] == "bytes" else ""
    lines = [f"== {path} record {index}" + (f" ({source})" if source else "")]
    width = max((len(k) for k in features), default=0)
    for key in sorted(features):
        kind, values = features[key]
        type_name = F.TF_TYPE_NAMES.get(kind, "empty")
        lines.append(f"  {key:{width}}  {type_name}[{len(values)}]  "
                     f"{_values_text(key, kind, values)}")
    return "\n".join(lines)


def example_dict(features: dict, path: str, index: int) -> dict[str, Any]:
    """`show_example` for machines: values summarised the same way."""
    out: dict[str, Any] = {}
    for key in sorted(features):
        kind, values = features[key]
        shown = [v if kind in ("int", "float") else _value_text(key, kind, v)
                 for v in values[:SHOW_VALUES]]
        out[key] = {"type": F.TF_TYPE_NAMES.get(kind, "empty"), "count": len(values),
                    "values": shown}
    return {"file": path, "record": index, "features": out}


def _values_text(key: str, kind: str | None, values: list) -> str:
    if not values:
        return "-"
    shown = [_value_text(key, kind, v) for v in values[:SHOW_VALUES]]
    more = f", ... ({len(values) - SHOW_VALUES} more)" if len(values) > SHOW_VALUES else ""
    return ", ".join(shown) + more


def _value_text(key: str, kind: str | None, value) -> str:
    if kind == "float":
        return f"{value:.6g}"
    if kind == "int":
        return str(value)
    info = sniff(value)
    if info.format != "unknown":
        size = f" {info.width}x{info.height}" if info.width else ""
        return f"<{info.format}{size}, {len(value):,} bytes>"
    try:
        decoded = value.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(value):,} bytes>"
    if len(decoded) > 80:
        return repr(decoded[:77]) + f"... ({len(decoded)} chars)"
    return repr(decoded)


def _stats_row(label: str, stats: dict[str, Any], fmt: str = "{:.1f}") -> str:
    if not stats.get("count"):
        return f"  {label:18} -"
    cells = [fmt.format(stats[k]) for k in ("min", "p5", "median", "p95", "max", "mean")]
    approx = " ~" if stats.get("quantiles_from_sample") else ""
    return f"  {label:18}" + "".join(f"{c:>10}" for c in cells) + approx


def format_text(result: dict[str, Any], target: str) -> str:
    lines = []
    total_bytes = sum(f["bytes"] for f in result["files"])
    lines.append(f"{target}: {result['examples']:,} examples in {result['shards']} file"
                 f"{'s' if result['shards'] != 1 else ''} ({_size(total_bytes)})")
    lines.append(f"  objects {result['objects']:,}, images without objects "
                 f"{result['empty_images']:,}")
    if result["shards"] > 1:
        listed = [info for info in result["files"] if info.get("error")]
        listed += [info for info in result["files"] if not info.get("error")]
        for info in listed[:MAX_FILES_LISTED]:
            extra = f"  ERROR {info['error']}" if info.get("error") else ""
            lines.append(f"    {os.path.basename(info['path'])}: {info['records']:,} records, "
                         f"{_size(info['bytes'])}{extra}")
        if len(listed) > MAX_FILES_LISTED:
            lines.append(f"    ... and {len(listed) - MAX_FILES_LISTED:,} more files (--json "
                         "lists them all)")
    classes = result["classes"]
    if classes:
        has_map = result["label_map"] is not None
        width = max(12, *(len(_class_name(c)) for c in classes))
        head = f"  {'class text':{width}} {'label':>7} {'objects':>9} {'images':>8}"
        lines += ["", "classes" + (f" (label map: {result['label_map']})" if has_map else ""),
                  head + ("  label map" if has_map else "")]
        for c in classes:
            label = "-" if c["label"] is None else str(c["label"])
            row = f"  {_class_name(c):{width}} {label:>7} {c['objects']:>9,} {c['images']:>8,}"
            if has_map and c["text"] is not None:
                mapped = c.get("label_map_id")
                if mapped is None:
                    row += "  NOT IN MAP (the decoder drops these boxes)"
                elif c["label"] is not None and mapped != c["label"]:
                    row += f"  id {mapped} (differs from the label)"
                else:
                    row += f"  id {mapped}"
            lines.append(row)
    boxes = result["boxes"]
    lines += ["", f"  {'boxes':18}" + "".join(
        f"{h:>10}" for h in ("min", "p5", "median", "p95", "max", "mean"))]
    lines.append(_stats_row("per image", boxes["per_image"]))
    lines.append(_stats_row("width (px)", boxes["width_px"]))
    lines.append(_stats_row("height (px)", boxes["height_px"]))
    lines.append(_stats_row("aspect (w/h)", boxes["aspect_ratio"], "{:.2f}"))
    lines.append(_stats_row("area (% image)", {k: (v * 100 if isinstance(v, float) and k in (
        "min", "p5", "median", "p95", "max", "mean") else v) for k, v in
        boxes["area_fraction"].items()}, "{:.2f}"))
    oddities = [f"{boxes[k]:,} {label}" for k, label in (
        ("outside_0_1", "outside [0, 1]"), ("zero_or_negative_size", "with zero or negative "
         "size"), ("nan", "with NaN coordinates"))
        if boxes[k]]
    if boxes["examples_with_unequal_lists"]:
        oddities.append(f"{boxes['examples_with_unequal_lists']:,} examples whose box/class "
                        "lists differ in length")
    if oddities:
        lines.append("  boxes: " + "; ".join(oddities) + " (run `tfrconv verify`)")
    images = result["images"]
    lines += ["", "images"]
    formats = ", ".join(f"{k} {v:,}" for k, v in images["formats"].items()) or "-"
    stored = ", ".join(f"{k!r} {v:,}" for k, v in images["format_field"].items())
    lines.append(f"  formats: {formats}" + (f"  ({K.FORMAT}: {stored})" if stored else ""))
    sizes = ", ".join(f"{s['size']} ({s['examples']:,})" for s in images["sizes"])
    more = images["distinct_sizes"] - len(images["sizes"])
    lines.append(f"  sizes: {sizes or '-'}" + (f", and {more:,} more" if more > 0 else ""))
    if images["width"].get("count"):
        lines.append(f"  width {images['width']['min']:.0f}-{images['width']['max']:.0f}, "
                     f"height {images['height']['min']:.0f}-{images['height']['max']:.0f}, "
                     f"encoded {_size(images['encoded_bytes']['mean'])} on average")
    notes = [f"{images[k]:,} {label}" for k, label in (
        ("stored_size_differs", f"with {K.HEIGHT} or {K.WIDTH} unlike the pixels"),
        ("exif_rotated", "with an EXIF rotation (the decoder ignores it)"),
        ("missing", f"without {K.ENCODED}")) if images[k]]
    if notes:
        lines.append("  " + "; ".join(notes))
    lines += ["", "feature keys (examples having each)"]
    key_width = max((len(f["key"]) for f in result["fields"]), default=10)
    for entry in result["fields"]:
        kinds = "/".join(F.TF_TYPE_NAMES.get(k, k) for k in entry["kinds"])
        note = ""
        if entry.get("wrong_type"):
            note = f"  WRONG TYPE: {entry['wrong_type']}"
        elif entry["decoder"] == "not read":
            note = "  (not read by the OD API decoder)"
        elif entry["decoder"] != "parsed":
            note = f"  ({entry['decoder']})"
        lines.append(f"  {entry['key']:{key_width}} {entry['examples']:>9,}  {kinds}{note}")
    absent = [k for k, n in result["optional_fields"].items() if n == 0]
    if absent:
        lines.extend(textwrap.wrap("absent: " + ", ".join(absent), 98, initial_indent="  ",
                                   subsequent_indent="    ", break_on_hyphens=False))
    if result["error_count"]:
        lines += ["", f"errors ({result['error_count']:,})"]
        for error in result["errors"]:
            lines.append(f"  {error['file']}: record {error['record']}: {error['error']}")
        if result["error_count"] > len(result["errors"]):
            lines.append(f"  ... and {result['error_count'] - len(result['errors']):,} more")
    if result.get("drawn"):
        drawn = result["drawn"]
        lines += ["", f"drew {len(drawn['images'])} images into {drawn['out']}; open "
                  f"{drawn['index']}"]
    return "\n".join(lines)


def _class_name(entry: dict[str, Any]) -> str:
    if entry["text"] is not None:
        return entry["text"] or "''"
    if entry.get("label_map_name"):
        return f"({entry['label_map_name']})"
    return "(no text)"


def _size(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if count < 1024 or unit == "TB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"


def run(args) -> int:
    """The `tfrconv inspect` command (see plugins/inspection.py for its arguments)."""
    from .errors import TfrconvError, UsageError
    from .labelmap_refs import load_label_map
    from .manifest import find_label_map

    if args.draw and not args.out:
        raise UsageError("--draw needs --out DIR (where the PNGs and index.html go)")
    if args.draw and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out}: exists and is not a folder")
    for name in ("show", "draw", "limit"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise UsageError(f"--{name} must be 0 or more")
    label_map = None
    if args.label_map:
        label_map = load_label_map(args.label_map, validate=False)
    else:
        found = find_label_map(args.records)
        if found:
            try:
                label_map = load_label_map(found, validate=False)
            except TfrconvError as exc:
                print(f"tfrconv: warning: ignoring the label map beside the records: {exc}",
                      file=sys.stderr)
    result = inspect_records(args.records, label_map=label_map, show=args.show or 0,
                             draw=args.draw or 0, out_dir=args.out, limit=args.limit,
                             stream=None if args.json else sys.stdout)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(format_text(result, args.records))
    return 1 if result["error_count"] else 0
