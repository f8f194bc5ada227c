"""`tfrconv report` (the HTML health report), registered.

The command is declared in the core, in `tfrconv.report_commands`; this builtin plugin only
registers it through the public hook, like a third party's would.
"""

from __future__ import annotations

from tfrconv import hookimpl
from tfrconv.report_commands import COMMANDS


@hookimpl
def register_commands(register):
    for command in COMMANDS:
        register(command)
