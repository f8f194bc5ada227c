"""The shipped protobuf schema: exactly what the generator makes from the pinned upstream
releases, loaded lazily into a private pool, and the message classes every reader uses."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from importcheck import modules_loaded

from tfrconv import proto
from tfrconv.protos import generate


def test_shipped_descriptors_equal_what_the_generator_writes(tmp_path):
    missing = [name for name in ("object_detection", "tensorflow")
               if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the generator reads the releases' generated code: {missing} not installed")
    out = tmp_path / "descriptors.binpb"
    done = subprocess.run([sys.executable, "-m", "tfrconv.protos.generate", "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open(proto.DESCRIPTORS, "rb") as shipped:
        assert out.read_bytes() == shipped.read(), \
            "run `python -m tfrconv.protos.generate` and commit tfrconv/protos/descriptors.binpb"


def test_classes_live_in_a_private_pool():
    from google.protobuf import descriptor_pool

    for cls in (proto.example_class(), proto.label_map_class(), proto.pipeline_class()):
        assert cls.DESCRIPTOR.file.pool is not descriptor_pool.Default()
    assert proto.example_class().DESCRIPTOR.full_name == "tensorflow.Example"
    assert proto.label_map_class().DESCRIPTOR.file.name == \
        "object_detection/protos/string_int_label_map.proto"
    with pytest.raises(KeyError):
        proto.message_descriptor("object_detection.protos.NoSuchMessage")


def test_example_wire_format_is_tf_train_example():
    # Bytes written by hand from the wire format of example.proto / feature.proto:
    # Example{features: Features{feature: {"k": Feature{int64_list: Int64List{value: [1, 2]}}}}}
    int64_list = b"\x0a\x02\x01\x02"                      # value (packed): 1, 2
    feature = b"\x1a" + bytes([len(int64_list)]) + int64_list
    entry = b"\x0a\x01k" + b"\x12" + bytes([len(feature)]) + feature
    features = b"\x0a" + bytes([len(entry)]) + entry
    data = b"\x0a" + bytes([len(features)]) + features
    example = proto.example_class().FromString(data)
    assert list(example.features.feature["k"].int64_list.value) == [1, 2]
    assert example.SerializeToString(deterministic=True) == data


def test_help_does_not_load_the_descriptors():
    code = ("import runpy, sys\nsys.argv = ['tfrconv', '--help']\ntry:\n"
            "    runpy.run_module('tfrconv', run_name='__main__')\nexcept SystemExit:\n    pass")
    assert modules_loaded(code, ["tfrconv.proto", "google.protobuf"]) == []


@pytest.mark.parametrize("call", ["_descriptor.FileDescriptor(name='x.proto', serialized_pb={})",
                                  "_descriptor_pool.Default().AddSerializedFile({})"])
def test_generator_reads_both_styles_of_generated_code(tmp_path, call):
    module = tmp_path / "x_pb2.py"
    module.write_text("from google.protobuf import descriptor as _descriptor\n"
                      f"DESCRIPTOR = {call.format(repr(b'serialized'))}\n")
    assert generate.serialized_descriptor(str(module)) == b"serialized"


def test_generator_refuses_a_module_without_one_descriptor(tmp_path):
    module = tmp_path / "x_pb2.py"
    module.write_text("DESCRIPTOR = None\n")
    with pytest.raises(generate.GenerateError, match="found 0"):
        generate.serialized_descriptor(str(module))


def test_generator_names_a_missing_release(monkeypatch):
    monkeypatch.setattr(generate.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(generate.GenerateError, match="pip install --no-deps"):
        generate.generated_module_path("object_detection/protos/pipeline.proto")
    with pytest.raises(generate.GenerateError, match="no known release"):
        generate.generated_module_path("other/thing.proto")
