"""Converting from the command line: `tfrconv FORMAT` and `tfrconv convert`.

`run_format` runs one format with the options the user gave (both commands end there).
`tfrconv convert --data-dir DIR --output OUT [options]` asks every registered format whether DIR
looks like it (`tfrconv.detect`), and when exactly one does, runs that format with the remaining
arguments: its own options (`--set val`, `--year VOC2012`, ...) and the common ones (`--output`,
`--label-map`, policies ...), exactly as `tfrconv FORMAT` would. When no format or several match,
it says which and why, and converts nothing. `--format NAME` skips detection.

The format's options are only known once the format is, so the top-level parser passes the
arguments it does not know through to this command (`takes_extra_args`), and they are parsed
here against the chosen format's own parser.
"""

from __future__ import annotations

import argparse
import json
import sys

from .cli_options import CommandLineParser, add_format_arguments, collect_options
from .errors import UsageError
from .formats import FormatSpec
from .plugins import get_registry

EPILOG = """\
Every option of the detected format and every common option (--output, --label-map,
--num-shards, --on-bad-box ...) is accepted as well. `tfrconv convert --data-dir DIR --help`
shows them for the format DIR looks like; `tfrconv detect-format DIR` shows how each format
judged the folder.
"""


def add_convert_command(sub) -> None:
    parser = sub.add_parser(
        "convert", add_help=False, allow_abbrev=False,
        help="convert a dataset folder, detecting its format (--data-dir DIR --output OUT)",
        description="Convert a dataset folder to OD-API TFRecords; its format is detected\n"
        "(or named with --format).",
        usage="tfrconv convert [--data-dir] DIR --output PATH [FORMAT OPTIONS] [COMMON OPTIONS]",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", metavar="DIR", help="the dataset folder")
    parser.add_argument("--format", metavar="NAME",
                        help="convert as this format instead of detecting one")
    parser.add_argument("-h", "--help", action="store_true", help="show this help (with "
                        "--data-dir: the detected format's options too)")
    parser.set_defaults(handler=cmd_convert, takes_extra_args=True, convert_parser=parser)


def format_parser(spec) -> argparse.ArgumentParser:
    """The parser `tfrconv convert` uses once the format is known: the format's options and
    the common ones, as for `tfrconv FORMAT`."""
    parser = CommandLineParser(
        prog="tfrconv convert", allow_abbrev=False,
        description=f"Convert as {spec.name}: {spec.help}")
    add_format_arguments(parser, spec)
    parser.add_argument("--format", metavar="NAME", help="the format (detected when not given)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.set_defaults(handler=None, spec=spec)
    return parser


def cmd_convert(args: argparse.Namespace) -> int:
    from .detect import MATCH, ask, choose_format

    extra = list(getattr(args, "extra_args", []) or [])
    registry = get_registry()
    data_dir = args.data_dir
    if data_dir is None and extra and not extra[0].startswith("-"):
        data_dir = extra.pop(0)                    # `tfrconv convert DIR --output OUT`
    if args.format:
        spec = registry.format(args.format)
        match = ask(spec, data_dir, registry.format_owner(spec.name)) if data_dir else None
        if match is not None and match.status != MATCH:
            match = None                           # named by the user: convert anyway
        note = f"converting as {spec.name} (--format)"
    elif data_dir:
        spec, report = choose_format(data_dir, registry=registry)
        data_dir = report.searched
        match = report.matches[0]
        note = (f"{data_dir} looks like {spec.name} (confidence {match.confidence:.2f}: "
                f"{match.reason})")
    else:
        if args.help:
            args.convert_parser.print_help()
            return 0
        raise UsageError("convert: give the dataset folder with --data-dir DIR so its format "
                         "can be detected (or name the format with --format NAME)")
    parser = format_parser(spec)
    if args.help:
        print(note + "\n")
        parser.print_help()
        return 0
    # What detection found comes first, so the user's own options override it.
    found = match.option_args(spec) if match is not None else []
    if data_dir is not None and spec.option("data_dir") is not None \
            and not (match and "data_dir" in match.options):
        found = ["--data-dir", data_dir, *found]
    elif data_dir is not None and not found and not _names_own_option(spec, extra):
        own = " ".join(o.flag for o in spec.options) or "none"
        raise UsageError(f"{note}, but {spec.name} does not read a --data-dir and its "
                         f"detection named no files: give its own options ({own}); see "
                         f"`tfrconv {spec.name} --help`")
    print(f"tfrconv: {note}", file=sys.stderr)
    if match is not None and match.options:
        print(f"tfrconv: using {' '.join(match.option_args(spec))}", file=sys.stderr)
    format_args = parser.parse_args(found + extra)
    return run_format(format_args)


def _names_own_option(spec, argv: list[str]) -> bool:
    flags = {flag for option in spec.options for flag in (option.flag, *option.aliases)}
    return any(arg.split("=", 1)[0] in flags for arg in argv)


def run_format(args: argparse.Namespace) -> int:
    """`tfrconv FORMAT ...`: convert with the parsed options, print the summary."""
    from .pipeline import Conversion
    from .settings import Settings

    spec: FormatSpec = args.spec
    warn_about_format_conflicts(spec.name)
    own, common = collect_options(args)
    settings = Settings.resolve(spec, common)
    opts = spec.resolve(own)
    summary = Conversion(spec, opts, settings, progress=not (args.json or args.no_progress)).run()
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(summary.line())
        lines = summary.problem_lines()
        if lines:
            print("problems:")
            print("\n".join(lines))
        if summary.report:
            print(f"report: {summary.report}")
    return 0


def warn_about_format_conflicts(name: str) -> None:
    """One stderr line per other plugin that also registered format `name` (ignored)."""
    for conflict in get_registry().conflicts_for(name):
        print(f"tfrconv: warning: {conflict.message()}", file=sys.stderr)
