"""A registered format's code, wrapped so that its bugs are reported as the plugin's own.

A KeyError inside a format's `read_item` is neither a data problem nor tfrconv's internal error:
the user needs to know which plugin (and distribution) to report it to, and on which item it
happened. The registry stores every format wrapped by `guard_format`, so every caller gets this,
in the main process, in worker processes and on Beam workers alike, and turns such an exception
into a one-line `PluginCodeError`. The plugin's own `TfrconvError`s (a `DataError` naming a file)
pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from .errors import PluginCodeError, TfrconvError
from .formats import FormatSpec
from .sample import Sample

# What read_item may raise about an unreadable file: the unreadable-annotation policy handles
# these (build.Builder.read), so they are problems in the data, not bugs of the plugin.
READ_ITEM_DATA_ERRORS = (OSError, ValueError, UnicodeError)
_READ_ITEM_PASSES = (TfrconvError, *READ_ITEM_DATA_ERRORS)
# Iterables that cannot raise while being iterated: returned as they are (no per-item cost).
_PLAIN_SEQUENCES = (list, tuple, range)


def guard_format(spec: FormatSpec, origin: str) -> FormatSpec:
    """`spec` with its code (list_items, read_item, classes, default_label_map, outputs)
    reporting its exceptions as `PluginCodeError`s naming `origin` ("distribution x 1.0").

    The wrappers are small classes, not closures, so a guarded spec pickles wherever the
    plugin's own functions do (spawned workers get it by value when it was registered at run
    time). `detect` is left alone: `tfrconv detect-format` already reports a failing detector
    per format."""
    blame = Blame(spec.name, origin)
    return replace(spec, read_item=GuardedReadItem(spec.read_item, blame),
                   list_items=GuardedListItems(spec.list_items, blame),
                   classes=_guarded(spec.classes, blame, "listing classes"),
                   default_label_map=_guarded(spec.default_label_map, blame,
                                              "choosing the default label map"),
                   outputs=_guarded(spec.outputs, blame, "naming the outputs"))


class Blame:
    """Turns an exception of one format's code into the one-line error that names its plugin."""

    def __init__(self, format_name: str, origin: str) -> None:
        self.format_name = format_name
        self.origin = origin

    def error(self, message: str) -> PluginCodeError:
        return PluginCodeError(f"plugin error in format {self.format_name!r} ({self.origin}): "
                               f"{message}")

    def __call__(self, exc: BaseException, doing: str) -> PluginCodeError:
        lines = str(exc).strip().splitlines()
        what = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        return self.error(f"{what} while {doing}")


class Guarded:
    """One of a format's functions, its exceptions (other than tfrconv's own) blamed on it."""

    def __init__(self, function: Callable[..., Any], blame: Blame, doing: str) -> None:
        self.function = function
        self.blame = blame
        self.doing = doing

    def __call__(self, *args: Any) -> Any:
        try:
            return self.function(*args)
        except TfrconvError:
            raise
        except Exception as exc:  # noqa: BLE001 - any bug of the plugin's is reported
            raise self.blame(exc, self.doing) from exc


def _guarded(function: Callable[..., Any] | None, blame: Blame, doing: str) -> Guarded | None:
    return None if function is None else Guarded(function, blame, doing)


class GuardedReadItem:
    """`read_item`, where an unreadable file stays a data problem (the policy handles it) and
    anything else, or a result that is not a `Sample`, is the plugin's error."""

    def __init__(self, function: Callable[[Any, Any], Sample], blame: Blame) -> None:
        self.function = function
        self.blame = blame

    def __call__(self, item: Any, opts: Any) -> Sample:
        try:
            sample = self.function(item, opts)
        except _READ_ITEM_PASSES:
            raise
        except Exception as exc:  # noqa: BLE001 - any bug of the plugin's is reported
            raise self.blame(exc, f"reading item {describe_item(item)}") from exc
        if not isinstance(sample, Sample):
            raise self.blame.error(f"read_item returned {type(sample).__name__}, not a "
                                   f"tfrconv.Sample, for item {describe_item(item)}")
        return sample


class GuardedListItems:
    """`list_items`, guarded while it is called and while its items are iterated."""

    def __init__(self, function: Callable[[Any], Iterable[Any]], blame: Blame) -> None:
        self.function = function
        self.blame = blame

    def __call__(self, opts: Any) -> Iterable[Any]:
        items = Guarded(self.function, self.blame, "listing items")(opts)
        if isinstance(items, _PLAIN_SEQUENCES):
            return items
        if not hasattr(items, "__iter__"):
            raise self.blame.error(f"list_items returned {type(items).__name__}, not an "
                                   f"iterable")
        sized = hasattr(items, "__len__")
        return (SizedGuardedItems if sized else GuardedItems)(items, self.blame)


class GuardedItems:
    """A format's items, iterated with its exceptions blamed on it; sized when they are."""

    def __init__(self, items: Iterable[Any], blame: Blame) -> None:
        self.items = items
        self.blame = blame

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self.items
        except TfrconvError:
            raise
        except Exception as exc:  # noqa: BLE001 - any bug of the plugin's is reported
            raise self.blame(exc, "listing items") from exc


class SizedGuardedItems(GuardedItems):
    def __len__(self) -> int:
        return len(self.items)


def describe_item(item: Any) -> str:
    text = repr(item)
    return text if len(text) <= 120 else text[:117] + "..."
