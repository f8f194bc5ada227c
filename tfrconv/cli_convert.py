"""Converting from the command line: `tfrconv FORMAT` and `tfrconv convert`.

`run_format` runs one format with the options the user gave (both commands end there).
`tfrconv convert --data-dir DIR --output OUT [options]` asks every registered format whether DIR
looks like it (`tfrconv.detect`), and when exactly one does, runs that format with the remaining
arguments: its own options (`--set val`, `--year VOC2012`, ...) and the common ones (`--output`,
`--label-map`, policies ...), exactly as `tfrconv FORMAT` would. When no format or several match,
it says which and why, and converts nothing. `--format NAME` skips detection.

A folder of several splits (`layouts.find_layout`: train/ valid/ test/ folders, VOC image sets,
COCO's instances files) given with `--output DIR/` (or `--splits`) is converted whole:
`tfrconv.dataset` writes DIR/<split>.record for each with one label map.

The format's options are only known once the format is, so the top-level parser passes the
arguments it does not know through to this command (`takes_extra_args`), and they are parsed
here against the chosen format's own parser.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys

from .cli_options import CommandLineParser, add_format_arguments, collect_options
from .errors import OptionHint, TfrconvError, UsageError
from .formats import FormatSpec
from .plugins import get_registry
from .remote import is_url

EPILOG = """\
Every option of the detected format and every common option (--output, --label-map,
--num-shards, --on-bad-box ...) is accepted as well. A folder holding several splits
(train/ valid/ test/, VOC image sets, COCO instances files) with --output DIR/ is converted
whole: DIR/<split>.record each, one label map; --splits train,val chooses.
`tfrconv convert --data-dir DIR --help` shows the options of the format DIR looks like;
`tfrconv detect-format DIR` shows how each format judged the folder.
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
    add_display_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.set_defaults(handler=None, spec=spec)
    return parser


def add_display_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress display and no notes on stderr")


def dataset_parser(specs: list[FormatSpec]) -> argparse.ArgumentParser:
    """The parser of a whole-dataset conversion: the common options, --splits, and the
    format's own options (none required: each split's come from detection)."""
    spec = specs[0]
    loose = dataclasses.replace(spec, options=tuple(
        dataclasses.replace(option, required=False) for option in spec.options))
    parser = CommandLineParser(
        prog="tfrconv convert", allow_abbrev=False,
        description="Convert every split of a dataset into OUTPUT/<split>.record.")
    add_format_arguments(parser, loose)
    parser.add_argument("--splits", metavar="A,B", help="convert only these splits")
    parser.add_argument("--format", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_display_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def cmd_convert(args: argparse.Namespace) -> int:
    extra = list(getattr(args, "extra_args", []) or [])
    data_dir = args.data_dir
    if data_dir is None and extra and not extra[0].startswith("-"):
        data_dir = extra.pop(0)                    # `tfrconv convert DIR --output OUT`
    if data_dir is None or not is_url(data_dir):
        return convert_folder(args, data_dir, extra, {})
    # A URL: detection reads one download, and the conversion reads the same copy
    # (remote.local_copy); what is shown and recorded names the URL.
    from . import remote
    from .runners.staging import in_urls

    with remote.local_copy(data_dir) as local:
        places = {local: data_dir.rstrip("/")}
        try:
            return convert_folder(args, local, extra, places)
        except TfrconvError as exc:
            raise in_urls(exc, places) from None


def convert_folder(args: argparse.Namespace, data_dir: str | None, extra: list[str],
                   places: dict[str, str]) -> int:
    """`tfrconv convert` on a local folder; `places` maps a downloaded copy to its URL, which
    the conversion is given (it reads the copy through `remote.local_copy`)."""
    from .detect import MATCH, ask, choose_format
    from .runners.staging import respell

    registry = get_registry()
    if args.format:
        spec = registry.format(args.format)
        match = ask(spec, data_dir, registry.format_owner(spec.name)) if data_dir else None
        if match is not None and match.status != MATCH:
            match = None                           # named by the user: convert anyway
        note = f"converting as {spec.name} (--format)"
    elif data_dir and wants_whole_dataset(data_dir, extra):
        return run_dataset(data_dir, extra, args.help, args.command_line, places)
    elif data_dir:
        spec, report = choose_format(data_dir, registry=registry)
        data_dir = report.searched
        match = report.matches[0]
        note = respell(f"{data_dir} looks like {spec.name} (confidence "
                       f"{match.confidence:.2f}: {match.reason})", places)
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
    detected = [respell(arg, places) for arg in match.option_args(spec)] if match else []
    found = list(detected)
    if data_dir is not None and spec.option("data_dir") is not None \
            and not (match and "data_dir" in match.options):
        found = ["--data-dir", respell(data_dir, places), *found]
    elif data_dir is not None and not found and not _names_own_option(spec, extra):
        own = " ".join(o.flag for o in spec.options) or "none"
        raise UsageError(f"{note}, but {spec.name} does not read a --data-dir and its "
                         f"detection named no files: give its own options ({own}); see "
                         f"`tfrconv {spec.name} --help`")
    format_args = parser.parse_args(found + extra)
    format_args.command_line = args.command_line
    if not format_args.quiet:
        print(f"tfrconv: {note}", file=sys.stderr)
        if match is not None and match.options:
            print(f"tfrconv: using {' '.join(detected)}", file=sys.stderr)
    return run_format(format_args)


def wants_whole_dataset(data_dir: str, extra: list[str]) -> bool:
    """A folder of splits asked to be converted whole: --splits, or --output naming a folder
    (a trailing slash, an existing folder, or no record extension when no single format
    matches the folder itself)."""
    from .detect import detect_formats
    from .layouts import find_layout

    output = option_value(extra, "--output")
    if option_value(extra, "--splits") is None and output is None:
        return False
    if option_value(extra, "--splits") is not None or output.endswith(("/", os.sep)) \
            or os.path.isdir(output):
        return True
    layout = find_layout(data_dir)
    if layout is None or not layout.splits:
        return False
    if detect_formats(data_dir).verdict == "unique" and layout.kind != "split folders":
        return False                    # VOC with sets and --output x.record: one set, as ever
    if os.path.splitext(output)[1].lower() in (".record", ".tfrecord"):
        raise UsageError(f"{data_dir} holds {len(layout.splits)} splits ({layout.kind}: "
                         f"{', '.join(layout.names)}): give --output DIR/ to write "
                         "DIR/<split>.record for each, with one label map")
    return True


def option_value(argv: list[str], flag: str) -> str | None:
    """The value given to `flag` in `argv` (--flag VALUE or --flag=VALUE), or None."""
    for index, arg in enumerate(argv):
        if arg == flag and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(flag + "="):
            return arg[len(flag) + 1:]
    return None


def run_dataset(data_dir: str, extra: list[str], show_help: bool,
                command_line: list[str], places: dict[str, str]) -> int:
    """`tfrconv convert ROOT --output DIR/`: every split, one label map, one summary (ROOT a
    local copy of the URL `places` names for it, if it is one)."""
    from .dataset import convert_dataset
    from .layouts import find_layout
    from .runners.staging import respell

    layout = find_layout(data_dir)
    if layout is None or not layout.splits:
        raise UsageError(f"{data_dir}: no splits found to convert into a folder (see `tfrconv "
                         f"detect-format {data_dir}`); give --output FILE.record to convert it "
                         "as one dataset")
    registry = get_registry()
    parser = dataset_parser([registry.format(s.format) for s in layout.splits])
    shown = [respell(line, places) for line in layout.lines()]
    if show_help:
        print("\n".join(shown) + "\n")
        parser.print_help()
        return 0
    args = parser.parse_args(extra)
    own, common = collect_options(args)
    if not args.quiet:
        print("\n".join("tfrconv: " + line for line in shown[:-1]), file=sys.stderr)
    quiet = args.json or args.no_progress or args.quiet
    output = common.pop("output")
    try:
        summary = convert_dataset(respell(data_dir, places), output=output, splits=args.splits,
                                  progress=not quiet, **own, **common)
    except TfrconvError as exc:
        raise with_exact_command(exc, command_line) from None
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(summary.lines()))
    return 0


def with_exact_command(exc: TfrconvError, command_line: list[str]) -> TfrconvError:
    """An error whose way out is `--label-map from-data` gets the whole command that works:
    this command line with that option instead of any --label-map it had."""
    hint = exc.hint
    if hint is None or hint.option != "label_map":
        return exc
    argv, skip = [], False
    for arg in command_line:
        if skip:
            skip = False
        elif arg == "--label-map":
            skip = True
        elif not arg.startswith("--label-map="):
            argv.append(arg)
    command = shlex.join(["tfrconv", *argv]).replace("{", "{{").replace("}", "}}")
    exc.hint = OptionHint(hint.option, hint.value, f"{hint.template}; the command that works: "
                          f"{command} {{option}}")
    exc.message = f"{exc.reason} ({exc.hint.render()})"
    exc.args = (exc.message,)
    return exc


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
    quiet = args.json or args.no_progress or getattr(args, "quiet", False)
    try:
        summary = Conversion(spec, opts, settings, progress=not quiet).run()
    except TfrconvError as exc:
        raise with_exact_command(exc, getattr(args, "command_line", sys.argv[1:])) from None
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
