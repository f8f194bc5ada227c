"""A stand-in for the OD API's create_pascal_tf_record.py: the benchmark's baseline and the
VOC tests' oracle.

The OD API no longer pip-installs cleanly, so this script does per image what the reference does,
with the same libraries (TensorFlow import, tf.io.gfile reads, PIL format check, lxml parsing of
XML text into a dict, SHA-256, tf.train.Example built feature by feature,
tf.io.TFRecordWriter), written for this project; same flags. `benchmarks/run.py` times it, and
`tests/test_voc.py` compares tfrconv's records with its `dict_to_example`, example by example.
"""

import argparse
import hashlib
import io
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import PIL.Image  # noqa: E402
import tensorflow as tf  # noqa: E402
from lxml import etree  # noqa: E402


def xml_to_dict(element):
    if len(element) == 0:
        return {element.tag: element.text}
    result = {}
    for child in element:
        value = xml_to_dict(child)[child.tag]
        if child.tag == "object":
            result.setdefault("object", []).append(value)
        else:
            result[child.tag] = value
    return {element.tag: result}


def read_annotation(path):
    """The annotation as the reference reads it: XML text into a dict."""
    with tf.io.gfile.GFile(path) as fileobj:
        return xml_to_dict(etree.fromstring(fileobj.read()))["annotation"]


def dict_to_example(data, data_dir, label_map, ignore_difficult_instances=False):
    path = os.path.join(data_dir, data["folder"], "JPEGImages", data["filename"])
    with tf.io.gfile.GFile(path, "rb") as fileobj:
        encoded = fileobj.read()
    if PIL.Image.open(io.BytesIO(encoded)).format != "JPEG":
        raise ValueError("Image format not JPEG")
    key = hashlib.sha256(encoded).hexdigest()
    width, height = int(data["size"]["width"]), int(data["size"]["height"])
    lists = {k: [] for k in ("xmin", "ymin", "xmax", "ymax", "text", "label", "difficult",
                             "truncated", "view")}
    for obj in data.get("object", []):
        difficult = bool(int(obj["difficult"]))
        if ignore_difficult_instances and difficult:
            continue
        lists["difficult"].append(int(difficult))
        for name, size in (("xmin", width), ("ymin", height), ("xmax", width), ("ymax", height)):
            lists[name].append(float(obj["bndbox"][name]) / size)
        lists["text"].append(obj["name"].encode("utf8"))
        lists["label"].append(label_map[obj["name"]])
        lists["truncated"].append(int(obj["truncated"]))
        lists["view"].append(obj["pose"].encode("utf8"))
    ints = lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=v))  # noqa: E731
    floats = lambda v: tf.train.Feature(float_list=tf.train.FloatList(value=v))  # noqa: E731
    blobs = lambda v: tf.train.Feature(bytes_list=tf.train.BytesList(value=v))  # noqa: E731
    name = data["filename"].encode("utf8")
    return tf.train.Example(features=tf.train.Features(feature={
        "image/height": ints([height]), "image/width": ints([width]),
        "image/filename": blobs([name]), "image/source_id": blobs([name]),
        "image/key/sha256": blobs([key.encode("utf8")]), "image/encoded": blobs([encoded]),
        "image/format": blobs([b"jpeg"]),
        "image/object/bbox/xmin": floats(lists["xmin"]),
        "image/object/bbox/xmax": floats(lists["xmax"]),
        "image/object/bbox/ymin": floats(lists["ymin"]),
        "image/object/bbox/ymax": floats(lists["ymax"]),
        "image/object/class/text": blobs(lists["text"]),
        "image/object/class/label": ints(lists["label"]),
        "image/object/difficult": ints(lists["difficult"]),
        "image/object/truncated": ints(lists["truncated"]),
        "image/object/view": blobs(lists["view"]),
    }))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--year", default="VOC2007")
    parser.add_argument("--set", default="train")
    parser.add_argument("--output_path", required=True)
    args = parser.parse_args()
    names = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
             "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
             "sheep", "sofa", "train", "tvmonitor"]
    label_map = {name: index for index, name in enumerate(names, start=1)}
    year_dir = os.path.join(args.data_dir, args.year)
    with open(os.path.join(year_dir, "ImageSets", "Main", args.set + ".txt")) as fileobj:
        ids = [line.split()[0] for line in fileobj if line.strip()]
    with tf.io.TFRecordWriter(args.output_path) as writer:
        for image_id in ids:
            data = read_annotation(os.path.join(year_dir, "Annotations", image_id + ".xml"))
            writer.write(dict_to_example(data, args.data_dir, label_map).SerializeToString())


if __name__ == "__main__":
    main()
