"""`tfrconv records ...`: the command group's declarations (arguments and what runs).

The builtin plugin `tfrconv_plugins.records` registers `COMMAND`; each subcommand is a `Command`
in `SUBCOMMANDS` (add one there to extend the group). Work and heavy imports happen inside the
run functions, so `tfrconv --help` stays fast. Every writing subcommand runs with SIGTERM and
SIGHUP turned into an exception, so an interrupted run leaves no file behind.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ..commands import Command

RECORDS_HELP = ("record files, shard globs ('train.record-*') or folders of record files, from "
                "any producer (GZIP is detected)")


# -- shared arguments ----------------------------------------------------------------------
def _inputs(parser, *, several: str = "+") -> None:
    parser.add_argument("inputs", nargs=several, metavar="RECORDS", help=RECORDS_HELP)


def _reading(parser) -> None:
    parser.add_argument("--on-error", choices=("error", "skip"), default="error",
                        help="a damaged record (bad CRC, truncated file, not an Example): "
                        "stop with its file and index (error, the default) or leave it out and "
                        "salvage the rest (skip)")


def _writing(parser, *, shards: bool = True) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="PATH",
                        help="output record file (shards are PATH-00000-of-0000N); its label "
                        "map and manifest are written beside it")
    if shards:
        parser.add_argument("--num-shards", type=int, default=1, metavar="N",
                            help="number of output shards (default: 1)")
    parser.add_argument("--compression", choices=("none", "gzip"), default="none",
                        help="compress the output records")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")
    _reading(parser)


def _label_map(parser, text: str) -> None:
    parser.add_argument("--label-map", metavar="NAME|PATH", help=text)


def _guarded(work: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], int]:
    """Run `work` with SIGTERM/SIGHUP as an exception (so unpublished files are removed),
    then print what it wrote."""
    def run(args: argparse.Namespace) -> int:
        from ..errors import Interrupted
        from ..runners.signals import signals_as_errors

        try:
            with signals_as_errors():
                result = work(args)
        except KeyboardInterrupt:
            raise Interrupted("interrupted; no output was written (temporary files "
                              "removed)") from None
        manifests = result if "manifest_version" not in result else {None: result}
        if args.json:
            print(json.dumps(result, indent=2, ensure_ascii=False))
            return 0
        for manifest in manifests.values():
            _print_written(manifest)
        return 0
    return run


def _print_written(manifest: dict[str, Any]) -> None:
    print(f"wrote {manifest['examples']} examples ({manifest['objects']} objects) to "
          f"{manifest['shard_glob']} in {manifest['num_shards']} shard(s)"
          + (f", split {manifest['split']}" if manifest.get("split") else ""))
    for note in manifest.get("notes", []):
        print(f"  note: {note}")
    if manifest.get("skipped_records"):
        print(f"  skipped {manifest['skipped_records']} damaged records (--on-error skip)")
    for path in manifest.get("removed_stale_shards", []):
        print(f"  removed {path} (a shard of an earlier run with another shard count)")


def _common(args) -> dict[str, Any]:
    return {"compression": args.compression, "on_error": args.on_error}


def _runner(parser) -> None:
    """Conversion's --runner and --beam-options, for the commands that have a Beam runner."""
    parser.add_argument("--runner", choices=("local", "beam"), default="local",
                        help="where it runs: local (this process, the default) or beam (an "
                        "Apache Beam pipeline reading the input files in parallel; the same "
                        "output; docs/scaling.md)")
    parser.add_argument("--beam-options", metavar="OPTIONS",
                        help="Beam pipeline options for --runner beam, as one string, e.g. "
                        "\"--runner=DirectRunner --direct_num_workers=2\"")


def _where(args) -> dict[str, Any]:
    from ..errors import UsageError

    if args.beam_options and args.runner != "beam":
        raise UsageError("--beam-options needs --runner beam")
    return {"runner": args.runner, "beam_options": args.beam_options}


# -- merge ---------------------------------------------------------------------------------
def _merge_arguments(parser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="RECORDS",
                        help="two or more record sets (each a file, shard glob or folder), "
                        "each with its label map beside it")
    _writing(parser)
    _label_map(parser, "the merged label map to use (default: the inputs' maps merged: the "
               "first set's ids kept, conflicts reported)")
    _runner(parser)


def _merge(args) -> dict[str, Any]:
    from .merge import merge_records

    return merge_records(args.inputs, args.output, label_map=args.label_map,
                         num_shards=args.num_shards, **_common(args), **_where(args))


# -- reshard -------------------------------------------------------------------------------
def _reshard_arguments(parser) -> None:
    _inputs(parser)
    _writing(parser, shards=False)
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--num-shards", type=int, metavar="N", help="number of output shards")
    size.add_argument("--shard-size", metavar="SIZE",
                      help="about this many bytes per shard (200MB, 1GiB, ...)")
    _label_map(parser, "label map to write beside the output (default: the inputs')")
    _runner(parser)


def _reshard(args) -> dict[str, Any]:
    from .reshard import reshard_records

    return reshard_records(args.inputs, args.output, num_shards=args.num_shards,
                           shard_size=args.shard_size, label_map=args.label_map,
                           **_common(args), **_where(args))


# -- split ---------------------------------------------------------------------------------
def _split_arguments(parser) -> None:
    _inputs(parser)
    _writing(parser)
    parser.add_argument("--split", required=True, metavar="NAME=SHARE,...",
                        help="parts and their shares, adding up to 1, e.g. train=0.8,val=0.2 "
                        "(written as OUTPUT_train.record, ...): conversion's --split rule")
    parser.add_argument("--split-seed", type=int, default=0, metavar="N",
                        help="another seed gives another (equally stable) split (default: 0)")
    parser.add_argument("--split-by", choices=("content", "id"), default="content",
                        help="key an example by its image's sha256 (content, the default) or "
                        "its source id")
    parser.add_argument("--group-by", metavar="PATTERN",
                        help="keep examples whose file name (else source id) gives the same "
                        "match of this regular expression in one part")
    _label_map(parser, "label map to write beside the parts (default: the inputs')")


def _split(args) -> dict[str, Any]:
    from .split import split_records

    return split_records(args.inputs, args.output, split=args.split, seed=args.split_seed,
                         by=args.split_by, group_by=args.group_by, num_shards=args.num_shards,
                         label_map=args.label_map, **_common(args))


# -- filter and remap ----------------------------------------------------------------------
def _filter_arguments(parser) -> None:
    _inputs(parser)
    _writing(parser)
    # Spelled as conversion's transforms spell them (--keep/--drop for short).
    parser.add_argument("--keep-classes", "--keep", dest="keep", metavar="A,B",
                        help="keep only objects of these classes")
    parser.add_argument("--drop-classes", "--drop", dest="drop", metavar="A,B",
                        help="drop objects of these classes")
    parser.add_argument("--min-box-size", type=float, default=0.0, metavar="PX",
                        help="drop boxes whose shorter side is under PX pixels")
    parser.add_argument("--drop-empty", action="store_true",
                        help="drop examples without objects (after filtering)")
    _label_map(parser, "label map for the output ids (default: the inputs')")


def _filter(args) -> dict[str, Any]:
    from .transform import filter_records

    return filter_records(args.inputs, args.output, keep=args.keep, drop=args.drop,
                          min_box_size=args.min_box_size, drop_empty=args.drop_empty,
                          label_map=args.label_map, num_shards=args.num_shards,
                          **_common(args))


def _remap_arguments(parser) -> None:
    _inputs(parser)
    parser.add_argument("--rename", "--remap", dest="rename", required=True,
                        metavar="OLD=NEW,...",
                        help="class renames, e.g. 'van=car,Truck=truck' (renaming onto an "
                        "existing class merges the two)")
    _writing(parser)
    _label_map(parser, "label map for the output ids (default: the inputs', renamed)")


def _remap(args) -> dict[str, Any]:
    from .transform import remap_records

    return remap_records(args.inputs, args.output, args.rename, label_map=args.label_map,
                         num_shards=args.num_shards, **_common(args))


# -- cat and head --------------------------------------------------------------------------
def _show_arguments(parser, *, head: bool) -> None:
    _inputs(parser)
    if head:
        parser.add_argument("-n", type=int, default=10, metavar="N",
                            help="how many examples (default: 10)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    _label_map(parser, "label map naming class ids (default: the one beside the records)")
    _reading(parser)


def _run_show(args) -> int:
    from .show import show

    show(args.inputs, limit=getattr(args, "n", None), as_json=args.json,
         label_map=args.label_map, on_error=args.on_error)
    return 0


# -- diff ----------------------------------------------------------------------------------
def _diff_arguments(parser) -> None:
    parser.add_argument("a", metavar="A", help="the first record set (file, glob or folder)")
    parser.add_argument("b", metavar="B", help="the second record set")
    parser.add_argument("--match", choices=("sha256", "source-id"), default="sha256",
                        help="pair examples by image sha256 (default) or by source id")
    parser.add_argument("--json", action="store_true", help="print the differences as JSON")
    _reading(parser)


def _run_diff(args) -> int:
    from .diff import diff_records

    result = diff_records(args.a, args.b, match=args.match, on_error=args.on_error)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(result.lines()))
    return 0 if result.equal else 1


# -- export (arguments and code in tfrconv.records.export) ---------------------------------
def _export_arguments(parser) -> None:
    from .export import add_export_arguments

    add_export_arguments(parser)


def _run_export(args) -> int:
    from .export import run_export

    return run_export(args)


SUBCOMMANDS: list[Command] = [
    Command("merge", "merge record sets and their label maps into one (ids rewritten "
            "consistently, conflicts reported)", _merge_arguments, _guarded(_merge)),
    Command("reshard", "rewrite records in another number or size of shards (bytes copied "
            "as they are)", _reshard_arguments, _guarded(_reshard)),
    Command("split", "split records into parts by share, stably by image hash (conversion's "
            "--split rule)",
            _split_arguments, _guarded(_split)),
    Command("filter", "keep or drop classes, small boxes, empty examples", _filter_arguments,
            _guarded(_filter)),
    Command("remap", "rename classes ('van=car,Truck=truck')", _remap_arguments,
            _guarded(_remap)),
    Command("cat", "one line per example (--json: one object per line)",
            lambda parser: _show_arguments(parser, head=False), _run_show),
    Command("head", "one line for each of the first N examples",
            lambda parser: _show_arguments(parser, head=True), _run_show),
    Command("diff", "compare two record sets example by example (exit 0 equal, 1 different)",
            _diff_arguments, _run_diff),
    Command("export", "write records back out as a VOC, COCO or YOLO dataset folder",
            _export_arguments, _run_export),
]


class _ArgumentsWhenChosen(argparse._SubParsersAction):
    """Subcommands whose arguments are declared only when one is invoked: declaring them all
    would import what each needs (export's formats), on every `tfrconv records ...` run."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.declare: dict[str, Command] = {}

    def __call__(self, parser, namespace, values, option_string=None):
        command = self.declare.pop(values[0], None) if values else None
        if command is not None:
            action = self._name_parser_map[values[0]]
            command.add_arguments(action)
            action.add_argument("--debug", action="store_true", help="show tracebacks")
        super().__call__(parser, namespace, values, option_string)


def _group_arguments(parser) -> None:
    sub = parser.add_subparsers(title="records commands", metavar="ACTION",
                                action=_ArgumentsWhenChosen)
    for command in SUBCOMMANDS:
        action = sub.add_parser(command.name, help=command.help,
                                description=command.description or command.help)
        action.set_defaults(records_run=command.run)
        sub.declare[command.name] = command
    parser.set_defaults(records_help=parser.print_help)


def _run_group(args) -> int:
    run = getattr(args, "records_run", None)
    if run is None:
        args.records_help(sys.stderr)
        return 2
    return run(args)


COMMAND = Command(
    name="records", help="work on record files: merge, reshard, split, filter, remap, cat, "
    "head, diff", add_arguments=_group_arguments, run=_run_group,
    description="Records in, records out: merge, reshard, split, filter, remap, look at and "
    "compare OD-API record files from any producer. Writing commands stream (flat memory), "
    "copy unchanged examples byte for byte, and publish the output with its label map and "
    "manifest only when they finish.")
