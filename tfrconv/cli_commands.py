"""The core's own verbs: formats, plugins, plugin new, labelmap, sample."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .cli_convert import add_convert_command, warn_about_format_conflicts
from .cli_options import add_format_arguments, collect_options
from .errors import LabelMapError, UsageError
from .plugins import get_registry
from .settings import COMMON_OPTIONS

CORE_COMMANDS = ("formats", "plugins", "plugin", "labelmap", "convert", "sample")


def add_core_commands(sub, selected: str | None = None) -> None:
    """The core verbs; only the `selected` one gets its arguments (see cli.build_parser)."""
    formats = sub.add_parser("formats", help="list the registered formats and their options")
    formats.add_argument("--json", action="store_true")
    formats.set_defaults(handler=cmd_formats)

    plugins = sub.add_parser("plugins", help="list loaded plugins and any that failed to load")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(handler=cmd_plugins)

    plugin = sub.add_parser("plugin", help="start a plugin package (plugin new NAME)")
    plugin_sub = plugin.add_subparsers(title="plugin commands", metavar="ACTION")
    plugin_new = plugin_sub.add_parser(
        "new", help="write a plugin package: pyproject with the entry point, a small working "
        "format, tests using tfrconv.testing, a tiny dataset and a README")
    plugin_new.add_argument("name", metavar="NAME", help="the format name (also in the "
                            "distribution tfrconv-NAME and the module tfrconv_NAME)")
    plugin_new.add_argument("--dir", metavar="D", help="where to write it (default: "
                            "./tfrconv-NAME; must not exist or be empty)")
    plugin_new.set_defaults(handler=cmd_plugin_new)
    plugin.set_defaults(handler=lambda args: plugin.print_help() or 2)

    labelmap = sub.add_parser("labelmap", help="list, show, lint or create label maps")
    lm_sub = labelmap.add_subparsers(title="labelmap commands", metavar="ACTION")
    lm_list = lm_sub.add_parser("list", help="builtin and plugin label maps")
    lm_list.add_argument("--json", action="store_true")
    lm_list.set_defaults(handler=cmd_labelmap_list)
    lm_show = lm_sub.add_parser("show", help="print a label map (by name or path)")
    lm_show.add_argument("label_map", metavar="NAME|PATH")
    lm_show.add_argument("--json", action="store_true")
    lm_show.set_defaults(handler=cmd_labelmap_show)
    lm_lint = lm_sub.add_parser("lint", help="check a label map file for problems")
    lm_lint.add_argument("label_map", metavar="NAME|PATH")
    lm_lint.add_argument("--json", action="store_true")
    lm_lint.set_defaults(handler=cmd_labelmap_lint)
    lm_from = lm_sub.add_parser("from-data", help="write a label map from a dataset's classes")
    from_sub = lm_from.add_subparsers(title="formats", metavar="FORMAT")
    specs = sorted(get_registry().formats.values(), key=lambda s: s.name)
    for spec in specs if selected == "labelmap" else ():
        fmt = from_sub.add_parser(spec.name, help=spec.help)
        add_format_arguments(fmt, spec, common=False)
        fmt.add_argument("-o", "--out", metavar="PATH",
                         help="write the label map here (default: print it)")
        fmt.set_defaults(handler=cmd_labelmap_from_data, spec=spec)
    labelmap.set_defaults(handler=lambda args: labelmap.print_help() or 2)

    add_convert_command(sub)

    sample = sub.add_parser("sample", help="generate sample datasets")
    sample_sub = sample.add_subparsers(title="datasets", metavar="DATASET")
    shapes = sample_sub.add_parser(
        "shapes", help="synthetic shapes in VOC layout (real JPEGs): circle, square, triangle")
    shapes.add_argument("--out", required=True, metavar="DIR", help="folder to create")
    shapes.add_argument("--num-images", type=int, default=200, metavar="N")
    shapes.add_argument("--image-size", type=int, default=128, metavar="PX")
    shapes.add_argument("--val-fraction", type=float, default=0.2, metavar="F")
    shapes.add_argument("--seed", type=int, default=0)
    shapes.add_argument("--year", metavar="NAME",
                        help="nest the dataset as OUT/NAME (a VOCdevkit with one year)")
    shapes.set_defaults(handler=cmd_sample_shapes)
    sample.set_defaults(handler=lambda args: sample.print_help() or 2)


# -- formats and plugins -------------------------------------------------------------------
def _option_dict(option) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": option.name, "flag": option.flag, "type": option.type,
                             "help": option.help}
    if option.default is not None:
        entry["default"] = option.default
    if option.required:
        entry["required"] = True
    if option.choices:
        entry["choices"] = list(option.choices)
    return entry


def cmd_formats(args: argparse.Namespace) -> int:
    registry = get_registry()
    specs = sorted(registry.formats.values(), key=lambda s: s.name)
    if args.json:
        print(json.dumps({
            "formats": [{"name": s.name, "help": s.help, "plugin": registry.format_owner(s.name),
                         "detect": s.detect is not None,
                         "options": [_option_dict(o) for o in s.options]} for s in specs],
            "common_options": [_option_dict(o) for o in COMMON_OPTIONS],
        }, indent=2))
    else:
        _print_formats(registry, specs)
    failed = registry.failure_summary()
    if failed:
        print(f"tfrconv: {failed}", file=sys.stderr)
    return 0


def _print_formats(registry, specs) -> None:
    if not specs:
        print("no formats registered (is TFRCONV_LOAD_PLUGINS set?)")
    for spec in specs:
        print(f"{spec.name:10} {spec.help}  [{registry.format_owner(spec.name)}]")
        for option in spec.options:
            extra = " (required)" if option.required else (
                f" (default: {option.default})" if option.default not in (None, False) else "")
            print(f"    {option.flag:32} {option.help}{extra}")
    print("\ncommon options for every format: " +
          " ".join(o.flag for o in COMMON_OPTIONS) + "  (tfrconv FORMAT --help)")


def cmd_plugins(args: argparse.Namespace) -> int:
    """What loaded and what did not; exit 1 when any plugin failed to load or register."""
    registry = get_registry()
    plugins = [p.as_dict() for p in registry.plugins.values()]
    failures = [f.as_dict() for f in registry.failures]
    conflicts = [c.as_dict() for c in registry.conflicts]
    status = 1 if failures else 0
    if args.json:
        print(json.dumps({"plugins": plugins, "failures": failures, "conflicts": conflicts},
                         indent=2))
        return status
    for plugin in plugins:
        kind = "builtin" if plugin["builtin"] else (plugin["dist"] or "in-process")
        provides = ", ".join(
            f"{what}: {', '.join(plugin[what])}"
            for what in ("formats", "label_maps", "commands", "transforms") if plugin[what])
        print(f"{plugin['name']:14} {kind:18} {provides}")
    for conflict in registry.conflicts:
        print(f"WARNING {conflict.message()}", file=sys.stderr)
    for failure in failures:
        print(f"FAILED {failure['name']} ({failure['stage']}): {failure['error']}",
              file=sys.stderr)
    return status


def cmd_plugin_new(args: argparse.Namespace) -> int:
    from .scaffold import new_plugin

    root = new_plugin(args.name, args.dir)
    print(f"wrote the plugin package {root} (format {args.name!r}); next: "
          f"pip install -e {root} && python -m pytest {root / 'tests'}")
    return 0


# -- label maps ----------------------------------------------------------------------------
def cmd_labelmap_list(args: argparse.Namespace) -> int:
    from .labelmap_refs import load_label_map

    rows = []
    for name, source in sorted(get_registry().label_maps.items()):
        try:
            label_map = load_label_map(name)
            rows.append({"name": name, "items": len(label_map), "max_id": label_map.max_id,
                         "plugin": source.plugin, "description": source.description})
        except LabelMapError as exc:
            rows.append({"name": name, "error": str(exc), "plugin": source.plugin})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        if "error" in row:
            print(f"{row['name']:12} ERROR {row['error']}")
        else:
            print(f"{row['name']:12} {row['items']:4} classes (max id {row['max_id']})  "
                  f"{row['description']}")
    return 0


def cmd_labelmap_show(args: argparse.Namespace) -> int:
    from .labelmap_refs import load_label_map

    label_map = load_label_map(args.label_map)
    if args.json:
        print(json.dumps(label_map.as_dicts(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(label_map.to_text())
    return 0


def cmd_labelmap_lint(args: argparse.Namespace) -> int:
    import os

    from .labelmap import lint_label_map, parse_label_map
    from .labelmap_refs import load_label_map

    text = None
    if os.path.isfile(args.label_map):
        with open(args.label_map, "rb") as fileobj:
            raw = fileobj.read()
        try:
            label_map = parse_label_map(raw, source=args.label_map, validate=False)
        except LabelMapError as exc:
            if args.json:
                print(json.dumps({"file": args.label_map, "ok": False, "messages": [
                    {"severity": "error", "message": exc.message, "line": exc.line,
                     "column": exc.column}]}, indent=2))
                return 1
            print(f"{exc}", file=sys.stderr)
            return 1
        text = raw.decode("utf-8", errors="replace")
    else:
        label_map = load_label_map(args.label_map, validate=False)
    messages = lint_label_map(label_map, text)
    errors = [m for m in messages if m.severity == "error"]
    if args.json:
        print(json.dumps({"file": label_map.source, "ok": not errors, "items": len(label_map),
                          "messages": [m.__dict__ for m in messages]}, indent=2))
    else:
        for message in messages:
            where = f"{label_map.source}:{message.line}" if message.line else label_map.source
            print(f"{where}: {message.severity}: {message.message}")
        if not errors:
            print(f"{label_map.source}: OK ({len(label_map)} items, max id {label_map.max_id}"
                  f"{', ' + str(len(messages)) + ' warnings' if messages else ''})")
    return 1 if errors else 0


def cmd_labelmap_from_data(args: argparse.Namespace) -> int:
    from .pipeline import Conversion
    from .settings import Settings

    spec = args.spec
    warn_about_format_conflicts(spec.name)
    own, _common = collect_options(args)
    opts = spec.resolve(own)
    settings = Settings.resolve(spec, {"output": "-"})
    label_map = Conversion(spec, opts, settings).label_map_from_data()
    if not label_map.items:
        raise UsageError(f"no classes found in the {spec.name} data")
    if args.out:
        label_map.write(args.out)
        print(f"wrote {len(label_map)} classes to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(label_map.to_text())
    return 0


# -- sample data ---------------------------------------------------------------------------
def cmd_sample_shapes(args: argparse.Namespace) -> int:
    from .shapes import generate_shapes

    if args.num_images < 1:
        raise UsageError("--num-images must be at least 1")
    if args.image_size < 32:
        raise UsageError("--image-size must be at least 32")
    if not 0 <= args.val_fraction < 1:
        raise UsageError("--val-fraction must be in [0, 1)")
    root = generate_shapes(args.out, num_images=args.num_images, image_size=args.image_size,
                           val_fraction=args.val_fraction, seed=args.seed, year=args.year)
    print(f"wrote {args.num_images} images to {root} (VOC layout; label map: "
          f"{root}/label_map.pbtxt)")
    return 0
