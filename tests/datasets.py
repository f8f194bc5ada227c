"""A tiny valid dataset in every builtin format's own layout, the broken cases the generic tests
inject, and what a correct conversion must write, worked out from the dataset alone.

One neutral description (`Picture`s with pixel boxes of two known classes) is written by one
`Layout` per format in that format's real layout (docs/formats/*.md). The generic guarantee tests
(sharding, publish, manifest, policies, duplicate ids) are parametrized over `FORMATS` and use
only the public API. Their oracles live here and never call tfrconv: the shard of an example is
computed from docs/output.md's rule (BLAKE2b of the source id, 8 bytes, big-endian, modulo N)
or from the format's documented reference rule (COCO: position in images[]; Open Images: a hex
ImageID's value; Pets: the index in its split list).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
from dataclasses import dataclass, field

A, B, UNKNOWN = "a", "b", "unknown"          # neutral classes; each layout names them its way


@dataclass(frozen=True)
class Box:
    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    boxes: tuple[Box, ...] = ()
    missing: bool = False                  # the image file is not written
    same_id_as: int | None = None          # its annotation names another picture's id


def standard_pictures() -> list[Picture]:
    """Six images of different sizes: two boxes, one box each of A or B, and a negative."""
    return [
        Picture(32, 24, (Box(A, 2, 2, 12, 10), Box(A, 14, 6, 30, 22))),
        Picture(28, 20, (Box(B, 1, 1, 20, 19),)),
        Picture(24, 24, (Box(A, 4, 4, 20, 20),)),
        Picture(36, 20, (Box(B, 10, 2, 30, 18),)),
        Picture(20, 16),
        Picture(30, 26, (Box(A, 0, 0, 30, 26),)),
    ]


# -- the broken cases: each returns a new list ----------------------------------------------
BAD_BOX_PICTURES = (1, 3)


def with_bad_box(pictures: list[Picture], which=BAD_BOX_PICTURES[:1]) -> list[Picture]:
    """The first box of each chosen picture reaches 10 px past the right edge (far beyond the
    box tolerance): clipped, its xmax becomes exactly 1."""
    out = list(pictures)
    for index in which:
        picture = out[index]
        first = dataclasses.replace(picture.boxes[0], xmax=picture.width + 10)
        out[index] = dataclasses.replace(picture, boxes=(first, *picture.boxes[1:]))
    return out


def with_unknown_class(pictures: list[Picture], index: int = 3) -> list[Picture]:
    """The one box of picture `index` gets a class that is not in the label map."""
    out = list(pictures)
    (box,) = out[index].boxes
    out[index] = dataclasses.replace(out[index], boxes=(dataclasses.replace(box, label=UNKNOWN),))
    return out


def with_missing_image(pictures: list[Picture], index: int = 1) -> list[Picture]:
    out = list(pictures)
    out[index] = dataclasses.replace(out[index], missing=True)
    return out


def with_duplicate_id(pictures: list[Picture], original: int = 4, copy: int = 5) -> list[Picture]:
    """Picture `copy` becomes a second annotation of picture `original` (same id, same data)."""
    out = list(pictures)
    out[copy] = dataclasses.replace(out[original], same_id_as=original)
    return out


# -- what a correct conversion writes --------------------------------------------------------
def blake2b_shard(source_id: str, num_shards: int) -> int:
    """docs/output.md's rule, computed here independently of tfrconv.sharding."""
    digest = hashlib.blake2b(source_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % num_shards


def shard_files(record: str, num_shards: int) -> list[str]:
    """The OD API's shard names (docs/output.md)."""
    if num_shards == 1:
        return [record]
    return [f"{record}-{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]


def sidecar(record: str, suffix: str) -> str:
    """`out/x.record` → `out/x.<suffix>` (manifest.json, label_map.pbtxt)."""
    return record[: -len(".record")] + "." + suffix


@dataclass
class Expected:
    """Per picture written: its split, source id and shard; per split: the record path."""

    outputs: dict[str | None, str]
    split: dict[int, str | None] = field(default_factory=dict)
    source_id: dict[int, str] = field(default_factory=dict)
    shard: dict[int, int] = field(default_factory=dict)

    def ids_by_split(self) -> dict[str | None, list[str]]:
        by_split: dict[str | None, list[str]] = {split: [] for split in self.outputs}
        for index, split in self.split.items():
            by_split[split].append(self.source_id[index])
        return by_split


# -- one layout per format -------------------------------------------------------------------
def write_jpeg(path: str, width: int, height: int, seed: int) -> None:
    from PIL import Image

    os.makedirs(os.path.dirname(path), exist_ok=True)
    colour = (40 * seed % 256, 255 - 30 * seed % 256, 90)
    Image.new("RGB", (width, height), colour).save(path, format="JPEG")


def write_label_map(path: str, names: list[str]) -> str:
    with open(path, "w", encoding="utf-8") as fileobj:
        fileobj.write("".join(f"item {{ id: {i} name: '{n}' }}\n"
                              for i, n in enumerate(names, start=1)))
    return path


def voc_xml(filename: str, picture: Picture, names: dict[str, str]) -> str:
    objects = "".join(
        f"<object><name>{names[b.label]}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>0</difficult><bndbox><xmin>{b.xmin}</xmin><ymin>{b.ymin}</ymin>"
        f"<xmax>{b.xmax}</xmax><ymax>{b.ymax}</ymax></bndbox></object>" for b in picture.boxes)
    return (f"<annotation><filename>{filename}</filename><size><width>{picture.width}</width>"
            f"<height>{picture.height}</height><depth>3</depth></size>{objects}</annotation>")


class Layout:
    """Writes pictures in one format's layout; knows that format's ids and shard rule."""

    name: str
    names: dict[str, str]                  # neutral class → the format's class name
    pictures: list[Picture]                # set by `make`
    duplicate_ids: str | None = None       # why the format cannot express them, if it cannot

    def write(self, root: str, pictures: list[Picture]) -> dict:
        """Write the dataset; return the format's options (label map included)."""
        raise NotImplementedError

    def output_options(self, out_dir: str) -> dict:
        return {"output": os.path.join(out_dir, "data.record")}

    def outputs(self, out_dir: str) -> dict[str | None, str]:
        return {None: os.path.join(out_dir, "data.record")}

    def source_id(self, index: int) -> str:
        return self.stem(index) + ".jpg"

    def stem(self, index: int) -> str:
        return f"img{index}"

    def expected(self, pictures: list[Picture], out_dir: str, num_shards: int) -> Expected:
        """Every picture the conversion keeps (not missing, not a repeated id)."""
        result = Expected(self.outputs(out_dir))
        for index, split, key in self.order(pictures):
            picture = pictures[index]
            if picture.missing or picture.same_id_as is not None:
                continue
            result.split[index] = split
            result.source_id[index] = self.source_id(index)
            if num_shards == 1:
                result.shard[index] = 0
            elif key is not None:
                result.shard[index] = key % num_shards
            else:
                result.shard[index] = blake2b_shard(self.source_id(index), num_shards)
        return result

    def order(self, pictures: list[Picture]):
        """(picture index, split, shard key or None) in input order."""
        return [(index, None, None) for index in range(len(pictures))]

    def annotation_file(self, root: str, index: int) -> str:
        raise NotImplementedError

    def label_map(self, root: str) -> str:
        return write_label_map(os.path.join(root, "label_map.pbtxt"),
                               [self.names[A], self.names[B]])


class Voc(Layout):
    name = "voc"
    names = {A: "cat", B: "dog", UNKNOWN: "zebra"}

    def write(self, root, pictures):
        for index, picture in enumerate(pictures):
            own = index if picture.same_id_as is None else picture.same_id_as
            if not picture.missing:
                write_jpeg(os.path.join(root, "JPEGImages", self.source_id(index)),
                           picture.width, picture.height, index)
            path = self.annotation_file(root, index)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fileobj:
                fileobj.write(voc_xml(self.source_id(own), picture, self.names))
        return {"data_dir": root, "label_map": self.label_map(root)}

    def annotation_file(self, root, index):
        return os.path.join(root, "Annotations", self.stem(index) + ".xml")


class Coco(Layout):
    name = "coco"
    names = {A: "cat", B: "dog", UNKNOWN: "zebra"}

    def write(self, root, pictures):
        categories = [{"id": i, "name": self.names[k]} for i, k in
                      enumerate((A, B, UNKNOWN), start=1)]
        category = {k: i for i, k in enumerate((A, B, UNKNOWN), start=1)}
        images, annotations = [], []
        for index, picture in enumerate(pictures):
            if not picture.missing:
                write_jpeg(os.path.join(root, "val2017", self.file_name(index)),
                           picture.width, picture.height, index)
            own = index if picture.same_id_as is None else picture.same_id_as
            images.append({"id": self.image_id(own), "file_name": self.file_name(index),
                           "width": picture.width, "height": picture.height})
            if picture.same_id_as is not None:
                continue                   # the same image id: its boxes are already listed
            for box in picture.boxes:
                annotations.append({
                    "id": len(annotations) + 1, "image_id": self.image_id(index),
                    "category_id": category[box.label], "iscrowd": 0,
                    "bbox": [box.xmin, box.ymin, box.xmax - box.xmin, box.ymax - box.ymin]})
        path = self.annotation_file(root, 0)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fileobj:
            json.dump({"images": images, "annotations": annotations,
                       "categories": categories}, fileobj)
        return {"annotations_file": path, "label_map": self.label_map(root)}

    @staticmethod
    def image_id(index: int) -> int:
        return 100 + 7 * index

    @staticmethod
    def file_name(index: int) -> str:
        return f"{index:012d}.jpg"

    def source_id(self, index):
        return str(self.image_id(index))

    def order(self, pictures):
        return [(index, None, index) for index in range(len(pictures))]   # position in images[]

    def annotation_file(self, root, index):
        return os.path.join(root, "annotations", "instances_val2017.json")


class Csv(Layout):
    name = "csv"
    names = {A: "raccoon", B: "squirrel", UNKNOWN: "zebra"}
    duplicate_ids = ("the source id is the file name, and all rows naming a file make one "
                     "example: two examples can never share it")

    def write(self, root, pictures):
        rows = ["filename,width,height,class,xmin,ymin,xmax,ymax"]
        for index, picture in enumerate(pictures):
            name = self.source_id(index)
            if not picture.missing:
                write_jpeg(os.path.join(root, "images", name), picture.width, picture.height,
                           index)
            size = f"{name},{picture.width},{picture.height}"
            rows += [f"{size},{self.names[b.label]},{b.xmin},{b.ymin},{b.xmax},{b.ymax}"
                     for b in picture.boxes] or [f"{size},,,,,"]
        path = self.annotation_file(root, 0)
        with open(path, "w", encoding="utf-8") as fileobj:
            fileobj.write("\n".join(rows) + "\n")
        return {"csv_file": path, "image_dir": os.path.join(root, "images"),
                "label_map": self.label_map(root)}

    def order(self, pictures):         # examples in file-name order (the script's groupby)
        return sorted(((i, None, None) for i in range(len(pictures))),
                      key=lambda entry: self.source_id(entry[0]))

    def annotation_file(self, root, index):
        return os.path.join(root, "labels.csv")


class Kitti(Layout):
    name = "kitti"
    names = {A: "car", B: "pedestrian", UNKNOWN: "tram"}
    duplicate_ids = ("the source id is the image's file name, unique in its folder, and a "
                     "label file without its image is named by its own frame")

    def write(self, root, pictures):
        labels = os.path.join(root, "training", "label_2")
        os.makedirs(labels, exist_ok=True)
        for index, picture in enumerate(pictures):
            if not picture.missing:
                write_jpeg(os.path.join(root, "training", "image_2", self.source_id(index)),
                           picture.width, picture.height, index)
            with open(self.annotation_file(root, index), "w") as fileobj:
                fileobj.write("".join(
                    f"{self.names[b.label].title()} 0.00 0 -1.50 {b.xmin} {b.ymin} {b.xmax} "
                    f"{b.ymax} 1.50 1.60 3.90 1.00 1.70 12.00 0.25\n" for b in picture.boxes))
        kinds = [self.names[A], self.names[B]]
        if any(b.label == UNKNOWN for p in pictures for b in p.boxes):
            kinds.append(self.names[UNKNOWN])       # chosen with --classes, not in the map
        return {"data_dir": root, "classes": ",".join(kinds), "validation_set_size": 0,
                "label_map": self.label_map(root)}

    def stem(self, index):
        return f"{index:06d}"

    def source_id(self, index):
        return self.stem(index) + ".jpg"

    def outputs(self, out_dir):        # validation size 0: everything in train, val empty
        return {split: os.path.join(out_dir, f"data_{split}.record")
                for split in ("train", "val")}

    def order(self, pictures):
        return [(index, "train", None) for index in range(len(pictures))]

    def annotation_file(self, root, index):
        return os.path.join(root, "training", "label_2", self.stem(index) + ".txt")


class Oid(Layout):
    name = "oid"
    names = {A: "/m/0aaaa", B: "/m/0bbbb", UNKNOWN: "/m/0zzzz"}
    duplicate_ids = ("items are the image files of --images-dir, one per ImageID (a .jpg wins "
                     "over other files of the same id): an id cannot come twice")

    def write(self, root, pictures):
        rows = ["ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax"]
        for index, picture in enumerate(pictures):
            if not picture.missing:
                write_jpeg(os.path.join(root, "images", self.source_id(index) + ".jpg"),
                           picture.width, picture.height, index)
            w, h = picture.width, picture.height
            rows += [f"{self.source_id(index)},xclick,{self.names[b.label]},1,{b.xmin / w!r},"
                     f"{b.xmax / w!r},{b.ymin / h!r},{b.ymax / h!r}" for b in picture.boxes]
        path = self.annotation_file(root, 0)
        with open(path, "w", encoding="utf-8") as fileobj:
            fileobj.write("\n".join(rows) + "\n")
        return {"annotations_csv": path, "images_dir": os.path.join(root, "images"),
                "label_map": self.label_map(root)}

    def source_id(self, index):
        # hex ids (sharded by value, as the reference), and one that is not hex (stable hash)
        return f"{0x3c9d1a + 977 * index:016x}" if index != 4 else "not-hex-4"

    def order(self, pictures):
        # Every image file of the folder, in file-name order (a missing file is not listed,
        # its boxes are reported): ids sharded by value when they are hex.
        indices = sorted(range(len(pictures)), key=self.source_id)
        return [(i, None, int(self.source_id(i), 16) if i != 4 else None) for i in indices]

    def annotation_file(self, root, index):
        return os.path.join(root, "boxes.csv")


class Pets(Layout):
    name = "pets"
    names = {A: "Abyssinian", B: "beagle", UNKNOWN: "Zebra"}
    TRAIN_FRACTION, SEED = 0.7, 42

    def write(self, root, pictures):
        listing = []
        for index, picture in enumerate(pictures):
            if not picture.missing:
                write_jpeg(os.path.join(root, "images", self.source_id(index)),
                           picture.width, picture.height, index)
            own = index if picture.same_id_as is None else picture.same_id_as
            path = self.annotation_file(root, index)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fileobj:
                fileobj.write(voc_xml(self.source_id(own), picture, self.names))
            listing.append(f"{self.stem(index)} 1 1 1\n")
        with open(os.path.join(root, "annotations", "trainval.txt"), "w") as fileobj:
            fileobj.write("".join(listing))
        return {"data_dir": root, "label_map": self.label_map(root)}

    def stem(self, index):
        # the breed (the class) comes from the file name: one class per image
        boxes = self.pictures[index].boxes
        return f"{self.names[boxes[0].label if boxes else A]}_{index + 1}"

    def output_options(self, out_dir):
        return {"output_dir": out_dir}

    def outputs(self, out_dir):
        return {split: os.path.join(out_dir, f"pet_faces_{split}.record")
                for split in ("train", "val")}

    def order(self, pictures):
        """docs/formats/pets.md: trainval shuffled by random seeded with 42, the first
        int(0.7 n) train; an image's shard is its index in its split's list."""
        names = list(range(len(pictures)))
        random.Random(self.SEED).shuffle(names)
        cut = int(self.TRAIN_FRACTION * len(names))
        return ([(i, "train", position) for position, i in enumerate(names[:cut])]
                + [(i, "val", position) for position, i in enumerate(names[cut:])])

    def annotation_file(self, root, index):
        return os.path.join(root, "annotations", "xmls", self.stem(index) + ".xml")


LAYOUTS = {layout.name: layout for layout in (Voc(), Coco(), Kitti(), Oid(), Pets(), Csv())}
FORMATS = list(LAYOUTS)


def make(name: str, root, pictures: list[Picture]) -> tuple[Layout, dict]:
    """A fresh layout object for `name`, and the options its written dataset converts with."""
    layout = type(LAYOUTS[name])()
    layout.pictures = pictures         # (Pets names its files by their class)
    return layout, layout.write(str(root), pictures)


def duplicate_params():
    """FORMATS that can express a repeated source id. The others are left out rather than
    skipped: their layouts' `duplicate_ids` say why the case cannot arise, and CI fails on any
    skip."""
    return [name for name in FORMATS if not LAYOUTS[name].duplicate_ids]


# -- running a conversion through the public API ----------------------------------------------
def convert(layout: Layout, options: dict, out_dir, **extra):
    """`tfrconv.convert` on a written dataset (in process unless `workers` is given)."""
    import tfrconv

    extra.setdefault("workers", 1)
    return tfrconv.convert(layout.name, **options, **layout.output_options(str(out_dir)),
                           **extra)


def command_line(layout: Layout, options: dict, out_dir, **extra) -> list[str]:
    """The same conversion as `tfrconv <format> --option value ...` arguments."""
    argv = [layout.name]
    for key, value in {**options, **layout.output_options(str(out_dir)), **extra}.items():
        argv += ["--" + key.replace("_", "-"), str(value)]
    return argv


def source_ids(path: str) -> list[str]:
    """The source ids of a record file, in order, read by tfrconv's strict reader."""
    import tfrconv

    return [features["image/source_id"][0].decode() for features in tfrconv.read_examples(path)]


def snapshot(folder) -> dict[str, bytes]:
    """Every file of a folder (hidden ones included) with its bytes."""
    if not os.path.isdir(folder):
        return {}
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as fileobj:
            out[name] = fileobj.read()
    return out


def expected_files(expected: Expected, num_shards: int) -> list[str]:
    """The names a successful run leaves: shards, manifest and label map of every output."""
    names = []
    for record in expected.outputs.values():
        names += [os.path.basename(p) for p in shard_files(record, num_shards)]
        names += [os.path.basename(sidecar(record, s))
                  for s in ("manifest.json", "label_map.pbtxt")]
    return sorted(names)
