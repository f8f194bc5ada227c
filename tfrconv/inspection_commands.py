"""Looking at records and folders: `tfrconv inspect`, `tfrconv verify`, `tfrconv detect-format`.

The commands' arguments are declared here, in the core beside `inspect`, `verify` and `detect`;
the builtin plugin `tfrconv_plugins.inspection` only registers `COMMANDS`. The work (and every
heavy import, TensorFlow included) happens inside `run`, so `tfrconv --help` stays fast.
"""

from __future__ import annotations

from .commands import Command

RECORDS_HELP = ("a record file, a glob of shards ('train.record-*') or a folder holding record "
                "files (GZIP is detected)")


def _inspect_arguments(parser) -> None:
    parser.add_argument("records", metavar="PATH|GLOB", help=RECORDS_HELP)
    parser.add_argument("--json", action="store_true", help="print the statistics as JSON")
    parser.add_argument("--show", type=int, metavar="N",
                        help="print the features of the first N examples (image bytes "
                        "summarised)")
    parser.add_argument("--draw", type=int, metavar="N",
                        help="draw the first N examples with their boxes and class names as "
                        "PNGs, plus an index.html contact sheet (needs --out)")
    parser.add_argument("--out", metavar="DIR", help="folder for --draw")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="look at the first N examples only (default: all)")
    parser.add_argument("--label-map", metavar="NAME|PATH",
                        help="label map to name the classes with (default: the one beside the "
                        "records, if any)")


def _run_inspect(args) -> int:
    from .inspect import run

    return run(args)


def _verify_arguments(parser) -> None:
    parser.add_argument("records", metavar="PATH|GLOB", help=RECORDS_HELP)
    parser.add_argument("--label-map", metavar="NAME|PATH",
                        help="check classes against this label map (default: the label map "
                        "beside the records: the tfrconv manifest's, or label_map.pbtxt)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--strict", action="store_true",
                        help="fail on warnings too (missing sha256, EXIF rotation, ...)")
    parser.add_argument("--max-boxes", type=int, default=100, metavar="N",
                        help="warn about images with more boxes than the pipeline config's "
                        "max_number_of_boxes (default: 100)")
    parser.add_argument("--no-decode", action="store_true",
                        help="check without decoding images or masks, and without TensorFlow: "
                        "framing and CRCs, feature keys and types, list lengths, boxes, "
                        "classes, sha256 of the image bytes, and format, size and truncation "
                        "as the image and mask headers say (damage inside the pixels goes "
                        "unseen)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="with --no-decode, check up to N files at once in worker "
                        "processes (default: one per CPU; the report is the same)")


def _run_verify(args) -> int:
    from .verify import run

    return run(args)


def _detect_arguments(parser) -> None:
    parser.add_argument("path", metavar="DIR", help="the dataset folder (or file)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _run_detect(args) -> int:
    import json

    from .detect import detect_formats
    from .layouts import find_layout

    report = detect_formats(args.path)
    layout = find_layout(args.path)            # a folder of splits (train/ valid/ test/ ...)
    found = layout is not None and bool(layout.splits)
    if args.json:
        print(json.dumps({**report.as_dict(), "layout": layout.as_dict() if found else None},
                         indent=2, ensure_ascii=False))
    else:
        print("\n".join(report.lines() + (layout.lines() if found else [])))
    return 0 if report.verdict == "unique" or found else 1


COMMANDS = (
    Command(
        name="inspect", help="show what is inside record files: counts, classes, boxes, "
        "images, fields; print or draw examples", add_arguments=_inspect_arguments,
        run=_run_inspect,
        description="Show what is inside OD-API record files (written by tfrconv or any other "
        "tool): counts, a per-class table, box and image statistics and which feature keys are "
        "present. Reads in one pass with constant memory, so any size works."),
    Command(
        name="verify", help="check that the OD API will read record files correctly "
        "(exit 1 with every problem)", add_arguments=_verify_arguments, run=_run_verify,
        description="Read every record the way the OD API's decoder does (TensorFlow): parse "
        "with its feature spec, decode every image, and check sizes, sha256, boxes, list "
        "lengths, classes against the label map, masks and the CRC of every record. Prints "
        "OK and exits 0 when the files are clean; otherwise lists every problem and exits 1. "
        "--no-decode checks everything but the pixels, without TensorFlow, several times "
        "faster."),
    Command(
        name="detect-format", help="say which registered formats a dataset folder looks like, "
        "and why the others do not", add_arguments=_detect_arguments, run=_run_detect,
        description="Ask every registered format (builtin and plugins) whether a folder looks "
        "like it. Exits 0 when exactly one format matches (the one `tfrconv convert` would "
        "use), 1 otherwise."),
)
