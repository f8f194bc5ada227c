"""Wire-compatible protobuf messages, built at run time: no TensorFlow, no generated code.

`tf.train.Example` and the OD API's `StringIntLabelMap` are declared here field for field and
built in a private descriptor pool. That keeps `import tensorflow` (seconds, hundreds of MB) off
the conversion path, avoids generated code tied to one protobuf version, and cannot clash with
TensorFlow's own classes when both are loaded. The bytes on the wire are the same.
"""

from __future__ import annotations

from functools import cache

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _field(msg, name, number, ftype, label=_F.LABEL_OPTIONAL, type_name=None, packed=None):
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if packed is not None:
        f.options.packed = packed
    return f


def _example_file() -> descriptor_pb2.FileDescriptorProto:
    fd = descriptor_pb2.FileDescriptorProto(name="tfrconv/example.proto", package="tfrconv",
                                            syntax="proto3")
    rep = _F.LABEL_REPEATED
    _field(fd.message_type.add(name="BytesList"), "value", 1, _F.TYPE_BYTES, rep)
    _field(fd.message_type.add(name="FloatList"), "value", 1, _F.TYPE_FLOAT, rep, packed=True)
    _field(fd.message_type.add(name="Int64List"), "value", 1, _F.TYPE_INT64, rep, packed=True)
    feature = fd.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    for number, (name, type_name) in enumerate(
            [("bytes_list", ".tfrconv.BytesList"), ("float_list", ".tfrconv.FloatList"),
             ("int64_list", ".tfrconv.Int64List")], start=1):
        _field(feature, name, number, _F.TYPE_MESSAGE, type_name=type_name).oneof_index = 0
    features = fd.message_type.add(name="Features")
    entry = features.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    _field(entry, "key", 1, _F.TYPE_STRING)
    _field(entry, "value", 2, _F.TYPE_MESSAGE, type_name=".tfrconv.Feature")
    _field(features, "feature", 1, _F.TYPE_MESSAGE, rep, ".tfrconv.Features.FeatureEntry")
    _field(fd.message_type.add(name="Example"), "features", 1, _F.TYPE_MESSAGE,
           type_name=".tfrconv.Features")
    return fd


def _label_map_file() -> descriptor_pb2.FileDescriptorProto:
    # Mirrors object_detection/protos/string_int_label_map.proto (proto2) so text parsing
    # accepts and rejects exactly what the OD API's label-map loader does.
    fd = descriptor_pb2.FileDescriptorProto(name="tfrconv/string_int_label_map.proto",
                                            package="object_detection.protos", syntax="proto2")
    rep = _F.LABEL_REPEATED
    item = fd.message_type.add(name="StringIntLabelMapItem")
    _field(item, "name", 1, _F.TYPE_STRING)
    _field(item, "id", 2, _F.TYPE_INT32)
    _field(item, "display_name", 3, _F.TYPE_STRING)
    keypoint = item.nested_type.add(name="KeypointMap")
    _field(keypoint, "id", 1, _F.TYPE_INT32)
    _field(keypoint, "label", 2, _F.TYPE_STRING)
    _field(item, "keypoints", 4, _F.TYPE_MESSAGE, rep,
           ".object_detection.protos.StringIntLabelMapItem.KeypointMap")
    _field(item, "ancestor_ids", 5, _F.TYPE_INT32, rep)
    _field(item, "descendant_ids", 6, _F.TYPE_INT32, rep)
    freq = item.enum_type.add(name="LVISFrequency")
    for number, name in enumerate(["UNSPECIFIED", "FREQUENT", "COMMON", "RARE"]):
        freq.value.add(name=name, number=number)
    _field(item, "frequency", 7, _F.TYPE_ENUM,
           type_name=".object_detection.protos.StringIntLabelMapItem.LVISFrequency")
    _field(item, "instance_count", 8, _F.TYPE_INT32)
    _field(fd.message_type.add(name="StringIntLabelMap"), "item", 1, _F.TYPE_MESSAGE, rep,
           ".object_detection.protos.StringIntLabelMapItem")
    return fd


@cache
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()   # private: never clashes with TensorFlow's pool
    pool.Add(_example_file())
    pool.Add(_label_map_file())
    return pool


def message_class(full_name: str):
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(full_name))


def example_class():
    """The `tf.train.Example`-compatible message class."""
    return message_class("tfrconv.Example")


def label_map_class():
    """The `StringIntLabelMap`-compatible message class."""
    return message_class("object_detection.protos.StringIntLabelMap")
