"""A stand-in for the OD API's create_coco_tf_record.py: the coco-train case's baseline.

The OD API no longer pip-installs cleanly, so this script does per image what the reference does,
with the same libraries, written for this project: the whole annotation file loaded with
`json.load`, annotations grouped by image id in a dict, tf.io.gfile reads, a PIL open of every
image, SHA-256, boxes checked and normalised, masks (with --include_masks) rasterised with
pycocotools' frPyObjects/merge/decode and PNG-encoded with PIL, a tf.train.Example built feature
by feature and written with tf.io.TFRecordWriter. One output file (the reference shards by
position; sharding costs nothing here).
"""

import argparse
import hashlib
import io
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
import tensorflow as tf  # noqa: E402
from pycocotools import mask as mask_api  # noqa: E402


def create_tf_example(image, annotations, image_dir, category_index, include_masks):
    height, width = image["height"], image["width"]
    with tf.io.gfile.GFile(os.path.join(image_dir, image["file_name"]), "rb") as fileobj:
        encoded = fileobj.read()
    PIL.Image.open(io.BytesIO(encoded))
    key = hashlib.sha256(encoded).hexdigest()
    lists = {k: [] for k in ("xmin", "xmax", "ymin", "ymax", "crowd", "names", "ids", "area",
                             "masks")}
    for annotation in annotations:
        x, y, w, h = annotation["bbox"]
        if w <= 0 or h <= 0 or x + w > width or y + h > height:
            continue
        lists["xmin"].append(x / width)
        lists["xmax"].append((x + w) / width)
        lists["ymin"].append(y / height)
        lists["ymax"].append((y + h) / height)
        lists["crowd"].append(annotation["iscrowd"])
        category_id = int(annotation["category_id"])
        lists["ids"].append(category_id)
        lists["names"].append(category_index[category_id]["name"].encode("utf8"))
        lists["area"].append(annotation["area"])
        if include_masks:
            segmentation = annotation["segmentation"]
            if isinstance(segmentation, list):
                rle = mask_api.merge(mask_api.frPyObjects(segmentation, height, width))
            else:
                rle = mask_api.frPyObjects(segmentation, height, width)
            binary = mask_api.decode(rle)
            if binary.ndim == 3:
                binary = np.amax(binary, axis=2)
            png = io.BytesIO()
            PIL.Image.fromarray(binary).save(png, format="PNG")
            lists["masks"].append(png.getvalue())
    ints = lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=v))  # noqa: E731
    floats = lambda v: tf.train.Feature(float_list=tf.train.FloatList(value=v))  # noqa: E731
    blobs = lambda v: tf.train.Feature(bytes_list=tf.train.BytesList(value=v))  # noqa: E731
    feature = {
        "image/height": ints([height]), "image/width": ints([width]),
        "image/filename": blobs([image["file_name"].encode("utf8")]),
        "image/source_id": blobs([str(image["id"]).encode("utf8")]),
        "image/key/sha256": blobs([key.encode("utf8")]), "image/encoded": blobs([encoded]),
        "image/format": blobs([b"jpeg"]),
        "image/object/bbox/xmin": floats(lists["xmin"]),
        "image/object/bbox/xmax": floats(lists["xmax"]),
        "image/object/bbox/ymin": floats(lists["ymin"]),
        "image/object/bbox/ymax": floats(lists["ymax"]),
        "image/object/class/text": blobs(lists["names"]),
        "image/object/is_crowd": ints(lists["crowd"]),
        "image/object/area": floats(lists["area"]),
    }
    if include_masks:
        feature["image/object/mask"] = blobs(lists["masks"])
    return tf.train.Example(features=tf.train.Features(feature=feature))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--annotations_file", required=True)
    parser.add_argument("--image_dir", required=True)
    parser.add_argument("--output_path", required=True)
    parser.add_argument("--include_masks", action="store_true")
    args = parser.parse_args()
    with tf.io.gfile.GFile(args.annotations_file, "r") as fileobj:
        groundtruth = json.load(fileobj)
    category_index = {c["id"]: c for c in groundtruth["categories"]}
    by_image = {}
    for annotation in groundtruth["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    with tf.io.TFRecordWriter(args.output_path) as writer:
        for image in groundtruth["images"]:
            example = create_tf_example(image, by_image.get(image["id"], []), args.image_dir,
                                        category_index, args.include_masks)
            writer.write(example.SerializeToString())


if __name__ == "__main__":
    main()
