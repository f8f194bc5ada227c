"""Pascal VOC: `tfrconv voc --data-dir VOCdevkit --year VOC2012 --set val --output val.record`.

Reads a VOCdevkit (VOC2007/, VOC2012/), a plain folder with Annotations/ and JPEGImages/ (CVAT's
and Datumaro's exports; Label Studio's has images/), or, with --xml-beside-images, a folder
where each XML sits beside its image in any subfolder (labelImg, Roboflow's VOC export).
Features equal the reference `create_pascal_tf_record.py` on clean VOC data; where the reference
fails users this reader does what they want: PNG images, missing pose/truncated/difficult, float
coordinates, XML with an encoding declaration, image lists without the per-class
aeroplane_<set>.txt files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from tfrconv import (
    DataError,
    Detection,
    FormatSpec,
    Object,
    Option,
    Sample,
    UsageError,
    hookimpl,
    open_dataset_file,
    parse_annotation_xml,
    parse_annotation_xml_fast,
    read_annotation_file,
    xml_children,
    xml_line,
    xml_number,
    xml_text,
)

YEARS = ("VOC2007", "VOC2012")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")

OPTIONS = (
    Option("data_dir", "a VOCdevkit folder (holding VOC2007/, VOC2012/), or one folder with "
           "Annotations/ and JPEGImages/", "path", required=True, metavar="DIR"),
    Option("year", "VOC2007, VOC2012 or merged (both); default: the only year present", "str",
           metavar="YEAR"),
    Option("set", "image set to convert: ImageSets/Main/<set>.txt, e.g. train, val, trainval, "
           "test (default train; with no ImageSets folder, every annotation)", "str",
           metavar="SET"),
    Option("annotations_dir", "annotation folder inside the dataset folder", "str",
           default="Annotations", metavar="NAME"),
    Option("images_dir", "image folder inside the dataset folder", "str", default="JPEGImages",
           metavar="NAME"),
    Option("ignore_difficult_instances", "drop objects marked difficult", "bool", default=False),
    Option("xml_beside_images", "each annotation XML sits beside its image, in any subfolder "
           "(labelImg, Roboflow's VOC export): no Annotations/ or image folder", "bool",
           default=False),
)
LIST_SKIP = 5000                   # entries a detector looks at, at most, in a labelImg tree


# -- layout --------------------------------------------------------------------------------
def dataset_dirs(opts) -> list[str]:
    """The folder(s) holding Annotations/: the data dir itself, or its year folders."""
    root = opts.data_dir
    if not os.path.isdir(root):
        raise UsageError(f"--data-dir {root}: no such folder")
    if opts.xml_beside_images or os.path.isdir(os.path.join(root, opts.annotations_dir)):
        return [root]
    present = [y for y in YEARS if os.path.isdir(os.path.join(root, y))] + sorted(
        d for d in os.listdir(root) if d.startswith("VOC") and d not in YEARS
        and os.path.isdir(os.path.join(root, d, opts.annotations_dir)))
    year = opts.year
    if year == "merged":
        chosen = [y for y in YEARS if y in present]
        if not chosen:
            raise UsageError(f"--year merged: no VOC2007/ or VOC2012/ in {root}")
    elif year:
        if not os.path.isdir(os.path.join(root, year)):
            found = ", ".join(present) or "none"
            raise UsageError(f"--year {year}: no folder {os.path.join(root, year)} "
                             f"(years found: {found})")
        chosen = [year]
    elif len(present) == 1:
        chosen = present
    elif present:
        raise UsageError(f"{root} holds {', '.join(present)}: choose one with --year "
                         f"({'|'.join(present)}|merged)")
    else:
        raise UsageError(f"--data-dir {root}: no {opts.annotations_dir}/ folder and no "
                         "VOC2007/ or VOC2012/ inside (see `tfrconv detect-format`)")
    return [os.path.join(root, y) for y in chosen]


def image_ids(folder: str, opts) -> list[str] | _IdFile:
    """Ids to convert: ImageSets/Main/<set>.txt, else the per-class <class>_<set>.txt files,
    else (no ImageSets at all) every annotation file."""
    if opts.xml_beside_images:
        return beside_ids(folder)
    main = os.path.join(folder, "ImageSets", "Main")
    wanted = opts.set or only_set(main) or "train"
    if not os.path.isdir(main):
        annotations = os.path.join(folder, opts.annotations_dir)
        return sorted(name[:-4] for name in os.listdir(annotations) if name.endswith(".xml"))
    listing = os.path.join(main, wanted + ".txt")
    if os.path.isfile(listing):
        return _IdFile(listing)
    per_class = sorted(n for n in os.listdir(main) if n.endswith(f"_{wanted}.txt"))
    if per_class:
        ids: dict[str, None] = {}
        for name in per_class:
            ids.update(dict.fromkeys(_read_ids(os.path.join(main, name))))
        return list(ids)
    sets = sorted({n[:-4].rsplit("_", 1)[-1] for n in os.listdir(main) if n.endswith(".txt")})
    raise UsageError(f"--set {wanted}: no {listing} (sets found: {', '.join(sets) or 'none'})")


def image_sets(main: str) -> list[str]:
    """The whole-set lists of ImageSets/Main (train, val, CVAT's default ...), not the
    per-class <class>_<set>.txt ones."""
    try:
        names = os.listdir(main)
    except OSError:
        return []
    return sorted(n[:-4] for n in names if n.endswith(".txt") and "_" not in n[:-4])


def only_set(main: str) -> str | None:
    """The set to convert when none is named and there is no train list: the only one (CVAT
    exports a dataset without subsets as ImageSets/Main/default.txt)."""
    sets = image_sets(main)
    return sets[0] if len(sets) == 1 and "train" not in sets else None


def beside_ids(root: str) -> list[str]:
    """Every annotation XML under `root`, any depth, as its path without .xml relative to root
    (hidden folders skipped), sorted."""
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        relative = os.path.relpath(folder, root)
        for name in names:
            if name.endswith(".xml") and not name.startswith("."):
                stem = name[:-4]
                found.append(stem if relative == "." else os.path.join(relative, stem))
    return sorted(found)


def _read_ids(path: str) -> list[str]:
    return list(_IdFile(path))


class _IdFile:
    """The ids of an image list, read as they are used: a list of millions of images costs no
    memory. Counting them (len) reads the file once, which also reports an unreadable one."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._count = sum(1 for _ in self)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        try:
            with open_dataset_file(self.path, encoding="utf-8-sig") as fileobj:
                for line in fileobj:
                    if line.strip():
                        yield line.split()[0]
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the image list: {exc}", file=self.path) from None


class _Items:
    """(folder, image id) for every id of every dataset folder, streamed; len() for progress."""

    def __init__(self, parts: list[tuple[str, list[str] | _IdFile]]) -> None:
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(ids) for _folder, ids in self.parts)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for folder, ids in self.parts:
            for image_id in ids:
                yield folder, image_id


def list_items(opts):
    return _Items([(folder, image_ids(folder, opts)) for folder in dataset_dirs(opts)])


# -- reading -------------------------------------------------------------------------------
_CORNERS = ("xmin", "ymin", "xmax", "ymax")


def join(folder: str, name: str) -> str:
    """`os.path.join(folder, name)` of two strings, without its generic checks: posixpath's
    join cost ~8,500 instructions a call, and reading one item joins four times."""
    if os.sep != "/" or name.startswith("/"):
        return os.path.join(folder, name)
    return folder + name if not folder or folder.endswith("/") else folder + "/" + name


def _exists(path: str) -> bool:
    """`os.path.exists`, one call fewer (it is Python code around os.stat)."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def read_item(item, opts) -> Sample:
    folder, image_id = item
    annotations = folder if opts.xml_beside_images else join(folder, opts.annotations_dir)
    path = join(annotations, image_id + ".xml")
    # An id from an image list ("../../outside/evil") must not reach outside the folder.
    data = read_annotation_file(path, root=annotations)
    root = parse_annotation_xml_fast(data)      # expat: plain files, walked cheaply
    if root is not None:
        try:
            return _sample(root, folder, image_id, path, opts)
        except DataError:
            pass                       # told again by the lxml reading, with the line
    return _sample(parse_annotation_xml(path, data), folder, image_id, path, opts)


def _sample(root, folder: str, image_id: str, path: str, opts) -> Sample:
    fields: dict = {}
    objects = []
    skip_difficult = opts.ignore_difficult_instances
    for child in root:                 # one pass: the fields, and the objects in order
        if child.tag == "object":
            obj = _read_object(child, path, skip_difficult)
            if obj is not None:
                objects.append(obj)
        else:
            fields[child.tag] = child
    filename = xml_text(fields.get("filename")) or image_id + ".jpg"
    width = height = None
    if "size" in fields:
        size = xml_children(fields["size"])
        width = xml_number(size.get("width"), "width", path, int) or None
        height = xml_number(size.get("height"), "height", path, int) or None
    if opts.xml_beside_images:
        # The image beside the XML; its path in the tree is the id, so two folders may each
        # hold an img001.jpg.
        images = os.path.dirname(path)
        image_path = _find_image(images, filename, os.path.basename(image_id))
        source_id = os.path.relpath(image_path, folder).replace(os.sep, "/")
        return Sample(source_id=source_id, filename=filename, image_path=image_path,
                      width=width, height=height, objects=objects, origin=path,
                      image_root=folder)
    images = join(folder, opts.images_dir)
    return Sample(source_id=filename, filename=filename,
                  image_path=_find_image(images, filename, image_id), width=width,
                  height=height, objects=objects, origin=path, image_root=images)


def _read_object(element, path: str, skip_difficult: bool) -> Object | None:
    obj = {child.tag: child for child in element}    # xml_children, inlined: per object
    difficult = bool(xml_number(obj.get("difficult"), "difficult", path, int))
    if difficult and skip_difficult:
        return None
    name = xml_text(obj.get("name"))
    if not name:
        raise DataError("an <object> has no <name>", file=path, line=xml_line(element))
    box = obj.get("bndbox")
    if box is None:
        raise DataError(f"object {name!r} has no <bndbox>", file=path, line=xml_line(element))
    corners = {child.tag: child for child in box}
    try:                               # the usual box: four numbers, read without a call each
        coords = [float(corners[tag].text) for tag in _CORNERS]
    except (KeyError, TypeError, ValueError):
        coords = [xml_number(corners.get(tag), tag, path) for tag in _CORNERS]
        if None in coords:
            raise DataError(f"object {name!r}: <bndbox> needs xmin, ymin, xmax and ymax",
                            file=path, line=xml_line(box)) from None
    return Object(name, *coords, difficult=difficult,
                  truncated=xml_number(obj.get("truncated"), "truncated", path, int) or 0,
                  pose=xml_text(obj.get("pose")) or "Unspecified")


def _find_image(images: str, filename: str, image_id: str) -> str:
    """The XML's file name in the image folder; else the annotation's id with any image
    extension (annotation tools often record a stale name). The XML <folder> is not trusted."""
    primary = join(images, filename)
    if _exists(primary):
        return primary
    for stem in dict.fromkeys((os.path.splitext(filename)[0], image_id)):
        for extension in IMAGE_EXTENSIONS:
            candidate = os.path.join(images, stem + extension)
            if os.path.exists(candidate):
                return candidate
    return primary


# -- label map and detection ---------------------------------------------------------------
def default_label_map(opts):
    """A label_map.pbtxt shipped with the dataset (as `tfrconv sample` writes), else pascal.
    One that is there but unusable (a dangling symlink, a device) is an error, never "absent":
    falling back to pascal would change every class id without a word."""
    candidates = [os.path.join(opts.data_dir, "label_map.pbtxt")]
    try:
        candidates += [os.path.join(d, "label_map.pbtxt") for d in dataset_dirs(opts)]
    except UsageError:
        pass
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
        if os.path.lexists(candidate):
            raise DataError("the dataset's label map is not a readable regular file (a "
                            "dangling symlink, a folder or a device?); fix it or give "
                            "--label-map", file=candidate)
    return "pascal"


def detect(path: str) -> Detection:
    folders = [path] + [os.path.join(path, y) for y in YEARS]
    if os.path.isdir(path):
        folders += [os.path.join(path, d) for d in sorted(os.listdir(path)) if d.startswith("VOC")]
    for folder in folders:
        annotations = os.path.join(folder, "Annotations")
        if not os.path.isdir(annotations):
            continue
        xmls = [n for n in sorted(os.listdir(annotations)) if n.endswith(".xml")][:5]
        if not xmls:
            return Detection(0.0, f"{annotations} has no .xml files")
        try:
            parse_annotation_xml(os.path.join(annotations, xmls[0]))
        except DataError as exc:
            return Detection(0.0, f"{exc}")
        has_images = os.path.isdir(os.path.join(folder, "JPEGImages"))
        has_sets = os.path.isdir(os.path.join(folder, "ImageSets", "Main"))
        confidence = 0.6 + 0.2 * has_images + 0.2 * has_sets
        if not has_images and os.path.isdir(os.path.join(folder, "images")):
            # Label Studio's VOC export: Annotations/ and images/
            return Detection(0.8, f"{annotations} holds VOC <annotation> XML; images in "
                             "images/ (Label Studio's layout)", options={"images_dir": "images"})
        return Detection(confidence, f"{annotations} holds VOC <annotation> XML"
                         + ("" if has_images else "; no JPEGImages/ folder"))
    beside = _detect_beside(path)
    if beside is not None:
        return beside
    return Detection(0.0, "no Annotations/ folder (nor VOC2007/, VOC2012/ holding one), and no "
                     "annotation XML beside images (labelImg)")


def _detect_beside(path: str) -> Detection | None:
    """labelImg's layout: <annotation> XML files beside images of the same name, at any depth.
    Looks at a bounded number of entries, so a huge tree costs no more than a small one."""
    if not os.path.isdir(path):
        return None
    seen = 0
    xml_count = 0
    first = None
    for folder, subfolders, names in os.walk(path):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        seen += len(names)
        stems = {os.path.splitext(n)[0] for n in names
                 if n.endswith(IMAGE_EXTENSIONS)}
        for name in sorted(names):
            if name.endswith(".xml") and name[:-4] in stems:
                xml_count += 1
                first = first or os.path.join(folder, name)
        if seen > LIST_SKIP:
            break
    if first is None:
        return None
    try:
        parse_annotation_xml(first)
    except DataError as exc:
        return Detection(0.0, f"XML beside images, but not VOC annotation XML: {exc}")
    shown = os.path.relpath(first, path)
    return Detection(0.8, f"{xml_count}{'+' if seen > LIST_SKIP else ''} annotation XML files "
                     f"beside their images (labelImg layout; first: {shown})",
                     options={"xml_beside_images": True})


def splits(path: str) -> dict[str, dict]:
    """The image sets of a VOC folder as splits (train, val, test; CVAT's default), for a
    whole-dataset conversion; trainval is left out when train and val are both there (it is
    their union). {} for a VOCdevkit with years or a folder without sets."""
    found = detect(path)
    if not found.matched or found.options.get("xml_beside_images") \
            or not os.path.isdir(os.path.join(path, "Annotations")):
        return {}
    sets = image_sets(os.path.join(path, "ImageSets", "Main"))
    if "train" in sets and "val" in sets:
        sets = [s for s in sets if s != "trainval"]
    return {name: {"data_dir": path, "set": name, **found.options} for name in sets}


@hookimpl
def register_formats(register):
    register(FormatSpec(
        name="voc",
        help="Pascal VOC XML (VOCdevkit, labelImg, CVAT exports)",
        description=__doc__,
        options=OPTIONS,
        list_items=list_items,
        read_item=read_item,
        detect=detect,
        splits=splits,
        default_label_map=default_label_map,
        object_fields=frozenset({"difficult", "truncated", "pose"}),
    ))
