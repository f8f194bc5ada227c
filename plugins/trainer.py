"""The trainer's commands (`tfrconv config | train | evaluate | export | infer`), registered.

They live beside the trainer, in `tfrconv.trainer.commands`; this builtin plugin only registers
them through the public hook, like a third party's would.
"""

from __future__ import annotations

from tfrconv import hookimpl
from tfrconv.trainer.commands import COMMANDS


@hookimpl
def register_commands(register):
    for command in COMMANDS:
        register(command)
