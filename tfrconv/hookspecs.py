"""The plugin hooks: the whole plugin API is these `register_*` hooks.

Each hook receives a `register` callback; a plugin calls it once per thing it provides and
returns nothing. The core validates what is registered (name clashes, wrong types) and reports
problems per plugin, so one bad plugin never breaks the others. Builtin formats and label maps
are registered through these same hooks, from modules listed as entry points exactly like a
third-party plugin's.

The docstrings below are the hooks' documentation: docs/plugins.md shows them as they are (a test
compares the two), and HOOK_NAMES lists every function of this module marked as a hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .commands import Command
    from .formats import FormatSpec
    from .transforms import TransformSpec

PROJECT = "tfrconv"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register dataset formats: call ``register(FormatSpec(...))`` once per format.

    The format becomes ``tfrconv <name>`` with its own options and all the common ones, and
    ``tfrconv.convert("<name>", ...)`` in the library (the FormatSpec fields are listed below).
    A name another plugin registered first is ignored with a warning naming both
    distributions; builtins load first, then third parties by entry-point name.
    """


@hookspec
def register_label_maps(register: Callable[..., None]) -> None:
    """Register named label maps: ``register(name, source, description="")``.

    ``source`` is a path to a ``.pbtxt`` file or a ``tfrconv.LabelMap``. The map becomes usable
    everywhere as ``--label-map <name>`` and is listed by ``tfrconv labelmap list``.
    """


@hookspec
def register_commands(register: Callable[[Command], None]) -> None:
    """Register extra CLI commands: ``register(Command(name, help, add_arguments, run))``.

    ``add_arguments(parser)`` declares argparse arguments, ``run(args)`` does the work and
    returns the exit status. Import heavy libraries inside ``run``, never at module level: every
    plugin module is imported to build ``tfrconv --help``. The ``tfrconv`` command ends with
    ``os._exit`` once stdout and stderr are flushed (interpreter teardown is skipped unless
    TensorFlow, Beam or other threads were loaded), so close the files you write; ``atexit``
    handlers do not run.
    """


@hookspec
def register_transforms(register: Callable[[TransformSpec], None]) -> None:
    """Register transforms: call ``register(TransformSpec(...))`` once per transform.

    A transform changes each sample on its way to the records (rename classes, split, resize,
    filter; docs/transforms.md). Its options become flags of every format and keywords of
    ``tfrconv.convert``; it runs in the worker processes and on Beam workers. A transform
    name, or an option name, another plugin registered first is a failure of the later plugin.
    """


HOOK_NAMES = tuple(name for name, value in list(globals().items())
                   if hasattr(value, f"{PROJECT}_spec"))
__all__ = ["hookimpl", "hookspec", *HOOK_NAMES]
