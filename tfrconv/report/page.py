"""The report as one self-contained HTML page: inline CSS, charts as data: URIs, no script.

Nothing on the page reaches the network (no CDN, no fonts, no external images) and nothing needs
JavaScript, so it opens the same from a laptop, a CI artifact or an air-gapped machine. Every
text that came from the data is escaped. Each section is a `<section id=...>` (the browser test
checks them by these ids).
"""

from __future__ import annotations

import html
from typing import Any

from . import charts
from .aggregate import BOX_TITLES, SplitStats
from .compare import JS_MIN, KS_MIN_D, MIN_COUNT, Difference
from .conversion_problems import ProblemCatalogue
from .duplicates import NEAR_BITS, DuplicateIndex

SECTIONS = (
    ("overview", "Overview"),
    ("class-balance", "Class balance"),
    ("boxes-per-image", "Boxes per image"),
    ("box-shapes", "Box width, height, aspect and area"),
    ("box-centres", "Where the boxes are"),
    ("images", "Image sizes and formats"),
    ("split-differences", "Where the splits differ"),
    ("problems", "Conversion problems"),
    ("label-map", "Label map"),
    ("duplicates", "Duplicates and leakage"),
)

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d232a; background: #f6f7f9; }
header { background: #1d3557; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
nav { background: #fff; border-bottom: 1px solid #dde; padding: 8px 28px; position: sticky;
      top: 0; z-index: 1; }
nav a { margin-right: 14px; color: #1d3557; text-decoration: none; font-size: 14px; }
main { padding: 8px 28px 40px; max-width: 1180px; }
section { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; margin: 18px 0;
          padding: 6px 20px 16px; }
h2 { font-size: 19px; border-bottom: 1px solid #eee; padding-bottom: 6px; }
.table { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
td { overflow-wrap: break-word; }
th, td { border: 1px solid #e1e4e8; padding: 3px 9px; text-align: right; }
th { background: #f3f5f8; } td.text, th.text { text-align: left; }
img.chart { max-width: 100%; height: auto; display: block; margin: 8px 0; }
.note { background: #fff4e5; border-left: 4px solid #f0a020; padding: 6px 10px; margin: 8px 0; }
.ok { background: #eaf7ee; border-left: 4px solid #2ca02c; padding: 6px 10px; margin: 8px 0; }
.muted { color: #66707a; font-size: 13px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
          margin-right: 4px; vertical-align: baseline; }
.tag { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px;
       background: #fde2e1; color: #9b1c1c; }
.thumbs { display: flex; flex-wrap: wrap; gap: 12px; }
figure.problem { margin: 0; width: 220px; font-size: 12px; }
figure.problem img { width: 200px; height: auto; border: 1px solid #ccc; display: block; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render_page(title: str, stats: list[SplitStats], summary: dict, differences:
                list[Difference], catalogue: ProblemCatalogue, duplicates: DuplicateIndex,
                classes: list[str], label_map) -> str:
    notes = [d for d in differences if d.marked]
    body = {
        "overview": _overview(stats, notes, bool(differences)),
        "class-balance": _class_balance(stats, classes, differences),
        "boxes-per-image": _boxes_per_image(stats, differences),
        "box-shapes": _box_shapes(stats, differences),
        "box-centres": _centres(stats, differences),
        "images": _images(stats, differences),
        "split-differences": _differences(stats, differences),
        "problems": _problems(catalogue),
        "label-map": _label_map(summary["label_map"], stats),
        "duplicates": _duplicates(duplicates),
    }
    sections = "".join(f'<section id="{key}"><h2>{_e(heading)}</h2>{body[key]}</section>\n'
                       for key, heading in SECTIONS)
    links = "".join(f'<a href="#{key}">{_e(heading)}</a>' for key, heading in SECTIONS)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{_e(title)}</h1><div>{_legend(stats)}</div></header>"
            f"<nav>{links}</nav><main>\n{sections}</main></body></html>\n")


def _legend(stats: list[SplitStats]) -> str:
    return " ".join(f'<span><span class="swatch" style="background:{charts.colour(i)}">'
                    f"</span>{_e(s.name)}</span>" for i, s in enumerate(stats))


def _chart(uri: str, alt: str) -> str:
    return f'<img class="chart" src="{uri}" alt="{_e(alt)}">'


def _table(header: list[str], rows: list[list[Any]], text_columns: int | tuple = 1) -> str:
    """A table; `text_columns` (the first N, or these indexes) are left-aligned text."""
    text = set(range(text_columns)) if isinstance(text_columns, int) else set(text_columns)

    def cells(tag: str, row: list[Any]) -> str:
        return "".join(f'<{tag}{" class=text" if i in text else ""}>{_e(v)}</{tag}>'
                       for i, v in enumerate(row))

    return ('<div class="table"><table><tr>' + cells("th", header) + "</tr>" +
            "".join("<tr>" + cells("td", row) + "</tr>" for row in rows) + "</table></div>")


def _notes_for(differences: list[Difference], *names: str) -> str:
    marked = [d for d in differences if d.marked and d.what in names]
    return "".join(f'<p class="note">Differs markedly: {_e(d.sentence())}</p>' for d in marked)


def _overview(stats: list[SplitStats], notes: list[Difference], compared: bool) -> str:
    rows = [[s.name, len(s.files), s.examples, s.objects, s.empty_images,
             round(s.objects / s.examples, 2) if s.examples else "-", len(s.classes),
             s.read_errors] for s in stats]
    parts = [_table(["split", "files", "images", "objects", "images without boxes",
                     "objects per image", "classes", "unreadable records"], rows)]
    for split in stats:
        if split.errors:
            parts.append(f"<p class=note>{_e(split.name)}: {split.read_errors} records could "
                         "not be read: " + "; ".join(_e(e) for e in split.errors[:5]) + "</p>")
    if len(stats) > 1 and not compared:
        parts.append(f"<p>The splits are too small to compare (fewer than {MIN_COUNT} values "
                     "on a side).</p>")
    elif len(stats) > 1:
        parts.append(f'<p class="{"note" if notes else "ok"}">'
                     f"{len(notes)} marked difference(s) between the splits "
                     '(<a href="#split-differences">details</a>).</p>')
    parts.append('<p class="muted">Files: ' + "; ".join(
        f"{_e(s.name)}: " + ", ".join(_e(f) for f in s.files[:6]) +
        (f" and {len(s.files) - 6} more" if len(s.files) > 6 else "") for s in stats) + "</p>")
    return "".join(parts)


def _class_balance(stats, classes, differences) -> str:
    if not classes:
        return "<p>No objects in these records.</p>"
    total_classes = len({n for s in stats for n in s.classes})
    rows = []
    for name in classes:
        row: list[Any] = [name]
        for split in stats:
            objects, images = split.classes.get(name, (0, 0))
            row += [objects, images]
        rows.append(row)
    header = ["class"] + [f"{s.name} {what}" for s in stats for what in ("objects", "images")]
    more = (f'<p class="muted">Showing the {len(classes)} classes with the most objects of '
            f"{total_classes}.</p>" if total_classes > len(classes) else "")
    return (_notes_for(differences, "objects per class") +
            _chart(charts.class_balance(stats, classes), "objects and images per class") +
            more + _table(header, rows))


def _boxes_per_image(stats, differences) -> str:
    rows = [[s.name, s.examples, s.empty_images, s.per_image.over,
             round(s.objects / s.examples, 2) if s.examples else "-"] for s in stats]
    last_bin = len(stats[0].per_image.counts) - 1
    return (_notes_for(differences, "boxes per image") +
            _chart(charts.boxes_per_image(stats), "boxes per image") +
            _table(["split", "images", "with no box", f"with more than {last_bin}", "mean"],
                   rows))


def _box_shapes(stats, differences) -> str:
    rows = []
    for split in stats:
        for name, what in BOX_TITLES.items():
            q = split.quantiles[name].as_dict(4)
            rows.append([split.name, what, q.get("count", 0), q.get("min", "-"),
                         q.get("p5", "-"), q.get("median", "-"), q.get("p95", "-"),
                         q.get("max", "-")])
    bad = [f"{s.name}: {s.nan_boxes} NaN, {s.degenerate} with zero or negative size, "
           f"{s.outside} reaching outside 0-1" for s in stats
           if s.nan_boxes or s.degenerate or s.outside]
    return (_notes_for(differences, *BOX_TITLES.values()) +
            _chart(charts.box_shapes(stats), "box width, height, aspect and area") +
            _table(["split", "measure", "boxes", "min", "p5", "median", "p95", "max"], rows, 2) +
            "".join(f"<p class=note>{_e(line)}</p>" for line in bad) +
            '<p class="muted">Pixels use the image size read from the image bytes (else the '
            "stored width and height); boxes are normalized coordinates.</p>")


def _centres(stats, differences) -> str:
    outside = [f"{s.name}: {s.centres.outside}" for s in stats if s.centres.outside]
    return (_notes_for(differences, "box centres (4 x 4 cells)") +
            _chart(charts.centres(stats), "heat map of box centres") +
            '<p class="muted">Each cell is a share of the split\'s boxes; the image is seen '
            "as the model sees it (x right, y down).</p>" +
            (f"<p class=note>Box centres outside the image: {_e(', '.join(outside))}</p>"
             if outside else ""))


def _images(stats, differences) -> str:
    totals: dict[str, int] = {}
    formats: dict[str, int] = {}
    for split in stats:
        for size, count in split.sizes.items():
            totals[size] = totals.get(size, 0) + count
        for name, count in split.formats.items():
            formats[name] = formats.get(name, 0) + count
    sizes = sorted(totals, key=lambda k: (-totals[k], k))[:12]
    format_names = sorted(formats, key=lambda k: (-formats[k], k))
    rows = [[s.name, len(s.sizes), ", ".join(f"{k}: {v}" for k, v in s.formats.most_common()),
             s.no_image] for s in stats]
    chart = _chart(charts.image_sizes(stats, sizes, format_names), "image sizes and formats") \
        if sizes or format_names else "<p>No images.</p>"
    return (_notes_for(differences, "image sizes", "image formats") + chart +
            _table(["split", "distinct sizes", "formats", "without image bytes"], rows, 3))


def _differences(stats, differences) -> str:
    if len(stats) < 2:
        return "<p>One split only: nothing to compare. Name several record sets to compare them " \
            "(<code>tfrconv report train.record val.record ...</code>).</p>"
    method = (f'<p class="muted">Each split is compared with the first, {_e(stats[0].name)}. '
              "Numeric distributions: two-sample Kolmogorov-Smirnov statistic D on the shared "
              f"bins, marked when D &ge; {KS_MIN_D} and above the 1% critical value "
              "1.628&middot;&radic;((n+m)/(nm)). Categories: Jensen-Shannon divergence (bits), "
              f"marked at &ge; {JS_MIN}, or when a class expected at least 5 times is absent. "
              f"Fewer than {MIN_COUNT} values on either side: not compared.</p>")
    if not differences:
        return method + "<p>Too few values to compare.</p>"
    rows = [[d.what, d.split, d.reference, d.test, f"{d.value:.3f}", f"{d.threshold:.3f}",
             "differs markedly" if d.marked else "similar", d.detail] for d in differences]
    return method + _table(["distribution", "split", "reference", "test", "value", "marked at",
                            "verdict", "detail"], rows, 3)


def _problems(catalogue: ProblemCatalogue) -> str:
    if not catalogue.by_origin:
        return ("<p>No problem report was given and no manifest was found beside the records. "
                "Convert with <code>--report problems.jsonl</code> and pass "
                "<code>--problems problems.jsonl</code> to list every problem here.</p>")
    rows = [[origin, kind, count] for origin, counts in catalogue.by_origin.items()
            for kind, count in sorted(counts.items())]
    parts = [_table(["source", "kind", "count"], rows, 2)] if rows else []
    if catalogue.skipped_images:
        parts.append(f"<p>{catalogue.skipped_images} image(s) were skipped by the conversion "
                     "(they are not in the records).</p>")
    if not catalogue.entries:
        parts.append('<p class="ok">The conversion reported no problems.</p>')
        return "".join(parts)
    by_image: dict[str, list] = {}
    for entry in catalogue.entries:
        if entry.thumbnail:
            by_image.setdefault(entry.thumbnail, []).append(entry)
    if by_image:
        parts.append('<div class="thumbs">' + "".join(
            _problem_figure(uri, entries) for uri, entries in by_image.items()) + "</div>")
    rows = [[e.kind, e.action, e.source_id or "", e.file or "",
             e.found_in or "not in the records", e.message] for e in catalogue.entries]
    parts.append(_table(["kind", "action", "source id", "file", "image", "message"], rows, 6))
    return "".join(parts)


def _problem_figure(uri: str, entries: list) -> str:
    """One image with its boxes drawn, captioned with the problems that name it."""
    first = entries[0]
    lines = "".join(f"<br><b>{_e(e.kind)}</b> ({_e(e.action)}): {_e(e.message)}"
                    for e in entries[:3])
    more = f"<br>and {len(entries) - 3} more" if len(entries) > 3 else ""
    return (f'<figure class="problem"><img src="{uri}" alt="{_e(first.source_id or first.file)}">'
            f"<figcaption>{_e(first.source_id or first.file)} in {_e(first.found_in)}"
            f"{lines}{more}</figcaption></figure>")


def _label_map(table: dict, stats: list[SplitStats]) -> str:
    parts = []
    if table["source"] is None:
        parts.append("<p>No label map given or found beside the records "
                     "(<code>--label-map</code>).</p>")
    else:
        parts.append(f"<p>From {_e(table['source'])}.</p>")
        rows = [[item["id"], item["name"], item["display_name"] or "", *item["objects"],
                 "unused: no objects in any split" if item["unused"] else ""]
                for item in table["items"]]
        parts.append(_table(["id", "name", "display name", *[s.name for s in stats], "note"],
                            rows, (1, 2, 3 + len(stats))))
    if table["unseen"]:
        parts.append('<p class="note">Classes in the records that the label map does not '
                     "have: " + ", ".join(f'<span class="tag">{_e(n)}</span>'
                                          for n in table["unseen"][:100]) + "</p>")
    elif table["source"] is not None:
        parts.append('<p class="ok">Every class in the records is in the label map.</p>')
    return "".join(parts)


def _duplicates(duplicates: DuplicateIndex) -> str:
    summary = duplicates.summary()
    parts = [f"<p>{summary['images']} images hashed (SHA-256 of the encoded bytes): "
             f"{summary['exact_groups']} group(s) of identical images, "
             f"{summary['exact_extra_copies']} extra copies, "
             f"<b>{summary['exact_groups_across_splits']} shared between splits</b> "
             "(leakage).</p>"]
    groups = duplicates.groups()
    if groups:
        rows = [[g.count, ", ".join(sorted(g.splits)),
                 "; ".join(f"{m.split}: {m.name}" for m in g.members) +
                 (" ..." if g.count > len(g.members) else "")] for g in groups]
        parts.append(_table(["copies", "splits", "images"], rows, 3))
    if summary["near_checked"]:
        parts.append(f"<p>Near duplicates (8x8 average hash, at most {NEAR_BITS} of 64 bits "
                     f"differ): {summary['near_pairs']} pair(s), "
                     f"{summary['near_pairs_across_splits']} across splits.</p>")
        if duplicates.near_pairs:
            parts.append(_table(["distance (bits)", "image", "similar image"],
                                [[p.distance, f"{p.first.split}: {p.first.name}",
                                  f"{p.second.split}: {p.second.name}"]
                                 for p in duplicates.near_pairs], (1, 2)))
    else:
        parts.append('<p class="muted">Near duplicates were not checked (add '
                     "<code>--near-duplicates</code>: every image is decoded at 1/8 scale, "
                     "a few milliseconds each).</p>")
    if not groups and not duplicates.near_pairs:
        parts.append('<p class="ok">No duplicates found.</p>')
    return "".join(parts)
