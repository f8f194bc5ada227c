"""The vendored `.proto` sources: the releases' compiled descriptors written back as `.proto`
text, at their upstream import paths under `src/`, each with the upstream licence header."""

from __future__ import annotations

import os
import textwrap

from tfrconv.protos.releases import release_descriptors, release_of
from tfrconv.protos.source_printer import proto_source

LICENCE = """\
Copyright The TensorFlow Authors. All Rights Reserved.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License."""


def header(proto_name: str) -> list[str]:
    module = proto_name[:-len(".proto")] + "_pb2.py"
    origin = (f"Re-emitted by `python -m tfrconv.protos.generate extract` from the compiled "
              f"descriptor in {release_of(proto_name)} ({module}): every definition is "
              "upstream's, comments and layout are not (tfrconv/protos/NOTICE.md).")
    return [*LICENCE.splitlines(), "", *textwrap.wrap(origin, 90, break_on_hyphens=False)]


def vendored_sources() -> dict[str, str]:
    """Import path → .proto text of every file tfrconv ships, from the installed releases."""
    files = release_descriptors()
    return {name: proto_source(files[name], files, header(name)) for name in sorted(files)}


def write_sources(src_dir: str) -> list[str]:
    """Write the sources under `src_dir`, removing .proto files no release provides any more."""
    sources = vendored_sources()
    for folder, _, names in os.walk(src_dir):
        for name in names:
            path = os.path.join(folder, name)
            if name.endswith(".proto") and \
                    os.path.relpath(path, src_dir).replace(os.sep, "/") not in sources:
                os.remove(path)
    for name, text in sources.items():
        path = os.path.join(src_dir, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fileobj:
            fileobj.write(text)
    return sorted(sources)
