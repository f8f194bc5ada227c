"""The core API that the trainer (`tfrconv.trainer`) and third-party tools may use.

`tfrconv.trainer` imports from the core only through this module (a test holds it to that), so
these names are the contract between the core and what is built on it; everything else in the
core may change without notice. Plugin authors start from `tfrconv` itself (docs/plugins.md).

Errors
    `TfrconvError` (base), `DataError` (bad input), `UsageError` (bad arguments),
    `LabelMapError`, `Interrupted`: each carries `.file` and prints as one line.
Reading records (no TensorFlow)
    `read_records(path_or_glob)`: every payload, strictly (a damaged record raises DataError);
    `read_examples(path_or_glob)`: the same decoded to ``{key: list of values}``;
    `is_gzip(path)`: whether a record file is GZIP-compressed.
The OD API's feature keys and the decoder's parse spec
    `keys`: the module of key constants (`keys.OBJECT_CLASS_TEXT`, `keys.BOX_KEYS`, ...);
    `DECODER_SPEC`: ``{key: (kind, fixed_length)}`` with kind "bytes", "int" or "float", the
    features `TfExampleDecoder` parses by default.
Manifests (the JSON written beside converted records)
    `find_manifest(path_or_glob)` → path or None; `read_manifest(path_or_glob)` → dict;
    `sidecar_base(output)`: an output's name without its record suffix.
Label maps
    `read_label_map_file(path)` → `LabelMap` (`.resolve(text)`, `.by_id()`, `.max_id`, ...).
Input parsing with TensorFlow (imported when called; the trainer's input path, public)
    `class_table(label_map)`: class text → id with the decoder's rules (-1 unknown);
    `parse_example(serialized, table=None)`: one record → image bytes, yxyx boxes, ids, flags.
Protobuf messages from the descriptors the core ships (a private pool, no generated code)
    `message_descriptor(full_name)`, `message_class(full_name)`; `pipeline_class()`: the OD
    API's `TrainEvalPipelineConfig`.
Commands
    `Command`: what a command plugin registers.

Importing this module is cheap: each name loads its home module on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import keys

if TYPE_CHECKING:  # pragma: no cover - for type checkers and readers; loaded lazily below
    from .commands import Command
    from .errors import DataError, Interrupted, LabelMapError, TfrconvError, UsageError
    from .example import DECODER_SPEC
    from .example import iter_examples as read_examples
    from .labelmap import LabelMap, read_label_map_file
    from .manifest import find_manifest, read_manifest, sidecar_base
    from .proto import message_class, message_descriptor, pipeline_class
    from .tfdata import class_table, parse_example
    from .tfrecord import is_gzip, read_records

# name → "module" or "module:attribute" (when the home module calls it differently)
_HOMES = {
    "TfrconvError": "errors", "DataError": "errors", "UsageError": "errors",
    "LabelMapError": "errors", "Interrupted": "errors",
    "read_records": "tfrecord", "is_gzip": "tfrecord",
    "read_examples": "example:iter_examples",
    "DECODER_SPEC": "example",
    "find_manifest": "manifest", "read_manifest": "manifest", "sidecar_base": "manifest",
    "LabelMap": "labelmap", "read_label_map_file": "labelmap",
    "message_class": "proto", "message_descriptor": "proto", "pipeline_class": "proto",
    "Command": "commands",
    "class_table": "tfdata", "parse_example": "tfdata",
}

__all__ = [
    "DECODER_SPEC", "Command", "DataError", "Interrupted", "LabelMap", "LabelMapError",
    "TfrconvError", "UsageError", "class_table", "find_manifest", "is_gzip", "keys",
    "message_class", "message_descriptor", "parse_example", "pipeline_class", "read_examples",
    "read_label_map_file", "read_manifest", "read_records", "sidecar_base",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, _, attribute = home.partition(":")
    value = getattr(importlib.import_module(f"{__package__}.{module_name}"), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
