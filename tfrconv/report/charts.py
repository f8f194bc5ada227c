"""The report's charts: matplotlib (Agg, no pyplot, no global state), as inline PNG data URIs.

Every chart puts all splits on the same axes (shares, not raw counts, so a small validation
split is comparable with a large training split), in the same colour per split throughout the
page. matplotlib is imported here only, when a report is built: it is the `[report]` extra.
"""

from __future__ import annotations

import base64
import io
import math

from .aggregate import BOX_TITLES, SplitStats, share

DPI = 96
SPLIT_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")


def colour(index: int) -> str:
    return SPLIT_COLOURS[index % len(SPLIT_COLOURS)]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return figure


def _data_uri(figure) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def class_balance(splits: list[SplitStats], classes: list[str]) -> str:
    """Two panels, one bar per class and split: share of the split's objects, and share of its
    images that contain the class."""
    rows = max(len(classes), 1)
    figure = _figure(10, 1.2 + 0.22 * rows * max(1, len(splits) / 2))
    objects_axes, images_axes = figure.subplots(1, 2, sharey=True)
    bar = 0.8 / max(len(splits), 1)
    for index, split in enumerate(splits):
        positions = [row + (index - (len(splits) - 1) / 2) * bar for row in range(len(classes))]
        objects = [split.classes.get(name, (0, 0))[0] for name in classes]
        images = [split.classes.get(name, (0, 0))[1] for name in classes]
        total_objects = max(split.objects, 1)
        total_images = max(split.examples, 1)
        objects_axes.barh(positions, [100 * o / total_objects for o in objects], height=bar,
                          color=colour(index), label=split.name)
        images_axes.barh(positions, [100 * i / total_images for i in images], height=bar,
                         color=colour(index), label=split.name)
    objects_axes.set_yticks(range(len(classes)), classes)
    objects_axes.invert_yaxis()
    objects_axes.set_xlabel("% of the split's objects")
    images_axes.set_xlabel("% of the split's images containing the class")
    objects_axes.legend(loc="lower right", fontsize="small")
    for axes in (objects_axes, images_axes):
        axes.grid(axis="x", alpha=0.3)
    return _data_uri(figure)


def boxes_per_image(splits: list[SplitStats]) -> str:
    figure = _figure(10, 3.2)
    axes = figure.subplots()
    last = max((max((i for i, c in enumerate(s.per_image.counts) if c), default=0)
                for s in splits), default=0)
    bar = 0.8 / max(len(splits), 1)
    for index, split in enumerate(splits):
        total = max(split.per_image.total, 1)
        heights = [100 * c / total for c in split.per_image.counts[:last + 1]]
        positions = [k + (index - (len(splits) - 1) / 2) * bar for k in range(last + 1)]
        axes.bar(positions, heights, width=bar, color=colour(index), label=split.name)
    axes.set_xlabel("boxes in the image" + (" (more than the last bin are counted in the "
                                            "table)" if any(s.per_image.over for s in splits)
                                            else ""))
    axes.set_ylabel("% of images")
    axes.legend(fontsize="small")
    axes.grid(axis="y", alpha=0.3)
    return _data_uri(figure)


def box_shapes(splits: list[SplitStats]) -> str:
    """Width, height, aspect and area: step lines of each split's share per (log) bin."""
    figure = _figure(10, 6.4)
    grid = figure.subplots(2, 2)
    for axes, name in zip([*grid[0], *grid[1]], BOX_TITLES):
        for index, split in enumerate(splits):
            histogram = split.boxes[name]
            total = histogram.total
            if not total:
                continue
            heights = [100 * c / total for c in histogram.counts]
            axes.stairs(heights, histogram.edges, color=colour(index), label=split.name,
                        linewidth=1.6)
        axes.set_xscale("log")
        _plain_log_labels(axes)
        axes.set_xlabel(BOX_TITLES[name])
        axes.set_ylabel("% of boxes")
        axes.grid(alpha=0.3)
        _trim_log_axis(axes, [s.boxes[name] for s in splits])
    grid[0][0].legend(fontsize="small")
    return _data_uri(figure)


def _plain_log_labels(axes) -> None:
    """Tick labels as plain numbers (0.5, 20, 300), not powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())


def _trim_log_axis(axes, histograms) -> None:
    """Show only the bins that hold values, in any split."""
    used = [i for h in histograms for i, c in enumerate(h.counts) if c]
    if used:
        edges = histograms[0].edges
        axes.set_xlim(edges[max(min(used) - 1, 0)], edges[min(max(used) + 2, len(edges) - 1)])


def centres(splits: list[SplitStats]) -> str:
    """One heat map per split: where box centres fall in the image (share per cell)."""
    columns = min(len(splits), 4)
    rows = math.ceil(len(splits) / columns)
    figure = _figure(2.9 * columns + 0.8, 2.9 * rows)
    axes_grid = figure.subplots(rows, columns, squeeze=False)
    image = None
    peak = max((max(map(max, s.centres.counts)) / max(s.centres.total, 1) for s in splits),
               default=0) or 1
    for index, split in enumerate(splits):
        axes = axes_grid[index // columns][index % columns]
        total = max(split.centres.total, 1)
        cells = [[100 * c / total for c in row] for row in split.centres.counts]
        image = axes.imshow(cells, extent=(0, 1, 1, 0), cmap="viridis", vmin=0,
                            vmax=100 * peak, interpolation="nearest")
        axes.set_title(f"{split.name} ({split.centres.total} boxes)", fontsize="medium")
        axes.set_xticks([0, 0.5, 1])
        axes.set_yticks([0, 0.5, 1])
    for index in range(len(splits), rows * columns):
        axes_grid[index // columns][index % columns].set_visible(False)
    if image is not None:
        figure.colorbar(image, ax=axes_grid, shrink=0.8, label="% of the split's boxes")
    return _data_uri(figure)


def image_sizes(splits: list[SplitStats], sizes: list[str], formats: list[str]) -> str:
    """The most common image sizes and the image formats, as shares of each split's images."""
    figure = _figure(10, 1.6 + 0.22 * max(len(sizes) + len(formats), 2))
    size_axes, format_axes = figure.subplots(1, 2, width_ratios=(3, 2))
    bar = 0.8 / max(len(splits), 1)
    for axes, names, attribute in ((size_axes, sizes, "sizes"), (format_axes, formats,
                                                                 "formats")):
        for index, split in enumerate(splits):
            shares = share(getattr(split, attribute))
            positions = [row + (index - (len(splits) - 1) / 2) * bar
                         for row in range(len(names))]
            axes.barh(positions, [100 * shares.get(n, 0) for n in names], height=bar,
                      color=colour(index), label=split.name)
        axes.set_yticks(range(len(names)), names)
        axes.invert_yaxis()
        axes.set_xlabel("% of the split's images")
        axes.grid(axis="x", alpha=0.3)
    size_axes.set_title("image size (width x height)", fontsize="medium")
    format_axes.set_title("format (from the bytes)", fontsize="medium")
    size_axes.legend(fontsize="small")
    return _data_uri(figure)
