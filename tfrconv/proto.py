"""The one place protobuf message classes come from: the shipped upstream descriptors.

`protos/descriptors.binpb` holds the OD API's and TensorFlow's own compiled descriptors
(`tfrconv.protos.generate` writes it; NOTICE.md says which releases). They are loaded, on first
use, into a private descriptor pool, so they never clash with TensorFlow's or the OD API's
generated classes in the same process, and no generated code tied to one protobuf version is
needed. Classes serve reading records (`tf.train.Example`), label maps the small tokenizer leaves
to protobuf (`StringIntLabelMap`) and pipeline configs (`TrainEvalPipelineConfig`). Nothing on
the conversion path of plain label maps, nor `tfrconv --help`, imports this module.
"""

from __future__ import annotations

import os
from functools import cache

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

DESCRIPTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "protos",
                           "descriptors.binpb")


@cache
def _pool() -> descriptor_pool.DescriptorPool:
    with open(DESCRIPTORS, "rb") as fileobj:
        files = descriptor_pb2.FileDescriptorSet.FromString(fileobj.read()).file
    pool = descriptor_pool.DescriptorPool()   # private: never the default pool
    for file in files:                        # dependencies come first in the set
        pool.Add(file)
    return pool


def message_descriptor(full_name: str):
    """The Descriptor of a message by full name (`object_detection.protos.TrainConfig`);
    KeyError when the shipped descriptors have no such message."""
    return _pool().FindMessageTypeByName(full_name)


def message_class(full_name: str):
    """The message class of a message by full name."""
    return message_factory.GetMessageClass(message_descriptor(full_name))


def example_class():
    """`tf.train.Example` (tensorflow/core/example/example.proto)."""
    return message_class("tensorflow.Example")


def label_map_class():
    """The OD API's `StringIntLabelMap` (object_detection/protos/string_int_label_map.proto)."""
    return message_class("object_detection.protos.StringIntLabelMap")


def pipeline_class():
    """The OD API's `TrainEvalPipelineConfig` (object_detection/protos/pipeline.proto)."""
    return message_class("object_detection.protos.TrainEvalPipelineConfig")
