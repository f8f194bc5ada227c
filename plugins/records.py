"""`tfrconv records ...` (merge, reshard, split, filter, remap, cat, head, diff), registered.

The command group is declared in the core, in `tfrconv.records.commands`; this builtin plugin
only registers it through the public hook, like a third party's would.
"""

from __future__ import annotations

from tfrconv import hookimpl
from tfrconv.records.commands import COMMAND


@hookimpl
def register_commands(register):
    register(COMMAND)
