"""Read records back the way the OD API does: its own `TfExampleDecoder`, nothing of ours.

`parse_records(path)` is what tests use to prove the OD API can read a file. Every record is
parsed with the decoder's own `keys_to_features` (wrong types fail there, as they do in training)
and decoded with `TfExampleDecoder.decode`: the image to 3 channels at the stated height and
width, `class/text` resolved through the label map written beside the records (which must give
the written `class/label`, docs/output.md), and `image/object/mask` as PNG or numerical masks,
whichever the records hold. The decoder runs in a child process (tests/odapi_shim.py says why),
started once per test session; each call sends all its records in one request.

Without the OD API (`make setup-test` installs it) these tests skip, and with CI=true a skip fails.
"""

from __future__ import annotations

import atexit
import glob
import os
import pickle
import re
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "odapi_shim.py")
MASK_KEY = "image/object/mask"
SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")
RECORD_SUFFIXES = (".record", ".tfrecord", ".tfrecords")


def tf_feature(kind: str, values) -> object:
    """A `tf.train.Feature` of kind "int", "float" or "bytes", as the OD API's dataset_util
    helpers build them: what the tests' reimplementations of the reference converters use."""
    import tensorflow as tf

    values = list(values)
    if kind == "int":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    if kind == "float":
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def int64_feature(values):
    return tf_feature("int", values)


def float_feature(values):
    return tf_feature("float", values)


def bytes_feature(values):
    return tf_feature("bytes", values)


class DecoderProcess:
    """The child process that hosts the OD API decoder; one request at a time."""

    def __init__(self):
        self.log = tempfile.TemporaryFile()   # noqa: SIM115 - as long as the child lives
        env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python",
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.child = subprocess.Popen([sys.executable, SHIM], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self.log, env=env)
        atexit.register(self.close)
        status, detail = self.receive()
        self.unavailable = detail if status == "unavailable" else None

    def receive(self):
        try:
            return pickle.load(self.child.stdout)
        except EOFError:
            self.log.seek(0)
            tail = self.log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the OD API decoder process died:\n{tail}") from None

    def ask(self, op: str, **request):
        pickle.dump({"op": op, **request}, self.child.stdin)
        self.child.stdin.flush()
        status, answer = self.receive()
        if status != "ok":
            raise AssertionError(f"the OD API's TfExampleDecoder rejects the records: {answer}")
        return answer

    def close(self):
        if self.child.poll() is None:
            self.child.stdin.close()            # end of requests: the child returns
            try:
                self.child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.child.kill()


_process: DecoderProcess | None = None


def decoder_process() -> DecoderProcess:
    """The session's decoder process; the test skips (fails under CI=true) without the OD API."""
    global _process
    if _process is None:
        _process = DecoderProcess()
    if _process.unavailable:
        import pytest

        pytest.skip(f"the OD API's TfExampleDecoder does not import ({_process.unavailable}); "
                    "`make setup-test` installs it")
    return _process


def decoder_keys_to_features(mask_type: str | None = None, **switches) -> dict[str, tuple]:
    """The real decoder's `keys_to_features` as data: key -> ("var", dtype) or
    ("fixed", dtype, shape, default); `switches` are TfExampleDecoder's options
    (`num_keypoints=1`, `load_dense_pose=True`, ...), `mask_type` turns masks on."""
    return decoder_process().ask("spec", mask_type=mask_type, switches=switches)


def feature_spec(tf, extra: dict | None = None):
    """The OD API decoder's own parse spec as TensorFlow specs, plus VarLen `extra` keys
    ({key: "int" | "float" | "bytes"}): what reference records and ours are both parsed with."""
    spec = {}
    for key, described in decoder_keys_to_features().items():
        if described[0] == "var":
            spec[key] = tf.io.VarLenFeature(tf.as_dtype(described[1]))
        else:
            _, dtype, shape, default = described
            spec[key] = tf.io.FixedLenFeature(shape, tf.as_dtype(dtype), default_value=default)
    types = {"bytes": tf.string, "int": tf.int64, "float": tf.float32}
    for key, kind in (extra or {}).items():
        spec[key] = tf.io.VarLenFeature(types[kind])
    return spec


def label_map_beside(path: str) -> str | None:
    """The label map written beside a record file (docs/output.md, "Files beside the output")."""
    base = SHARD_SUFFIX.sub("", path)
    for suffix in RECORD_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
            break
    for candidate in (base + ".label_map.pbtxt",
                      os.path.join(os.path.dirname(path), "label_map.pbtxt")):
        if os.path.isfile(candidate):
            return candidate
    return None


def mask_type_of(record: bytes) -> str | None:
    """The decoder's instance_mask_type for the masks a record holds (None: no masks)."""
    feature = tf_example(record).features.feature.get(MASK_KEY)
    if feature is None:
        return None
    return "PNG_MASKS" if feature.WhichOneof("kind") == "bytes_list" else "NUMERICAL_MASKS"


def read_records(path: str) -> list[bytes]:
    import tensorflow as tf

    return [record.numpy() for record in tf.data.TFRecordDataset(path)]


def decode_file(path: str, extra: dict | None, decode_images: bool) -> list[dict]:
    records = read_records(path)
    if not records:
        return []
    label_map = label_map_beside(path)
    label_map_text = None
    if label_map is not None:
        with open(label_map, encoding="utf-8") as fileobj:
            label_map_text = fileobj.read()
    mask_types = {mask_type_of(record) for record in records} - {None}   # None: no objects
    assert len(mask_types) <= 1, f"{path}: records mix mask kinds {mask_types}"
    answers = decoder_process().ask("decode", records=records, label_map=label_map_text,
                                    mask_type=min(mask_types, default=None),
                                    extra=dict(extra or {}),
                                    decode=decode_images)
    return [values_of(answer, label_map_text is not None, path) for answer in answers]


class Parsed(dict):
    """A record's parsed features, {key: numpy value}; `decoded` holds the decoder's outputs
    (`groundtruth_boxes`, `groundtruth_classes`, ..., the image as its shape), kept out of the
    dict so that tests comparing features with a reference's see features only."""

    decoded: dict = {}


def values_of(answer: dict, with_label_map: bool, path: str) -> Parsed:
    """A record's parsed features, checked against what the decoder made of it."""
    values = Parsed(answer["features"])
    decoded = values.decoded = answer["decoded"]
    if not decoded:
        return values
    values["decoded_shape"] = tuple(decoded["image"])
    height, width = values["image/height"], values["image/width"]
    assert values["decoded_shape"] == (height, width, 3), (path, values["decoded_shape"])
    if with_label_map and len(values["image/object/class/text"]):
        assert list(decoded["groundtruth_classes"]) == list(values["image/object/class/label"]), \
            (path, "class/text resolves through the label map beside the records to "
             f"{list(decoded['groundtruth_classes'])}, class/label says "
             f"{list(values['image/object/class/label'])}")
    if "groundtruth_instance_masks" in decoded:
        masks = decoded["groundtruth_instance_masks"]
        assert masks.shape == (len(values["image/object/bbox/xmin"]), height, width), \
            (path, masks.shape)
    return values


def parse_records(paths, extra: dict | None = None, decode_images: bool = True) -> list[dict]:
    """Parse and decode every record of `paths` (a path, glob or list) with the OD API's
    decoder; per record {feature key: numpy value, "decoded_shape": (h, w, 3)} (`Parsed`)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = sorted(glob.glob(os.fspath(paths)))
    out = []
    for path in paths:
        out.extend(decode_file(os.fspath(path), extra, decode_images))
    return out


def tf_example(record: bytes):
    """The record as TensorFlow's own tf.train.Example."""
    import tensorflow as tf

    return tf.train.Example.FromString(record)
