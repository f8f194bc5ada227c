"""The `tfrconv` command line, generated from what plugins register.

Every registered format becomes `tfrconv <format>` with its own options plus the common ones;
plugin commands (inspect, train, ...) are added from their `Command` specs. Errors print one line
(`--debug` shows the traceback) and exit 1 for data problems, 2 for usage problems, 3 for an
exception inside a plugin's own code (errors.PluginCodeError).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence

from . import __version__, cli_commands
from .cli_convert import add_display_arguments, run_format
from .cli_options import CommandLineParser, add_format_arguments, usage_error
from .errors import PluginCodeError, TfrconvError
from .plugins import get_registry

# Options whose value is itself a command line ("--runner=DataflowRunner ..."): argparse would
# read such a value as an option, so `--beam-options VALUE` is passed on as `--beam-options=VALUE`.
COMMAND_LINE_VALUED = ("--beam-options",)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("TFRCONV_DEBUG", "") not in ("", "0")
    try:
        argv = _glue_command_line_values(argv)
        parser = build_parser(argv)
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "takes_extra_args", False):
            usage_error(args.usage_prog, "unrecognized arguments: " + " ".join(extra))
        args.extra_args = extra      # `convert` parses them once it knows the format
        args.command_line = argv     # for errors that give the command that works
        if not getattr(args, "handler", None):
            parser.print_help()
            return 2
        return int(args.handler(args) or 0)
    except TfrconvError as exc:
        if debug:
            raise
        # A plugin's own bug says so ("plugin error in format ..."), naming who to tell.
        label = "" if isinstance(exc, PluginCodeError) else "error: "
        print(f"tfrconv: {label}{exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tfrconv: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - last resort: one line unless --debug
        if debug:
            raise
        print(f"tfrconv: internal error: {type(exc).__name__}: {exc} (run again with --debug "
              "for the traceback, and please report it)", file=sys.stderr)
        return 1


def run() -> None:
    """The console script: `main()`, then a quick exit.

    Tearing the interpreter down (freeing every module's objects) takes ~25 ms that a one-shot
    command does not need, so once the output is flushed the process simply ends. Runs that
    loaded TensorFlow or Beam, or left threads running, get the normal shutdown instead.
    """
    code = main()
    if any(name in sys.modules for name in ("tensorflow", "apache_beam")) or \
            threading.active_count() > 1:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass                          # a closed pipe (`| head`): nothing more to say
    os._exit(code)


def _glue_command_line_values(argv: list[str]) -> list[str]:
    glued: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in COMMAND_LINE_VALUED:
            value = next(args, None)
            glued.append(arg if value is None else f"{arg}={value}")
        else:
            glued.append(arg)
    return glued


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`. Only the command `argv` invokes gets its arguments, and when it
    names one, only that command is added (each subparser costs ~1 ms to build); otherwise
    every command is listed, for --help and for argparse's "invalid choice" message."""
    selected = _command_in(argv)
    registry = get_registry()
    # A format's command loads that format's plugin, not all of them (plugins.py); its parser
    # never shows the top-level help, whose epilog names every plugin that failed to load.
    format_only = selected is not None and registry.has_format(selected)
    if format_only:
        only, epilog, specs = selected, None, [registry.format(selected)]
    else:
        known = {*registry.formats, *registry.commands, *cli_commands.CORE_COMMANDS}
        only, epilog = (selected if selected in known else None), registry.failure_summary()
        specs = sorted(registry.formats.values(), key=lambda s: s.name)
    parser = CommandLineParser(
        prog="tfrconv", description="Convert detection datasets to TensorFlow Object Detection "
        "API TFRecords, and check them.", epilog=epilog)
    parser.add_argument("--version", action="version", version=f"tfrconv {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    for spec in specs:
        if only not in (None, spec.name):
            continue
        format_parser = sub.add_parser(spec.name, help=spec.help,
                                       description=spec.description or spec.help)
        format_parser.set_defaults(handler=run_format, spec=spec)
        if spec.name != selected:
            continue
        add_format_arguments(format_parser, spec)
        format_parser.add_argument("--json", action="store_true",
                                   help="print the summary as JSON")
        add_display_arguments(format_parser)
        format_parser.add_argument("--debug", action="store_true", help="show tracebacks")

    if format_only:
        return parser
    if only is None or only in cli_commands.CORE_COMMANDS:
        cli_commands.add_core_commands(sub, selected)
    for command in sorted(registry.commands.values(), key=lambda c: c.name):
        if only not in (None, command.name):
            continue
        command_parser = sub.add_parser(command.name, help=command.help,
                                        description=command.description or command.help)
        command_parser.set_defaults(handler=command.run)
        if command.name == selected:
            command.add_arguments(command_parser)
            command_parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _command_in(argv: Sequence[str] | None) -> str | None:
    """The command word of a command line (the first argument that is not an option)."""
    return next((arg for arg in (argv or ()) if not arg.startswith("-")), None)
