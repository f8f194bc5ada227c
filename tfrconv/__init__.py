"""tfrconv: turn annotated detection datasets into TensorFlow Object Detection API TFRecords.

Library use::

    import tfrconv
    summary = tfrconv.convert("voc", data_dir="VOCdevkit", set="val", output="val.record")
    for example in tfrconv.read_examples("val.record"):
        print(example["image/object/class/text"])

Plugin authors need `hookimpl`, `FormatSpec`, `Option`, `Sample`, `Object` and `DataError`
(see docs/plugins.md); formats with VOC-style XML annotations share tfrconv's XML reading
(`parse_annotation_xml` and friends: `tfrconv.annotation_xml`); formats read their files through
`read_dataset_file` / `open_dataset_file` (regular files only, never a pipe: `tfrconv.datafiles`).
Importing this package is cheap: heavy modules (lxml included) load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from .annotation_xml import (
    parse_annotation_xml,
    parse_annotation_xml_fast,
    read_annotation_file,
    xml_children,
    xml_line,
    xml_number,
    xml_text,
)
from .commands import Command
from .datafiles import ParsedOnce, open_dataset_file, read_dataset_file
from .errors import DataError, LabelMapError, TfrconvError, UsageError
from .formats import Detection, FormatSpec, Option, Options, split_outputs
from .hookspecs import hookimpl
from .labelmap import LabelMap, LabelMapItem
from .labelmap_refs import load_label_map
from .sample import ImageLabel, Object, Sample
from .transforms import Context as TransformContext
from .transforms import TransformSpec

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator

    from .summary import Summary


def convert(format: str, **options: Any) -> Summary:
    """Convert a dataset; see `tfrconv.pipeline.convert` for the options."""
    from .pipeline import convert as _convert

    return _convert(format, **options)


def convert_dataset(root: Any, *, output: Any, **options: Any) -> Any:
    """Convert every split of a dataset folder (train/ valid/ test/, VOC image sets, COCO
    instances files) into `output`/<split>.record with one label map; see
    `tfrconv.dataset.convert_dataset` (splits=, label_map=, num_shards=, policies ...)."""
    from .dataset import convert_dataset as convert_all

    return convert_all(root, output=output, **options)


def write_samples(samples: Any, *, output: Any, **options: Any) -> Summary:
    """Write your own `Sample`s as records with every check, sharding, manifest and atomic
    publish of a conversion; see `tfrconv.own_samples.write_samples` for the options."""
    from .own_samples import write_samples as write

    return write(samples, output=output, **options)


def read_examples(path_or_glob: Any) -> Iterator[dict[str, list]]:
    """Yield every example of a record file, shard glob or list of paths as
    ``{feature key: list of int | float | bytes}``, without TensorFlow."""
    from .example import iter_examples

    return iter_examples(path_or_glob)


def read_samples(paths_or_globs: Any, *, label_map: Any = None,
                 on_error: str = "error") -> Iterator[Sample]:
    """Every example of any producer's records as a `Sample` (normalized boxes, image bytes
    inline); see `tfrconv.records.reading.read_samples` for the details."""
    from .records.reading import read_samples as read

    return read(paths_or_globs, label_map=label_map, on_error=on_error)


def merge_records(inputs: Any, output: str, **options: Any) -> dict[str, Any]:
    """Merge record sets into one through one merged label map; the manifest. See
    `tfrconv.records.merge.merge_records` (docs/records.md)."""
    from .records.merge import merge_records as merge

    return merge(inputs, output, **options)


def reshard_records(inputs: Any, output: str, **options: Any) -> dict[str, Any]:
    """Rewrite records in `num_shards` shards or shards of `shard_size`; the manifest. See
    `tfrconv.records.reshard.reshard_records`."""
    from .records.reshard import reshard_records as reshard

    return reshard(inputs, output, **options)


def split_records(inputs: Any, output: str, **options: Any) -> dict[str, dict[str, Any]]:
    """Split records into parts by `split` shares (conversion's --split rule); {part: manifest}. See
    `tfrconv.records.split.split_records`."""
    from .records.split import split_records as split

    return split(inputs, output, **options)


def diff_records(a: Any, b: Any, **options: Any) -> Any:
    """Compare two record sets example by example; a `RecordsDiff` (`.equal`, `.as_dict()`,
    `.lines()`). See `tfrconv.records.diff.diff_records`."""
    from .records.diff import diff_records as diff

    return diff(a, b, **options)


def export_records(paths_or_globs: Any, to: str, out: Any, **options: Any) -> Any:
    """Write records back out as a VOC, COCO or YOLO dataset folder (images as stored); see
    `tfrconv.records.export.export_records` for the options."""
    from .records.export import export_records as export

    return export(paths_or_globs, to, out, **options)


def tf_dataset(pattern: Any, **options: Any) -> Any:
    """A `tf.data.Dataset` of decoded images, boxes and classes read as the OD API decoder
    reads them (imports TensorFlow); see `tfrconv.tfdata.tf_dataset` for the options."""
    from .tfdata import tf_dataset as dataset

    return dataset(pattern, **options)


def write_report(records: Any, out: Any, **options: Any) -> Any:
    """Write one offline HTML health report (OUT/index.html) for one or more record sets; a
    `Report` (`.path`, `.summary`, `.differences`). Needs the [report] extra (matplotlib); see
    `tfrconv.report.write_report` for the options (docs/report.md)."""
    from .report import write_report as write

    return write(records, out, **options)


__all__ = [
    "Command", "DataError", "Detection", "FormatSpec", "ImageLabel", "LabelMap", "LabelMapError",
    "ParsedOnce",
    "LabelMapItem", "Object", "Option", "Options", "Sample", "TfrconvError", "UsageError",
    "__version__", "convert", "convert_dataset", "export_records", "hookimpl", "load_label_map",
    "open_dataset_file", "parse_annotation_xml", "parse_annotation_xml_fast",
    "read_annotation_file", "read_dataset_file", "read_examples", "read_samples", "split_outputs",
    "tf_dataset", "TransformContext", "TransformSpec",
    "diff_records", "merge_records", "reshard_records", "split_records", "write_report",
    "xml_children", "xml_line", "xml_number", "xml_text",
]
