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

    `detect` is left alone: `tfrconv detect-format` already reports a failing detector per
    format."""
    def blame(exc: BaseException, doing: str) -> PluginCodeError:
        lines = str(exc).strip().splitlines()
        what = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        return PluginCodeError(f"plugin error in format {spec.name!r} ({origin}): {what} "
                               f"while {doing}")

    def guarded(function: Callable[..., Any] | None, doing: str):
        if function is None:
            return None

        def call(*args: Any) -> Any:
            try:
                return function(*args)
            except TfrconvError:
                raise
            except Exception as exc:  # noqa: BLE001 - any bug of the plugin's is reported
                raise blame(exc, doing) from exc
        return call

    read_item, list_items = spec.read_item, spec.list_items

    def guarded_read_item(item: Any, opts: Any) -> Sample:
        try:
            sample = read_item(item, opts)
        except _READ_ITEM_PASSES:
            raise
        except Exception as exc:  # noqa: BLE001 - any bug of the plugin's is reported
            raise blame(exc, f"reading item {describe_item(item)}") from exc
        if not isinstance(sample, Sample):
            raise PluginCodeError(
                f"plugin error in format {spec.name!r} ({origin}): read_item returned "
                f"{type(sample).__name__}, not a tfrconv.Sample, for item {describe_item(item)}")
        return sample

    def guarded_list_items(opts: Any) -> Iterable[Any]:
        items = guarded(list_items, "listing items")(opts)
        if isinstance(items, _PLAIN_SEQUENCES):
            return items
        if not hasattr(items, "__iter__"):
            raise PluginCodeError(f"plugin error in format {spec.name!r} ({origin}): "
                                  f"list_items returned {type(items).__name__}, not an iterable")
        sized = hasattr(items, "__len__")
        return (_SizedGuardedItems if sized else _GuardedItems)(items, blame)

    return replace(spec, read_item=guarded_read_item, list_items=guarded_list_items,
                   classes=guarded(spec.classes, "listing classes"),
                   default_label_map=guarded(spec.default_label_map,
                                             "choosing the default label map"),
                   outputs=guarded(spec.outputs, "naming the outputs"))


class _GuardedItems:
    """A format's items, iterated with its exceptions blamed on it; sized when they are."""

    def __init__(self, items: Iterable[Any], blame) -> None:
        self.items = items
        self.blame = blame

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self.items
        except TfrconvError:
            raise
        except Exception as exc:  # noqa: BLE001 - any bug of the plugin's is reported
            raise self.blame(exc, "listing items") from exc


class _SizedGuardedItems(_GuardedItems):
    def __len__(self) -> int:
        return len(self.items)


def describe_item(item: Any) -> str:
    text = repr(item)
    return text if len(text) <= 120 else text[:117] + "..."
