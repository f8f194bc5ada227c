"""Regenerate the protobuf schema tfrconv ships (a development tool), in two steps:

    python -m tfrconv.protos.generate extract [--src DIR]
    python -m tfrconv.protos.generate compile [--src DIR] [--out PATH]

`extract` writes the vendored `.proto` sources (`src/`, at their upstream import paths) from the
pinned releases' compiled descriptors (NOTICE.md): the releases ship no `.proto` files, only
generated `*_pb2.py` modules, which are read as text, never imported. It needs the releases
installed (`pip install --no-deps tf-models-research-object-detection==2.8.0.post1`).

`compile` runs protoc (grpcio-tools, the `dev` extra) over those sources and writes
`descriptors.binpb`, the serialized FileDescriptorSet `tfrconv.proto` loads at run time; it needs
only the sources. tests/test_protos.py checks that the shipped file equals what `compile` writes
and that every compiled file equals the descriptor its release embeds.
"""

from __future__ import annotations

import argparse
import os
import sys

from tfrconv.protos.compiler import compile_sources
from tfrconv.protos.errors import GenerateError
from tfrconv.protos.vendor import write_sources

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SRC = os.path.join(HERE, "src")
DEFAULT_OUT = os.path.join(HERE, "descriptors.binpb")


def extract(args: argparse.Namespace) -> str:
    names = write_sources(args.src)
    return f"wrote {len(names)} .proto files under {args.src}"


def compile_(args: argparse.Namespace) -> str:
    data = compile_sources(args.src)
    with open(args.out, "wb") as fileobj:
        fileobj.write(data)
    return f"wrote {args.out} ({len(data)} bytes)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfrconv.protos.generate",
                                     description=__doc__.split("\n", 1)[0])
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("extract", help="write the .proto sources from the releases")
    step.add_argument("--src", default=DEFAULT_SRC, help="where to write (default: %(default)s)")
    step.set_defaults(run=extract)
    step = steps.add_parser("compile", help="compile the .proto sources into descriptors.binpb")
    step.add_argument("--src", default=DEFAULT_SRC, help="the sources (default: %(default)s)")
    step.add_argument("--out", default=DEFAULT_OUT, help="where to write (default: %(default)s)")
    step.set_defaults(run=compile_)
    args = parser.parse_args(argv)
    try:
        print(args.run(args))
    except GenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
