"""The builtin transforms (--split, --remap, --max-side, --min-box-size, ...), registered.

Their code is in the core (`tfrconv.transforms`); this builtin plugin only registers them
through the public hook, like a third party's transforms would (docs/transforms.md).
"""

from __future__ import annotations

from tfrconv import hookimpl
from tfrconv.transforms.builtin import BUILTIN_TRANSFORMS


@hookimpl
def register_transforms(register):
    for spec in BUILTIN_TRANSFORMS:
        register(spec)
