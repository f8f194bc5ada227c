"""The plugin hooks: the whole plugin API is these three `register_*` hooks.

Each hook receives a `register` callback; a plugin calls it once per thing it provides and
returns nothing. The core validates what is registered (name clashes, wrong types) and reports
problems per plugin, so one bad plugin never breaks the others. Builtin formats and label maps
are registered through these same hooks, from modules listed as entry points exactly like a
third-party plugin's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .commands import Command
    from .formats import FormatSpec

hookspec = pluggy.HookspecMarker("tfrconv")
hookimpl = pluggy.HookimplMarker("tfrconv")


@hookspec
def register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register dataset formats: call ``register(FormatSpec(...))`` once per format."""


@hookspec
def register_label_maps(register: Callable[..., None]) -> None:
    """Register named label maps: ``register(name, source, description="")``, where source is a
    path to a ``.pbtxt`` file or a ``tfrconv.LabelMap``."""


@hookspec
def register_commands(register: Callable[[Command], None]) -> None:
    """Register extra CLI commands: ``register(Command(name, help, add_arguments, run))``."""


HOOK_NAMES = ("register_formats", "register_label_maps", "register_commands")
__all__ = ["hookimpl", "hookspec", *HOOK_NAMES]
