"""Regenerate `descriptors.binpb`, the protobuf schema tfrconv ships (a development tool).

    python -m tfrconv.protos.generate [--out PATH]

The schema is not restated by hand: it is the upstream releases' own compiled descriptors, taken
from the generated `*_pb2.py` modules of the pinned releases (NOTICE.md): the OD API's
`tf-models-research-object-detection` (pipeline configs, label maps) and TensorFlow
(`tf.train.Example`). The modules are read as text, never imported, so neither TensorFlow nor the
OD API's old generated code runs. Each file's descriptor is kept byte for byte; the set is written
dependencies first, then by name, so the output depends only on the releases installed.
tests/test_protos.py checks that the shipped file equals what this script writes.
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import importlib.util
import os
import sys

# The files whose messages tfrconv uses; their imports come along.
ROOTS = ("object_detection/protos/pipeline.proto",
         "object_detection/protos/string_int_label_map.proto",
         "tensorflow/core/example/example.proto")
# Where each top-level proto folder's generated code comes from (distribution, import name).
SOURCES = {"object_detection": ("tf-models-research-object-detection", "object_detection"),
           "tensorflow": ("tensorflow", "tensorflow")}
# TensorFlow installs as tensorflow-cpu on x86-64 (pyproject.toml's [tf] extra).
DISTRIBUTION_ALIASES = {"tensorflow": ("tensorflow-cpu", "tensorflow")}
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "descriptors.binpb")


class GenerateError(Exception):
    pass


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


def descriptor_set() -> bytes:
    """The FileDescriptorSet of ROOTS and everything they import, dependencies first."""
    from google.protobuf import descriptor_pb2

    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    pending = list(ROOTS)
    while pending:
        name = pending.pop()
        if name in files:
            continue
        proto = descriptor_pb2.FileDescriptorProto.FromString(
            serialized_descriptor(generated_module_path(name)))
        if proto.name != name:
            raise GenerateError(f"{name}: the generated module describes {proto.name}")
        files[name] = proto
        pending.extend(proto.dependency)

    ordered: list[str] = []

    def visit(name: str) -> None:
        if name not in ordered:
            for dependency in sorted(files[name].dependency):
                visit(dependency)
            ordered.append(name)

    for name in sorted(files):
        visit(name)
    result = descriptor_pb2.FileDescriptorSet(file=[files[name] for name in ordered])
    return result.SerializeToString(deterministic=True)


def release_versions() -> dict[str, str]:
    """The installed version of each release the descriptors come from."""
    versions = {}
    for distribution, _ in SOURCES.values():
        for name in DISTRIBUTION_ALIASES.get(distribution, (distribution,)):
            try:
                versions[name] = importlib.metadata.version(name)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfrconv.protos.generate",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        data = descriptor_set()
    except GenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with open(args.out, "wb") as fileobj:
        fileobj.write(data)
    used = ", ".join(f"{name} {version}" for name, version in release_versions().items())
    print(f"wrote {args.out} ({len(data)} bytes) from {used}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
