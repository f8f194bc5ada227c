"""`Command`: a CLI verb a plugin adds (inspect, train, ...), described, not wired by hand."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A `tfrconv <name>` command.

    `add_arguments(parser)` declares its arguments on an argparse parser; `run(args)` does the
    work and returns the exit status. Import heavy libraries inside `run`, never at module level:
    every command's module is imported to build `tfrconv --help`.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]
    description: str = ""
