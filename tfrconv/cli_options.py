"""A format's options as argparse arguments, and back: shared by every command that runs one.

`tfrconv FORMAT`, `tfrconv convert` and `tfrconv labelmap from-data FORMAT` all declare a format's
own options (and, for conversions, the common ones) the same way, and read the user's values back
out of the parsed namespace with `collect_options`. Every command's parser is a
`CommandLineParser`, whose usage errors are one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import Any, NoReturn

from .formats import FormatSpec, Option
from .problems import KINDS
from .settings import COMMON_OPTIONS

POLICY_FLAGS = frozenset(kind.flag for kind in KINDS.values())
FORMAT_PREFIX = "fmt__"
COMMON_PREFIX = "common__"


class CommandLineParser(argparse.ArgumentParser):
    """argparse with tfrconv's one-line usage errors (docs/problems.md), exit status 2:
    `tfrconv voc: error: <what is wrong> (see tfrconv voc --help)` instead of the usage block.
    Subparsers are made with their parent's class, so every command answers the same way; each
    records its name as the `usage_prog` default, so the innermost command a line ran is known
    to errors found after parsing (unrecognized arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["formatter_class"] = _sized(kwargs.get("formatter_class", argparse.HelpFormatter))
        super().__init__(*args, **kwargs)
        self.set_defaults(usage_prog=self.prog)

    def error(self, message: str) -> NoReturn:
        usage_error(self.prog, message)


class _TerminalWidth:
    """argparse's help width, found as argparse finds it (shutil.get_terminal_size) without
    importing shutil, with its bz2 and lzma: ~7 M instructions of every command, since argparse
    makes a formatter for every argument added."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None, **kwargs: Any) -> None:
        if width is None:
            width = terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width,  # type: ignore[call-arg]
                         **kwargs)


_SIZED: dict[type, type] = {}


def _sized(formatter_class: type) -> type:
    """`formatter_class` with `_TerminalWidth`'s width (one subclass per class, made once)."""
    sized = _SIZED.get(formatter_class)
    if sized is None:
        sized = _SIZED[formatter_class] = type(formatter_class.__name__,
                                               (_TerminalWidth, formatter_class), {})
    return sized


def terminal_columns() -> int:
    """The columns `shutil.get_terminal_size()` gives: $COLUMNS when a positive number, else
    the terminal's width, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80


def usage_error(prog: str, message: str) -> NoReturn:
    """Print the one-line usage error for command `prog` and exit with status 2."""
    one_line = " ".join(message.split())
    print(f"{prog}: error: {one_line} (see {prog} --help)", file=sys.stderr)
    raise SystemExit(2)


def add_format_arguments(parser: argparse.ArgumentParser, spec: FormatSpec, *,
                         common: bool = True) -> None:
    """The format's own options, then (optionally) the common ones, as argparse arguments."""
    own = parser.add_argument_group(f"{spec.name} options")
    for option in spec.options:
        _add_option(own, option, dest=FORMAT_PREFIX + option.name)
    if not common:
        return
    output = parser.add_argument_group("output and label map")
    policies = parser.add_argument_group("problem policies")
    for option in COMMON_OPTIONS:
        if option.name == "output" and not spec.uses_output:
            continue
        group = policies if option.name.startswith("on_") else output
        if option.name in POLICY_FLAGS:
            option = _with_format_default(option, spec)
        required = option.name == "output" and spec.uses_output and spec.outputs is None
        _add_option(group, option, dest=COMMON_PREFIX + option.name, required=required)
    add_transform_arguments(parser, spec)


def add_transform_arguments(parser: argparse.ArgumentParser, spec: FormatSpec) -> None:
    """Every registered transform's options (docs/transforms.md), generated from the registry.
    They travel with the common options. A format's own option of the same name wins: the
    transform's option is then offered only under its other spellings (--split-ratios)."""
    from .plugins import get_registry

    transforms = get_registry().transforms
    if not transforms:
        return
    taken = {flag for option in spec.options for flag in (option.flag, *option.aliases)}
    own_names = {option.name for option in spec.options}
    group = parser.add_argument_group("prepare while converting (transforms, "
                                      "docs/transforms.md)")
    for transform in transforms.values():
        for option in transform.options:
            flags = [f for f in (option.flag, *option.aliases) if f not in taken]
            if option.name in own_names:
                flags = [f for f in option.aliases if f not in taken]
            if not flags:
                continue
            option = replace(option, name=option.name, aliases=tuple(flags[1:]))
            _add_option(group, option, dest=COMMON_PREFIX + option.name, flags=flags[:1])


def collect_options(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(format options, common options) the user gave, without argparse's unset ones."""
    own, common = {}, {}
    for key, value in vars(args).items():
        if value is None:
            continue
        if key.startswith(FORMAT_PREFIX):
            own[key[len(FORMAT_PREFIX):]] = value
        elif key.startswith(COMMON_PREFIX):
            common[key[len(COMMON_PREFIX):]] = value
    return own, common


def _with_format_default(option: Option, spec: FormatSpec) -> Option:
    """A policy flag's help naming the format's own default (FormatSpec.default_policies)."""
    kind = next(k for k in KINDS.values() if k.flag == option.name)
    default = spec.default_policies.get(kind.name)
    if default is None:
        return option
    return replace(option, help=f"{kind.help}: {'|'.join(kind.policies)} (default for "
                                f"{spec.name}: {default})")


def _add_option(group, option: Option, *, dest: str, required: bool | None = None,
                flags: list[str] | None = None) -> None:
    flags = [*(flags or [option.flag]), *option.aliases]
    help_text = option.help
    if option.default not in (None, False, "", ()):
        help_text += f" (default: {option.default})"
    kwargs: dict[str, Any] = {"dest": dest, "default": None, "help": help_text}
    if option.type == "bool":
        if option.default:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["action"] = "store_true"
    else:
        kwargs["metavar"] = option.metavar or ("{" + ",".join(option.choices) + "}"
                                               if option.choices else option.name.upper())
        if option.choices:
            kwargs["choices"] = option.choices
        kwargs["required"] = option.required if required is None else required
    group.add_argument(*flags, **kwargs)
