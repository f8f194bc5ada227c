"""The shipped protobuf schema: vendored .proto sources that protoc compiles into exactly the
shipped descriptors, proven identical to the upstream releases' own compiled descriptors; loaded
lazily into a private pool; and the message classes every reader uses."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from importcheck import modules_loaded

from tfrconv import proto
from tfrconv.protos import compiler, generate, releases, source_printer
from tfrconv.protos.errors import GenerateError

SRC = generate.DEFAULT_SRC


def needs_protoc():
    pytest.importorskip("grpc_tools", reason="protoc comes from grpcio-tools (the test extra)")


def needs_releases():
    missing = [name for name in ("object_detection", "tensorflow")
               if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the releases' generated code is read: {missing} not installed")


@pytest.fixture(scope="module")
def compiled_vendored():
    needs_protoc()
    from google.protobuf import descriptor_pb2

    return descriptor_pb2.FileDescriptorSet.FromString(compiler.compile_sources(SRC)).file


def test_shipped_descriptors_equal_what_the_script_compiles(tmp_path):
    needs_protoc()
    out = tmp_path / "descriptors.binpb"
    done = subprocess.run([sys.executable, "-m", "tfrconv.protos.generate", "compile", "--out",
                           str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open(proto.DESCRIPTORS, "rb") as shipped:
        assert out.read_bytes() == shipped.read(), \
            "run `python -m tfrconv.protos.generate compile` and commit descriptors.binpb"


def test_vendored_sources_compile_to_the_releases_own_descriptors(compiled_vendored):
    # The oracle is each release's generated module, not our printer: message equality of every
    # file, nothing cleared (the compile step leaves out only json_names protoc derives, which
    # the releases' generated code leaves out too).
    needs_releases()
    expected = releases.release_descriptors()
    assert sorted(file.name for file in compiled_vendored) == sorted(expected)
    for file in compiled_vendored:
        assert file == expected[file.name], file.name


def test_vendored_sources_are_what_extract_writes(tmp_path):
    needs_releases()
    done = subprocess.run([sys.executable, "-m", "tfrconv.protos.generate", "extract", "--src",
                           str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = compiler.proto_files(str(tmp_path))
    assert written == compiler.proto_files(SRC)
    for name in written:
        with open(os.path.join(SRC, name), encoding="utf-8") as vendored:
            assert (tmp_path / name).read_text(encoding="utf-8") == vendored.read(), \
                f"run `python -m tfrconv.protos.generate extract`: {name} differs"


def test_every_vendored_file_carries_the_licence_and_its_origin():
    for name in compiler.proto_files(SRC):
        with open(os.path.join(SRC, name), encoding="utf-8") as fileobj:
            head = fileobj.read(2000)
        assert "// Licensed under the Apache License, Version 2.0" in head, name
        assert "Copyright The TensorFlow Authors" in head, name
        assert "// Re-emitted by" in head, name


def test_the_loader_needs_no_sources_and_adds_dependencies_first():
    from google.protobuf import descriptor_pb2

    with open(proto.DESCRIPTORS, "rb") as fileobj:
        files = descriptor_pb2.FileDescriptorSet.FromString(fileobj.read()).file
    seen: set[str] = set()
    for file in files:
        assert set(file.dependency) <= seen, file.name
        assert not file.HasField("source_code_info")
        seen.add(file.name)


# Hand-written sources using what the printer must reproduce beyond what the releases use.
# Oracle: protoc's own compilation of these files; the printer's text must compile back to it.
FEATURES_PROTO2 = r'''
syntax = "proto2";
package demo.v1;
import public "demo/base.proto";
option java_package = "org.demo";
option optimize_for = CODE_SIZE;
option cc_enable_arenas = true;

enum Level {
  option allow_alias = true;
  LOW = 0;
  MINIMUM = 0 [deprecated = true];
  HIGH = 5;
  reserved 2, 3 to 4;
  reserved "MEDIUM";
}

message Outer {
  message Inner { optional int32 x = 1; }
  enum Mode { A = 1; B = 2; }
  optional Mode mode = 1 [default = B];
  message Other { optional int32 y = 1; }
  map<string, Inner> inners = 2;
  message Later {}
  map<int64, Level> levels = 3;
  oneof choice {
    string text = 4 [default = "tab\there \"q\" 'a' back\\slash \001 caf\303\251 ??"];
    bytes blob = 5 [default = "\000\377\"\\x"];
    Later later = 6;
  }
  optional float fi = 7 [default = inf];
  optional float fn = 8 [default = -inf];
  optional double fd = 9 [default = nan];
  optional double tiny = 10 [default = -1.5e-300];
  optional uint64 big = 11 [default = 18446744073709551615];
  optional sint32 neg = 12 [default = -2147483648];
  repeated int32 packed_ints = 13 [packed = true, deprecated = true];
  optional int64 as_string = 14 [jstype = JS_STRING];
  optional string renamed = 15 [json_name = "somethingElse"];
  required bool must = 16 [default = true];
  oneof second { int32 p = 17; Other q = 18; }
  optional .demo.v1.Base base = 19;
  extensions 100, 200 to 299, 1000 to max;
  reserved 20, 30 to 39;
  reserved "gone", "old";
  extend Base { optional Outer outer_ext = 500; }
}

message Shadow {
  message Outer { optional int32 z = 1; }
  optional .demo.v1.Outer.Inner real = 1;
  optional Outer guard = 2;
}

extend Outer {
  optional int32 top_ext = 100;
  repeated string top_list = 1000;
}
extend Base { optional Level level_ext = 501 [default = HIGH]; }
'''

BASE_PROTO = '''
syntax = "proto2";
package demo.v1;
message Base { extensions 500 to 600; }
'''

FEATURES_PROTO3 = '''
syntax = "proto3";
package demo.three;
import "demo/features.proto";
enum Colour { COLOUR_UNSET = 0; RED = 1; }
message Thing {
  optional int32 maybe = 1;
  repeated string names = 2;
  repeated float weights = 3 [packed = false];
  map<string, demo.v1.Outer.Inner> by_name = 4;
  oneof kind { Colour colour = 5; bytes raw = 6; }
  int64 plain = 7;
  optional demo.v1.Base base = 8;
}
'''


def test_the_printer_reproduces_what_protoc_compiled(tmp_path):
    needs_protoc()
    written = tmp_path / "written"
    for name, text in {"demo/base.proto": BASE_PROTO, "demo/features.proto": FEATURES_PROTO2,
                       "demo/three.proto": FEATURES_PROTO3}.items():
        (written / name).parent.mkdir(parents=True, exist_ok=True)
        (written / name).write_text(text)
    original = {f.name: f for f in compiler.protoc_descriptor_set(str(written)).file}

    printed = tmp_path / "printed"
    for name, file in original.items():
        (printed / name).parent.mkdir(parents=True, exist_ok=True)
        (printed / name).write_text(source_printer.proto_source(file, original, ["header"]))
    again = {f.name: f for f in compiler.protoc_descriptor_set(str(printed)).file}
    assert sorted(again) == sorted(original)
    for name, file in original.items():
        assert again[name] == file, (printed / name).read_text()
    shadow = (printed / "demo/features.proto").read_text()
    # In Shadow, `Outer` is Shadow.Outer, so the outer one needs its package to be found.
    assert "optional v1.Outer.Inner real = 1;" in shadow
    assert "optional Outer guard = 2;" in shadow
    assert "optional Mode mode = 1 [default = B];" in shadow      # short where unambiguous


def test_the_printer_refuses_what_it_cannot_express():
    from google.protobuf import descriptor_pb2

    file = descriptor_pb2.FileDescriptorProto(name="x.proto", package="x")
    message = file.message_type.add(name="M")
    message.field.add(name="g", number=1, label=1, type=descriptor_pb2.FieldDescriptorProto.
                      TYPE_GROUP, type_name=".x.M.G")
    with pytest.raises(GenerateError, match="x.M.g: groups"):
        source_printer.proto_source(file, {"x.proto": file}, [])
    custom = descriptor_pb2.FileDescriptorProto(name="y.proto")
    custom.options.MergeFromString(b"\xa0\x1f\x01")           # field 500: a custom option
    with pytest.raises(GenerateError, match="custom options"):
        source_printer.proto_source(custom, {"y.proto": custom}, [])
    editions = descriptor_pb2.FileDescriptorProto(name="z.proto", syntax="editions")
    with pytest.raises(GenerateError, match="syntax 'editions'"):
        source_printer.proto_source(editions, {"z.proto": editions}, [])


def test_default_json_name_follows_protoc():
    assert source_printer.default_json_name("max_number_of_boxes") == "maxNumberOfBoxes"
    assert source_printer.default_json_name("x") == "x"
    assert source_printer.default_json_name("a__b_1c") == "aB1c"


def test_compile_names_the_folder_on_bad_sources(tmp_path):
    needs_protoc()
    done = subprocess.run([sys.executable, "-m", "tfrconv.protos.generate", "compile", "--src",
                           str(tmp_path), "--out", str(tmp_path / "out.binpb")],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {tmp_path}: no .proto files"
    (tmp_path / "bad.proto").write_text('syntax = "proto2";\nmessage M { optional Nope x = 1; }\n')
    with pytest.raises(GenerateError, match="protoc failed"):
        compiler.compile_sources(str(tmp_path))
    assert not (tmp_path / "out.binpb").exists()


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
def test_release_reader_reads_both_styles_of_generated_code(tmp_path, call):
    module = tmp_path / "x_pb2.py"
    module.write_text("from google.protobuf import descriptor as _descriptor\n"
                      f"DESCRIPTOR = {call.format(repr(b'serialized'))}\n")
    assert releases.serialized_descriptor(str(module)) == b"serialized"


def test_release_reader_refuses_a_module_without_one_descriptor(tmp_path):
    module = tmp_path / "x_pb2.py"
    module.write_text("DESCRIPTOR = None\n")
    with pytest.raises(GenerateError, match="found 0"):
        releases.serialized_descriptor(str(module))


def test_release_reader_names_a_missing_release(monkeypatch):
    monkeypatch.setattr(releases.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(GenerateError, match="pip install --no-deps"):
        releases.generated_module_path("object_detection/protos/pipeline.proto")
    with pytest.raises(GenerateError, match="no known release"):
        releases.generated_module_path("other/thing.proto")
