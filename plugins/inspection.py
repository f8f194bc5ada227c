"""Looking at records and folders (`tfrconv inspect | verify | detect-format`), registered.

The commands are declared in the core, in `tfrconv.inspection_commands`; this builtin plugin only
registers them through the public hook, like a third party's would.
"""

from __future__ import annotations

from tfrconv import hookimpl
from tfrconv.inspection_commands import COMMANDS


@hookimpl
def register_commands(register):
    for command in COMMANDS:
        register(command)
