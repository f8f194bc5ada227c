"""The vendored `.proto` sources → `descriptors.binpb`, by protoc (grpcio-tools' build of it).

protoc's descriptor set is kept as it is with two exceptions, so the output depends only on the
sources: the files are ordered dependencies first, then by name (the loader adds them in order),
and a field's `json_name` is left out where it is the name protoc derives from the field name.
protoc's descriptor sets carry that derived name on every field; its language generators, and so
the releases' generated modules, carry it only when the source spells out a different one.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2

from tfrconv.protos.errors import GenerateError
from tfrconv.protos.source_printer import default_json_name


def proto_files(src_dir: str) -> list[str]:
    """Every .proto file under `src_dir`, as import paths, sorted."""
    found = []
    for folder, _, names in os.walk(src_dir):
        found += [os.path.relpath(os.path.join(folder, name), src_dir).replace(os.sep, "/")
                  for name in names if name.endswith(".proto")]
    return sorted(found)


def protoc_descriptor_set(src_dir: str) -> descriptor_pb2.FileDescriptorSet:
    """protoc's FileDescriptorSet of every source under `src_dir`, imports included, without
    source info."""
    if importlib.util.find_spec("grpc_tools") is None:
        raise GenerateError("grpcio-tools is not installed (pip install -e '.[dev]')")
    names = proto_files(src_dir)
    if not names:
        raise GenerateError(f"{src_dir}: no .proto files")
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "descriptors.binpb")
        # protoc runs in a process of its own: in-process, grpc_tools' protoc crashed
        # (segfault) once TensorFlow's and Beam's protobuf machinery was loaded beside it.
        done = subprocess.run([sys.executable, "-m", "grpc_tools.protoc",
                               f"--proto_path={src_dir}", "--include_imports",
                               f"--descriptor_set_out={out}",
                               *(os.path.join(src_dir, name) for name in names)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip().splitlines()
            raise GenerateError(f"{src_dir}: protoc failed: "
                                f"{message[0] if message else done.returncode}")
        with open(out, "rb") as fileobj:
            return descriptor_pb2.FileDescriptorSet.FromString(fileobj.read())


def drop_derived_json_names(message: descriptor_pb2.DescriptorProto) -> None:
    for field in [*message.field, *message.extension]:
        if field.json_name == default_json_name(field.name):
            field.ClearField("json_name")
    for nested in message.nested_type:
        drop_derived_json_names(nested)


def dependency_order(files: dict[str, descriptor_pb2.FileDescriptorProto]) -> list[str]:
    """File names, each after the files it imports; otherwise by name."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name not in ordered:
            for dependency in sorted(files[name].dependency):
                visit(dependency)
            ordered.append(name)

    for name in sorted(files):
        visit(name)
    return ordered


def compile_sources(src_dir: str) -> bytes:
    """The serialized descriptor set tfrconv ships, compiled from the sources in `src_dir`."""
    files = {file.name: file for file in protoc_descriptor_set(src_dir).file}
    for file in files.values():
        for extension in file.extension:
            if extension.json_name == default_json_name(extension.name):
                extension.ClearField("json_name")
        for message in file.message_type:
            drop_derived_json_names(message)
    result = descriptor_pb2.FileDescriptorSet(file=[files[n] for n in dependency_order(files)])
    return result.SerializeToString(deterministic=True)
