"""`tfrconv report`: its arguments and its run, declared in the core.

The builtin plugin `tfrconv_plugins.report` only registers `COMMANDS`. Nothing heavy is
imported until `run`: matplotlib (the `[report]` extra) loads only while the page is drawn.
"""

from __future__ import annotations

from .commands import Command

RECORDS_HELP = ("a record set: a record file, a glob of shards ('train.record-*') or a folder; "
                "NAME=PATH names the split (default: from the file name)")


def _arguments(parser) -> None:
    parser.add_argument("records", nargs="+", metavar="[NAME=]PATH|GLOB", help=RECORDS_HELP)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for index.html and report.json (created)")
    parser.add_argument("--label-map", metavar="NAME|PATH",
                        help="label map to check classes against (default: the one beside the "
                        "first record set, if any)")
    parser.add_argument("--problems", action="append", default=[], metavar="JSONL",
                        help="a conversion's --report file: every problem is listed, with "
                        "thumbnails of the images concerned (repeat for several); manifests "
                        "beside the records are read anyway")
    parser.add_argument("--near-duplicates", action="store_true",
                        help="also find near-duplicate images (decodes every image at 1/8 "
                        "scale: a few ms each)")
    parser.add_argument("--title", help="the page title")


def _run(args) -> int:
    import os

    from .report import write_report

    label_map = None
    if args.label_map:
        from .labelmap_refs import load_label_map

        label_map = load_label_map(args.label_map, validate=False)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        from .errors import UsageError

        raise UsageError("tfrconv report draws its charts with matplotlib: "
                         "pip install 'tfrconv[report]'") from None
    report = write_report(args.records, args.out, label_map=label_map, problems=args.problems,
                          near_duplicates=args.near_duplicates, title=args.title)
    marked = [d for d in report.differences if d.marked]
    for difference in marked:
        print("differs markedly: " + difference.sentence())
    print(f"report: {os.path.abspath(report.path)}")
    return 0


COMMANDS = (
    Command(
        name="report", help="write one self-contained HTML health report (charts, split "
        "differences, problems, label map, duplicates) for record sets",
        add_arguments=_arguments, run=_run,
        description="Read one or more record sets (splits) once and write an offline HTML page: "
        "class balance, boxes per image, box sizes and shapes, a heat map of box centres, image "
        "sizes and formats, the splits side by side with a note where they differ markedly, "
        "the conversion's problems with thumbnails, the label map with unused and unseen "
        "classes, and duplicate or leaked images. Needs the [report] extra (matplotlib)."),
)
