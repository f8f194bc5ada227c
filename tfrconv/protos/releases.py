"""The compiled descriptors of the pinned upstream releases, read from their generated code.

Neither release ships its `.proto` files, only generated `*_pb2.py` modules, each embedding its
file's serialized FileDescriptorProto. The modules are read as text, never imported, so neither
TensorFlow nor the OD API's old generated code runs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os

from google.protobuf import descriptor_pb2

from tfrconv.protos.errors import GenerateError

# The files whose messages tfrconv uses; their imports come along.
ROOTS = ("object_detection/protos/pipeline.proto",
         "object_detection/protos/string_int_label_map.proto",
         "tensorflow/core/example/example.proto")
# Where each top-level proto folder's generated code comes from (distribution, import name).
SOURCES = {"object_detection": ("tf-models-research-object-detection", "object_detection"),
           "tensorflow": ("tensorflow", "tensorflow")}
# TensorFlow installs as tensorflow-cpu on x86-64 (pyproject.toml's [tf] extra).
DISTRIBUTION_ALIASES = {"tensorflow": ("tensorflow-cpu", "tensorflow")}


def generated_module_path(proto_name: str) -> str:
    """`a/b/c.proto` → the installed `a/b/c_pb2.py` (found without importing the package)."""
    top = proto_name.split("/", 1)[0]
    if top not in SOURCES:
        raise GenerateError(f"{proto_name}: no known release provides it")
    distribution, package = SOURCES[top]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise GenerateError(f"{proto_name}: {package} is not installed (pip install "
                            f"--no-deps {distribution})")
    site = os.path.dirname(list(spec.submodule_search_locations)[0])
    path = os.path.join(site, proto_name[:-len(".proto")] + "_pb2.py")
    if not os.path.isfile(path):
        raise GenerateError(f"{proto_name}: {path} does not exist")
    return path


def serialized_descriptor(module_path: str) -> bytes:
    """The serialized FileDescriptorProto a generated module embeds, in either protoc style:
    `FileDescriptor(serialized_pb=b'...')` or `AddSerializedFile(b'...')`."""
    with open(module_path, encoding="utf-8") as fileobj:
        tree = ast.parse(fileobj.read(), module_path)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        values = [k.value for k in node.keywords if k.arg == "serialized_pb"]
        if isinstance(node.func, ast.Attribute) and node.func.attr == "AddSerializedFile":
            values += node.args[:1]
        found += [v.value for v in values
                  if isinstance(v, ast.Constant) and isinstance(v.value, bytes)]
    if len(found) != 1:
        raise GenerateError(f"{module_path}: expected one serialized descriptor, found "
                            f"{len(found)}")
    return found[0]


def release_descriptor(proto_name: str) -> descriptor_pb2.FileDescriptorProto:
    """The descriptor of one upstream file, as its release's generated module embeds it."""
    proto = descriptor_pb2.FileDescriptorProto.FromString(
        serialized_descriptor(generated_module_path(proto_name)))
    if proto.name != proto_name:
        raise GenerateError(f"{proto_name}: the generated module describes {proto.name}")
    return proto


def release_descriptors() -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """ROOTS and every file they import, by name."""
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name not in files:
            files[name] = release_descriptor(name)
            pending.extend(files[name].dependency)
    return files


def release_of(proto_name: str) -> str:
    """`distribution version` of the release a file comes from, as installed."""
    distribution = SOURCES[proto_name.split("/", 1)[0]][0]
    for name in DISTRIBUTION_ALIASES.get(distribution, (distribution,)):
        try:
            return f"{name} {importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    raise GenerateError(f"{proto_name}: {distribution} is not installed")
