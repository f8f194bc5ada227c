"""The options every format gets, and the resolved settings of one run.

Formats declare only their own options; these common ones are added to every format's command and
accepted by `tfrconv.convert`, so `--output`, `--label-map`, `--num-shards` and the problem
policies look and behave the same for builtin and third-party formats.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError
from .formats import FormatSpec, Option
from .images import MAX_IMAGE_PIXELS
from .problems import KINDS, Policies

DUPLICATE_IMAGE_POLICIES = ("keep", "warn", "skip", "error")

COMMON_OPTIONS: tuple[Option, ...] = (
    Option("output", "output record file (shards are OUTPUT-00000-of-0000N)", "path",
           metavar="PATH"),
    Option("label_map", "builtin label map name (see `tfrconv labelmap list`), .pbtxt path, or "
           "from-data (ids 1..N over the classes found, every split)", "str",
           metavar="NAME|PATH"),
    Option("num_shards", "number of output shards (default: the format's, usually 1)", "int",
           metavar="N"),
    Option("compression", "compress the records", "choice", choices=("none", "gzip"),
           default="none"),
    Option("workers", "parallel workers (default: the machine's cores; 1 = in process)", "int",
           metavar="N"),
    Option("report", "write every problem as one JSON line to this file", "path",
           metavar="PATH"),
    Option("max_errors", "stop when more than N problems were skipped", "int", metavar="N"),
    Option("box_tolerance", "boxes this far outside 0..1 (normalized) are clipped silently",
           "float", default=0.001),
    Option("verify_images", "decode every image fully (slower; catches corrupt pixel data)",
           "bool", default=False),
    Option("max_image_pixels", "refuse images whose header claims more pixels than this "
           "(bad_image; decompression bombs); 0: no limit", "int", default=MAX_IMAGE_PIXELS,
           metavar="N"),
    Option("reencode", "re-encode images the OD API cannot use as they are (BMP, GIF, WebP, "
           "TIFF, CMYK) and apply EXIF rotation, instead of rejecting them", "bool",
           default=False),
    Option("allow_outside_paths", "let annotations name images outside the dataset folder",
           "bool", default=False),
    Option("ignore_class_case", "match class names to the label map ignoring case ('Circle' "
           "is the map's 'circle', written as the map spells it)", "bool", default=False),
    Option("allow_no_objects", "publish even when every object was dropped (by default a run "
           "that keeps no object of the data fails)", "bool", default=False),
    Option("allow_label_map_mismatch", "write beside another split's output that used a "
           "different label map", "bool", default=False),
    Option("skip_unknown_classes", "drop objects whose class is not in the label map (the same "
           "as --on-unknown-class skip)", "bool", default=False),
    Option("runner", "where the conversion runs: local (this machine, --workers) or beam "
           "(Apache Beam: DirectRunner, Dataflow, Flink, Spark; see docs/scaling.md)", "choice",
           choices=("local", "beam"), default="local"),
    Option("beam_options", "Beam pipeline options for --runner beam, as one string, e.g. "
           "\"--runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp\"",
           "str", metavar="'--OPTION=VALUE ...'"),
) + (
    Option("on_duplicate_image", "two images with the same bytes (exact duplicates), within "
           "or across splits: keep (not checked), warn, skip or error", "choice",
           choices=DUPLICATE_IMAGE_POLICIES, default="keep"),
) + tuple(
    Option(kind.flag, f"{kind.help}: {'|'.join(kind.policies)} (default {kind.default})",
           "choice", choices=kind.policies) for kind in KINDS.values())

COMMON_NAMES = frozenset(opt.name for opt in COMMON_OPTIONS)


@dataclass
class Settings:
    """Common options of one run, resolved and checked (picklable: it travels to workers)."""

    output: str | None
    label_map: Any
    num_shards: int
    compression: str | None
    workers: int
    report: str | None
    max_errors: int | None
    box_tolerance: float
    verify_images: bool
    reencode: bool
    allow_outside_paths: bool
    policies: Policies = field(default_factory=Policies)
    max_image_pixels: int = MAX_IMAGE_PIXELS
    # How the run is executed; the output does not depend on it, so `as_dict` (the manifest)
    # leaves these out, like `workers`.
    runner: str = "local"
    beam_options: str | None = None
    duplicate_image: str = "keep"
    # The transforms' options as given (name → value; docs/transforms.md): the registry's
    # transforms read them (`conversion.py`), in the main process and in every worker.
    transform_values: dict[str, Any] = field(default_factory=dict)
    # Checks and matching that change no byte of a run that passes them.
    ignore_class_case: bool = False
    allow_no_objects: bool = False
    allow_label_map_mismatch: bool = False

    @classmethod
    def resolve(cls, spec: FormatSpec, values: dict[str, Any]) -> Settings:
        converted = {}
        for opt in COMMON_OPTIONS:
            value = values.get(opt.name)
            if opt.name == "label_map" and hasattr(value, "resolve"):
                converted[opt.name] = value       # a tfrconv.LabelMap, kept as it is
                continue
            converted[opt.name] = opt.default if value is None else opt.convert(value)
        if spec.uses_output and not converted["output"]:
            raise UsageError(f"{spec.name}: --output is required")
        if spec.uses_output:
            check_output_is_a_file(converted["output"])
        num_shards = converted["num_shards"]
        if num_shards is None:
            num_shards = spec.default_num_shards
        if num_shards < 1:
            raise UsageError(f"--num-shards must be at least 1, got {num_shards}")
        workers = converted["workers"]
        if workers is None:
            workers = os.cpu_count() or 1
        if workers < 1:
            raise UsageError(f"--workers must be at least 1, got {workers}")
        if converted["max_errors"] is not None and converted["max_errors"] < 0:
            raise UsageError("--max-errors must be 0 or more")
        if converted["max_image_pixels"] < 0:
            raise UsageError("--max-image-pixels must be 0 (no limit) or more")
        if converted["box_tolerance"] < 0:
            raise UsageError("--box-tolerance must be 0 or more")
        choices = dict(spec.default_policies)          # the format's defaults, then the user's
        choices.update({kind.flag: converted[kind.flag] for kind in KINDS.values()
                        if converted[kind.flag] is not None})
        if converted["skip_unknown_classes"]:
            if converted["on_unknown_class"] not in (None, "skip"):
                raise UsageError("--skip-unknown-classes contradicts --on-unknown-class "
                                 f"{converted['on_unknown_class']}")
            choices["on_unknown_class"] = "skip"
        policies = Policies(choices)
        if converted["beam_options"] and converted["runner"] != "beam":
            raise UsageError("--beam-options needs --runner beam")
        return cls(
            output=converted["output"], label_map=converted["label_map"],
            num_shards=num_shards,
            compression=None if converted["compression"] == "none" else "GZIP",
            workers=workers, report=converted["report"], max_errors=converted["max_errors"],
            box_tolerance=converted["box_tolerance"],
            verify_images=converted["verify_images"], reencode=converted["reencode"],
            allow_outside_paths=converted["allow_outside_paths"], policies=policies,
            runner=converted["runner"], beam_options=converted["beam_options"],
            max_image_pixels=converted["max_image_pixels"],
            ignore_class_case=converted["ignore_class_case"],
            allow_no_objects=converted["allow_no_objects"],
            allow_label_map_mismatch=converted["allow_label_map_mismatch"],
            duplicate_image=converted["on_duplicate_image"],
            transform_values={k: v for k, v in values.items()
                              if k not in COMMON_NAMES and v is not None})

    def as_dict(self) -> dict[str, Any]:
        label_map = self.label_map
        settings = {
            "num_shards": self.num_shards, "compression": self.compression or "none",
            "label_map": label_map if isinstance(label_map, (str, type(None))) else repr(label_map),
            "box_tolerance": self.box_tolerance, "verify_images": self.verify_images,
            "reencode": self.reencode, "allow_outside_paths": self.allow_outside_paths,
            "max_errors": self.max_errors, "policies": self.policies.as_dict(),
        }
        if self.max_image_pixels != MAX_IMAGE_PIXELS:   # so default manifests stay as they were
            settings["max_image_pixels"] = self.max_image_pixels
        if self.duplicate_image != "keep":
            settings["on_duplicate_image"] = self.duplicate_image
        if self.transform_values:
            settings["transforms"] = {k: _plain(v) for k, v in
                                      sorted(self.transform_values.items())}
        return settings


def check_output_is_a_file(output) -> None:
    """--output names the record file; its sidecars are named after it, so a folder (a trailing
    slash, or an existing directory) has no name to give them."""
    text = os.fspath(output)
    if text.endswith(("/", os.sep)) or os.path.isdir(text):
        example = os.path.join(text.rstrip("/" + os.sep) or text, "train.record")
        raise UsageError(f"--output {text} names a folder; give a file name such as {example}")


def split_options(spec: FormatSpec, values: dict[str, Any],
                  transform_names: frozenset[str] = frozenset()) -> tuple[dict, dict]:
    """Separate common options (and the transforms' `transform_names`, which travel with
    them) from the format's own; a format's own option of the same name wins."""
    own_names = {opt.name for opt in spec.options}
    shared = COMMON_NAMES | (transform_names - own_names)
    common = {k: v for k, v in values.items() if k in shared}
    own = {k: v for k, v in values.items() if k not in shared}
    return common, own


def _plain(value: Any) -> Any:
    """A transform option's value for the manifest (JSON)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)
