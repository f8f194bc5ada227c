"""CVAT for images 1.1: `tfrconv cvat --annotations-file annotations.xml --output cvat.record`.

One XML file: `<annotations>` with `<meta>` (the task, job or project, and its `<labels>`) and an
`<image id name width height [subset task_id]>` per image holding its shapes. `<box>` (xtl, ytl,
xbr, ybr; a `rotation` gives the rotated box's extent) and `<polygon>` (points "x,y;x,y;...",
boxed by its extent) become objects, with `occluded` kept as the objects' occluded flag and, with
--include-masks, instance masks at the image's size; polylines, points, ellipses, cuboids,
skeletons, masks and tags are left out (docs/formats/cvat.md). The label map is the labels
section, in its order (ids 1..N). A project export holds several subsets (Train, Validation,
...): each goes to its own output (`cvat.record` → `cvat_Train.record`, ...) unless --subset
picks one. The file is parsed once per run by lxml, safely (no entities, DTDs or network).
"""

from __future__ import annotations

import math
import os
import re
from typing import NamedTuple

from tfrconv import (
    DataError,
    Detection,
    FormatSpec,
    LabelMap,
    Object,
    Option,
    ParsedOnce,
    Sample,
    UsageError,
    hookimpl,
    masks,
    open_dataset_file,
    read_annotation_file,
)

OPTIONS = (
    Option("annotations_file", "the CVAT for images 1.1 XML of a task or project export "
           "(annotations.xml)", "path", required=True, metavar="XML"),
    Option("image_dir", "folder the images' names are relative to (default: images/ beside "
           "the XML, else the XML's folder); a project export's images/<subset>/ is searched "
           "too", "path", metavar="DIR"),
    Option("subset", "convert only this subset of a project export (default: every subset, "
           "each to its own output <output>_<subset>.record)", "str", metavar="NAME"),
    Option("include_masks", "write instance masks (PNG, values 0/1) from polygons and boxes",
           "bool", default=False),
)

OBJECT_SHAPES = frozenset({"box", "polygon"})
# CVAT's other annotations: not a box the annotator drew around an object, left out.
OTHER_SHAPES = frozenset({"polyline", "points", "ellipse", "cuboid", "skeleton", "mask", "tag"})


# -- parsing the file once -----------------------------------------------------------------
class RawShape(NamedTuple):
    """A shape as written (attributes as text): checked when its image is read, so one bad
    shape is that image's problem, not the whole file's."""

    kind: str
    attributes: dict
    line: int


class CvatImage(NamedTuple):
    name: str
    width: str | None
    height: str | None
    subset: str               # '' when the export names none
    line: int
    shapes: tuple[RawShape, ...]


class CvatIndex(NamedTuple):
    labels: list[str]         # the labels section, in order
    images: list[CvatImage]
    subsets: list[str]        # as first met among the images


INDEX = ParsedOnce(lambda path: parse_file(path), "xml")


def load_index(opts) -> CvatIndex:
    """The parsed file, parsed once per process and reused by every call of the run."""
    return INDEX.load(opts.annotations_file)


def parse_file(path: str) -> CvatIndex:
    import io

    from lxml import etree

    data = read_annotation_file(path)
    # Never resolve entities, load DTDs or touch the network: XXE and entity bombs stay inert.
    events = etree.iterparse(io.BytesIO(data), events=("start", "end"), resolve_entities=False,
                             no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    labels: list[str] = []
    task_subsets: dict[str, str] = {}
    images: list[CvatImage] = []
    subsets: dict[str, None] = {}
    depth = 0
    try:
        for event, element in events:
            if event == "start":
                depth += 1
                if depth == 1 and element.tag != "annotations":
                    hint = " (a Pascal VOC file? try `tfrconv voc`)" \
                        if element.tag == "annotation" else ""
                    raise DataError(f"expected an <annotations> root element (CVAT for images "
                                    f"1.1), found <{element.tag}>{hint}", file=path,
                                    line=element.sourceline)
                continue
            depth -= 1
            if depth != 1:
                continue
            if element.tag == "meta":
                labels = _labels(element)
                task_subsets = _task_subsets(element)
            elif element.tag == "image":
                image = _image(element, task_subsets, path)
                images.append(image)
                subsets.setdefault(image.subset)
            elif element.tag == "track":
                raise DataError("a CVAT for video export (<track> elements): export the task "
                                "as 'CVAT for images 1.1'", file=path, line=element.sourceline)
            element.clear()                # keep memory to the index, not the tree
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        raise DataError(f"not valid XML: {exc.msg}", file=path, line=line) from None
    return CvatIndex(labels, images, list(subsets))


def _labels(meta) -> list[str]:
    """The label names of the task, job or project, in order; a skeleton's points (labels
    with a <parent>) are not classes of their own."""
    names: dict[str, None] = {}
    for holder in meta:
        for label in holder.iterfind("labels/label"):
            if (label.findtext("parent") or "").strip():
                continue
            name = (label.findtext("name") or "").strip()
            if name:
                names.setdefault(name)
    return list(names)


def _task_subsets(meta) -> dict[str, str]:
    """task id → subset, from a task export's <task> or a project export's <tasks>."""
    found = {}
    for task in [*meta.iterfind("task"), *meta.iterfind("project/tasks/task")]:
        found[(task.findtext("id") or "").strip()] = (task.findtext("subset") or "").strip()
    return found


def _image(element, task_subsets: dict[str, str], path: str) -> CvatImage:
    name = element.get("name")
    if not name or not name.strip() or "\x00" in name:
        raise DataError(f"<image id={element.get('id')!r}> has no usable name", file=path,
                        line=element.sourceline)
    subset = element.get("subset")
    if subset is None:
        subset = task_subsets.get(element.get("task_id") or "") or \
            (next(iter(task_subsets.values())) if len(task_subsets) == 1 else "")
    shapes = tuple(RawShape(child.tag, dict(child.attrib), child.sourceline)
                   for child in element if child.tag in OBJECT_SHAPES)
    return CvatImage(name, element.get("width"), element.get("height"), subset.strip(),
                     element.sourceline, shapes)


# -- subsets and outputs -------------------------------------------------------------------
def selected(opts) -> tuple[CvatIndex, list[int], bool]:
    """The index, the positions of the images to convert, and whether each subset goes to its
    own output."""
    index = load_index(opts)
    if opts.subset is not None:
        if opts.subset not in index.subsets:
            found = ", ".join(repr(s) for s in index.subsets if s) or "none"
            raise UsageError(f"--subset {opts.subset}: no image of "
                             f"{opts.annotations_file} is in it (subsets: {found})")
        return index, [i for i, image in enumerate(index.images)
                       if image.subset == opts.subset], False
    return index, list(range(len(index.images))), len(index.subsets) > 1


def output_name(subset: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", subset) or "default"


def outputs(opts, output: str | None) -> dict[str | None, str]:
    """One output, or one per subset: `cvat.record` → cvat_Train.record, cvat_Validation.record
    (a subset's name with characters other than letters, digits, '.', '_', '-' as '_')."""
    if not output:
        return {}
    index, _positions, split = selected(opts)
    if not split:
        return {None: output}
    base, extension = os.path.splitext(output)
    named = {subset: f"{base}_{output_name(subset)}{extension or '.record'}"
             for subset in index.subsets}
    if len(set(named.values())) != len(named):
        raise UsageError(f"the subsets {', '.join(map(repr, index.subsets))} give clashing "
                         "output names; convert them one at a time with --subset")
    return named


def list_items(opts) -> list[int]:
    _index, positions, _split = selected(opts)
    image_dir(opts)                         # a wrong folder fails now, not per image
    return positions


# -- reading one image ---------------------------------------------------------------------
def image_dir(opts) -> str:
    if opts.image_dir:
        if not os.path.isdir(opts.image_dir):
            raise UsageError(f"--image-dir {opts.image_dir}: no such folder")
        return opts.image_dir
    folder = os.path.dirname(os.path.abspath(opts.annotations_file))
    images = os.path.join(folder, "images")
    return images if os.path.isdir(images) else folder


def read_item(position: int, opts) -> Sample:
    index, _positions, split = selected(opts)
    image = index.images[position]
    path = opts.annotations_file
    width = _size(image, "width", path)
    height = _size(image, "height", path)
    if opts.include_masks and (width is None or height is None):
        raise DataError(f"image {image.name!r} has no width and height, which --include-masks "
                        "needs", file=path, line=image.line)
    objects = [_object(shape, width, height, opts.include_masks, path)
               for shape in image.shapes]
    folder = image_dir(opts)
    return Sample(source_id=image.name, filename=os.path.basename(image.name),
                  image_path=_image_path(folder, image), width=width, height=height,
                  objects=objects, split=image.subset if split else None, image_root=folder,
                  origin=f"{path}:{image.line}")


def _image_path(folder: str, image: CvatImage) -> str:
    """The name under the image folder; else under its subset's folder (project exports keep
    images/<subset>/<name>); else the bare file name."""
    primary = os.path.join(folder, image.name)
    candidates = [os.path.join(folder, image.subset, image.name)] if image.subset else []
    candidates.append(os.path.join(folder, os.path.basename(image.name.replace("\\", "/"))))
    if not os.path.exists(primary):
        for candidate in candidates:
            if os.path.exists(candidate):
                return candidate
    return primary


def _size(image: CvatImage, key: str, path: str) -> int | None:
    text = getattr(image, key)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise DataError(f"image {image.name!r}: {key} must be a positive integer, found "
                        f"{text!r:.40}", file=path, line=image.line)
    return value


def _object(shape: RawShape, width, height, include_masks: bool, path: str) -> Object:
    attributes = shape.attributes
    label = (attributes.get("label") or "").strip()
    if not label:
        raise DataError(f"a <{shape.kind}> has no label", file=path, line=shape.line)
    what = f"<{shape.kind} label={label!r}>"
    if shape.kind == "box":
        corners = _box_corners(attributes, what, path, shape.line)
    else:
        corners = _points(attributes.get("points"), what, path, shape.line)
    occluded = attributes.get("occluded", "0")
    if occluded not in ("0", "1"):
        raise DataError(f"{what}: occluded must be 0 or 1, found {occluded!r:.20}", file=path,
                        line=shape.line)
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    mask = _mask(corners, width, height, path, shape.line) if include_masks else None
    return Object(label, min(xs), min(ys), max(xs), max(ys), occluded=int(occluded), mask=mask)


def _number(text, name: str, what: str, path: str, line: int) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{what}: {name} must be a number, found {text!r:.40}", file=path,
                        line=line)
    return value


def _box_corners(attributes: dict, what: str, path: str, line: int):
    """The box's four corners; with a rotation (degrees, clockwise about the centre, as CVAT
    draws it) the rotated corners, whose extent is the object's box."""
    xtl, ytl, xbr, ybr = (_number(attributes.get(k), k, what, path, line)
                          for k in ("xtl", "ytl", "xbr", "ybr"))
    corners = [(xtl, ytl), (xbr, ytl), (xbr, ybr), (xtl, ybr)]
    rotation = _number(attributes.get("rotation", "0"), "rotation", what, path, line)
    if rotation % 360 == 0:
        return corners
    cx, cy = (xtl + xbr) / 2, (ytl + ybr) / 2
    cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    return [(cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos)
            for x, y in corners]


def _points(text, what: str, path: str, line: int):
    points = []
    for pair in (text or "").split(";"):
        parts = pair.split(",")
        if len(parts) != 2:
            raise DataError(f"{what}: points must be 'x,y;x,y;...', found {text!r:.60}",
                            file=path, line=line)
        points.append(tuple(_number(p, "a point", what, path, line) for p in parts))
    if len(points) < 3:
        raise DataError(f"{what}: a polygon needs at least 3 points, found {len(points)}",
                        file=path, line=line)
    return points


def _mask(corners, width: int, height: int, path: str, line: int):
    try:
        return masks.polygon_mask([[v for point in corners for v in point]], width, height)
    except masks.MaskError as exc:
        raise DataError(str(exc), file=path, line=line) from None


# -- label map, classes, detection ---------------------------------------------------------
def default_label_map(opts) -> LabelMap | None:
    """The labels section in its order, ids 1..N; without one, built from the data."""
    labels = load_index(opts).labels
    if not labels:
        return None
    return LabelMap.from_names(labels, source=f"labels of {opts.annotations_file}")


def classes(opts) -> list[str]:
    """The labels the selected images' boxes and polygons use, in the labels section's order
    (others after, sorted): checked against the label map before any image is read, and the
    order `labelmap from-data` gives them."""
    index, positions, _split = selected(opts)
    used = {(shape.attributes.get("label") or "").strip()
            for position in positions for shape in index.images[position].shapes} - {""}
    return [n for n in index.labels if n in used] + sorted(used - set(index.labels))


_ROOT = re.compile(rb"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<annotations[\s>]", re.S)
PEEK_BYTES = 4096


def _is_cvat(path: str) -> bool:
    try:
        with open_dataset_file(path) as fileobj:          # never a pipe: detection must not hang
            head = fileobj.read(PEEK_BYTES)
    except OSError:
        return False
    return bool(_ROOT.match(head.lstrip(b"\xef\xbb\xbf"))) and \
        (b"<version>" in head or b"<meta>" in head or b"<image " in head)


def detect(path: str) -> Detection:
    if os.path.isfile(path):
        if _is_cvat(path):
            return Detection(0.9, f"{path} is CVAT for images XML (an <annotations> root)",
                             options={"annotations_file": path})
        return Detection(0.0, f"{path} is not CVAT XML (no <annotations> root with <meta>)")
    if not os.path.isdir(path):
        return Detection(0.0, f"{path} does not exist")
    candidates = sorted(n for n in os.listdir(path) if n.lower().endswith(".xml"))
    found = [n for n in candidates[:20] if _is_cvat(os.path.join(path, n))]
    if len(found) == 1:
        return Detection(0.9, f"{found[0]} is CVAT for images XML (--annotations-file "
                         f"{found[0]})", options={"annotations_file": os.path.join(path,
                                                                                   found[0])})
    if found:
        return Detection(0.9, f"{len(found)} CVAT XML files ({', '.join(found)}): choose one "
                         "with --annotations-file")
    if candidates:
        return Detection(0.0, f"none of the .xml files in {path} has CVAT's <annotations> root")
    return Detection(0.0, f"no .xml annotation file in {path}")


@hookimpl
def register_formats(register):
    register(FormatSpec(
        name="cvat",
        help="CVAT for images 1.1 XML, task or project export (boxes, polygons, occluded)",
        description=__doc__,
        options=OPTIONS,
        list_items=list_items,
        read_item=read_item,
        detect=detect,
        default_label_map=default_label_map,
        classes=classes,
        outputs=outputs,
        object_fields=frozenset({"occluded"}),
        ordered_classes=True,
    ))
