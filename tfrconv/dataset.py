"""A whole dataset in one run: `tfrconv convert ROOT --output DIR/`, `tfrconv.convert_dataset`.

Every split `layouts.find_layout` finds (or those `splits` names) is converted into
DIR/<split>.record (sharded as asked) with one label map for all of them, each with its manifest
and label map beside it, and one summary. The label map is, in this order:

1. `label_map` (`--label-map`) when given, except `from-data`;
2. the formats' own default when every split has the same one and it holds every class found
   (COCO's categories with their ids, a dataset's label_map.pbtxt, `pascal` for VOC classes);
3. otherwise the union of the classes of every split: sorted by name, or, for formats with an
   order of their own (YOLO's class index), in that order, split after split. Ids are 1..N.

Splits are converted into a hidden folder inside DIR and renamed into place together only when
every split succeeded: a failing split leaves DIR as it was.

ROOT and DIR may be URLs (fsspec, docs/remote.md): ROOT is downloaded once into a temporary
folder, DIR is written in a local staging folder and uploaded all or nothing (every split's
files in one `publish.RemotePublication`); manifests and errors name the URLs given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from . import remote
from .conversion import check_label_map_clashes
from .errors import DataError, TfrconvError, UsageError
from .labelmap import LabelMap
from .labelmap_refs import load_label_map
from .layouts import Layout, find_layout
from .pipeline import Conversion
from .plugins import get_registry
from .publish import Publication, RemotePublication, remove_stale_remote_shards, remove_stale_shards
from .remote import is_url
from .runners import staging
from .settings import COMMON_NAMES, Settings
from .summary import Summary

FROM_DATA = "from-data"


@dataclass
class DatasetSummary:
    """What a whole-dataset run wrote: one `Summary` per split, and the shared label map."""

    root: str
    output: str
    label_map: str
    splits: dict[str, Summary] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def examples(self) -> int:
        return sum(s.examples for s in self.splits.values())

    @property
    def objects(self) -> int:
        return sum(s.objects for s in self.splits.values())

    def line(self) -> str:
        parts = ", ".join(f"{name} {s.examples:,}" for name, s in self.splits.items())
        return (f"{self.root}: wrote {self.examples:,} examples ({self.objects:,} objects) in "
                f"{len(self.splits)} splits to {self.output} in {self.seconds:.2f} s ({parts}); "
                f"label map: {self.label_map}")

    def lines(self) -> list[str]:
        """The summary line, then each split's own line and problems."""
        out = [self.line()]
        for name, summary in self.splits.items():
            out.append(f"  {name}: {summary.line()}")
            out.extend("  " + line for line in summary.problem_lines())
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"root": self.root, "output": self.output, "label_map": self.label_map,
                "examples": self.examples, "objects": self.objects, "seconds": self.seconds,
                "splits": {name: s.as_dict() for name, s in self.splits.items()}}

    def __str__(self) -> str:
        return self.line()


def convert_dataset(root: str | os.PathLike, *, output: str | os.PathLike,
                    splits: Any = None, progress: bool = False,
                    **options: Any) -> DatasetSummary:
    """Convert every split of the dataset at `root` into `output`/<split>.record with one
    label map; see the module docstring. `splits` ("train,val" or a list) chooses some;
    `options` are common options (label_map=, num_shards=, on_bad_box= ...) and format options
    given to every split whose format has them."""
    start = time.perf_counter()
    root = os.fspath(root)
    output = None if output is None else os.fspath(output)
    if not (is_url(root) or is_url(output)):
        return convert_local(root, output, splits, progress, options, start, {})
    for url in (root, output):
        if is_url(url):
            remote.filesystem(url)       # fsspec and the store's package, before any work
    with contextlib.ExitStack() as stack:
        places: dict[str, str] = {}      # local path → the URL it stands for
        if is_url(root):
            local_root = stack.enter_context(remote.local_copy(root))
            places[local_root] = root.rstrip("/")
            root = local_root
        if not is_url(output):
            try:
                return in_urls_summary(convert_local(root, output, splits, progress, options,
                                                     start, places), places)
            except TfrconvError as exc:
                raise staging.in_urls(exc, places) from None
        stage = stack.enter_context(tempfile.TemporaryDirectory(prefix="tfrconv-stage-"))
        local_out = os.path.join(stage, "output")
        os.makedirs(local_out)
        staging.fetch_manifests(output, local_out)   # the label map clash check reads them
        places[local_out] = output.rstrip("/")
        try:
            summary = convert_local(root, local_out, splits, progress, options, start, places)
        except TfrconvError as exc:
            raise staging.in_urls(exc, places) from None
        upload(summary, {local_out: places[local_out]}, options.get("num_shards") or 1)
        summary.seconds = round(time.perf_counter() - start, 3)
        return in_urls_summary(summary, places)


def convert_local(root: str, output: Any, splits: Any, progress: bool,
                  options: dict[str, Any], start: float,
                  places: dict[str, str]) -> DatasetSummary:
    """`convert_dataset` on local folders; manifests name the URLs of `places`."""
    if not os.path.isdir(root):
        raise UsageError(f"{root}: no such folder")
    layout = find_layout(root)
    if layout is None or not layout.splits and not layout.problems:
        raise UsageError(f"{root}: no splits found (no train/, valid/, test/ folders, VOC image "
                         "sets or COCO instances files; see `tfrconv detect-format "
                         f"{root}`); convert it as one dataset with --output FILE.record")
    chosen = choose_splits(layout, splits)
    out_dir = check_output_folder(output)
    plans = plan_conversions(chosen, options, out_dir, progress)
    label_map, origin = shared_label_map([conversion for _, conversion in plans],
                                         options.get("label_map"), chosen)
    if not options.get("allow_label_map_mismatch"):
        check_label_map_clashes([c.settings.output for _, c in plans], label_map)
    summary = DatasetSummary(root=layout.root, output=out_dir, label_map=origin)
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".tfrconv-dataset-", dir=out_dir)
    try:
        for name, conversion in plans:
            final = conversion.settings.output
            conversion.settings = dataclasses.replace(
                conversion.settings, output=os.path.join(work, os.path.basename(final)),
                label_map=label_map)
            try:
                result = conversion.run()
            except TfrconvError as exc:
                TfrconvError.__init__(exc, f"split {name}: {exc.reason}", file=exc.file,
                                      line=exc.line, column=exc.column, hint=exc.hint)
                raise
            summary.splits[name] = moved_summary(result, work, out_dir)
            for out in result.outputs:
                staging.restore_urls(out.manifest, places)
        publication = Publication()
        for name in sorted(os.listdir(work)):
            publication.add(os.path.join(work, name), os.path.join(out_dir, name))
        publication.commit()
        for name, conversion in plans:
            final = os.path.join(out_dir, name + ".record")
            summary.splits[name].removed_stale_shards = remove_stale_shards(
                {name: final}, conversion.settings.num_shards)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary.seconds = round(time.perf_counter() - start, 3)
    return summary


def choose_splits(layout: Layout, wanted: Any) -> list:
    """The layout's splits, or those `wanted` names (a list or "train,val"), in that order."""
    if wanted is None:
        if layout.problems:
            folder, why = next(iter(layout.problems.items()))
            raise DataError(f"this looks like a split but cannot be converted: {why} (choose "
                            "the others with --splits)", file=folder)
        return list(layout.splits)
    names = [w.strip() for w in wanted.split(",")] if isinstance(wanted, str) else \
        [str(w) for w in wanted]
    by_name = {split.name: split for split in layout.splits}
    missing = [name for name in names if name not in by_name]
    if missing or not names:
        raise UsageError(f"--splits {','.join(names)}: no split {', '.join(missing) or '(none)'}"
                         f" in {layout.root} (splits found: {', '.join(by_name) or 'none'})")
    return [by_name[name] for name in dict.fromkeys(names)]


def check_output_folder(output: Any) -> str:
    """The folder to write into: not an existing file."""
    if output is None or not os.fspath(output):
        raise UsageError("give --output DIR/: the folder to write <split>.record into")
    text = os.fspath(output)
    if os.path.exists(text) and not os.path.isdir(text):
        raise UsageError(f"--output {text} is a file; a dataset of several splits needs a "
                         f"folder (e.g. --output {os.path.splitext(text)[0]}/)")
    return text.rstrip("/" + os.sep) or text


def plan_conversions(chosen: list, options: dict[str, Any], out_dir: str,
                     progress: bool) -> list[tuple[str, Conversion]]:
    """One `Conversion` per split: its detected options, the user's format options its format
    has, and the common options with output DIR/<split>.record."""
    registry = get_registry()
    common = {k: v for k, v in options.items() if k in COMMON_NAMES and k != "output"}
    common.pop("label_map", None)             # resolved once for all splits
    own = {k: v for k, v in options.items() if k not in COMMON_NAMES}
    specs = [registry.format(split.format) for split in chosen]
    unused = sorted(k for k in own if all(spec.option(k) is None for spec in specs))
    if unused:
        raise UsageError(f"no split's format has the option {', '.join(unused)} (formats: "
                         f"{', '.join(sorted({s.name for s in specs}))})")
    if common.get("report"):
        raise UsageError("--report names one file; a dataset of several splits writes a "
                         "report per split: leave --report out and read each manifest")
    plans = []
    for split, spec in zip(chosen, specs):
        values = {**split.options, **{k: v for k, v in own.items() if spec.option(k)}}
        settings = Settings.resolve(spec, {**common,
                                           "output": os.path.join(out_dir, split.name
                                                                  + ".record")})
        plans.append((split.name, Conversion(spec, spec.resolve(values), settings,
                                             progress=progress)))
    return plans


def shared_label_map(conversions: list, ref: Any, chosen: list) -> tuple[LabelMap, str]:
    """One label map for every split, and where it came from (see the module docstring)."""
    if ref is not None and ref != FROM_DATA:
        label_map = load_label_map(ref)
        return label_map, f"{ref if isinstance(ref, str) else label_map.source} (--label-map)"
    found = [c.known_classes() or c.scan_classes() for c in conversions]
    if ref is None:
        shared = _shared_default(conversions, found)
        if shared is not None:
            return shared
    ordered = all(c.spec.ordered_classes for c in conversions)
    names = [name for names in found for name in names]
    union = list(dict.fromkeys(names)) if ordered else sorted(set(names))
    if not union:
        raise DataError("no classes found in any split to build a label map from; give "
                        "--label-map")
    how = "in the format's order" if ordered else "sorted"
    origin = (f"the classes of splits {', '.join(s.name for s in chosen)} ({len(union)}, "
              f"{how}, ids 1..N)")
    return LabelMap.from_names(union, source=origin), origin


def _shared_default(conversions: list, found: list) -> tuple[LabelMap, str] | None:
    """Every split's own default map, when they are one and the same and know every class."""
    maps = []
    for conversion in conversions:
        if conversion.spec.default_label_map is None:
            return None
        ref = conversion.spec.default_label_map(conversion.opts)
        if ref is None:
            return None
        maps.append((load_label_map(ref), ref))
    texts = {label_map.to_text() for label_map, _ in maps}
    first, ref = maps[0]
    if len(texts) != 1 or any(first.resolve(n) is None for names in found for n in names):
        return None
    name = ref if isinstance(ref, str) else first.source
    return first, f"{name} ({conversions[0].spec.name} default, the same for every split)"


def moved_summary(summary: Summary, work: str, out_dir: str) -> Summary:
    """`summary` with the paths of the hidden work folder replaced by the final ones."""
    def moved(path: Any) -> Any:
        if isinstance(path, str) and path.startswith(work + os.sep):
            return os.path.join(out_dir, path[len(work) + 1:])
        return path

    outputs = []
    for out in summary.outputs:
        outputs.append(dataclasses.replace(
            out, path=moved(out.path), glob=moved(out.glob), manifest=moved(out.manifest),
            label_map=moved(out.label_map),
            shards=[{**shard, "path": moved(shard["path"])} for shard in out.shards]))
    return dataclasses.replace(summary, outputs=outputs)


def upload(summary: DatasetSummary, folders: dict[str, str], num_shards: int) -> None:
    """Every split's staged files uploaded together, all or nothing; then the shards of an
    earlier run with another --num-shards removed, as locally."""
    publication = RemotePublication()
    outputs = {}
    for name, split in summary.splits.items():
        outputs[name] = staging.add_outputs(publication, split, folders)
    publication.commit()
    for name, split in summary.splits.items():
        split.removed_stale_shards = remove_stale_remote_shards(outputs[name], num_shards)


def in_urls_summary(summary: DatasetSummary, places: dict[str, str]) -> DatasetSummary:
    """The summary naming the URLs given rather than local copies."""
    summary.root = staging.respell(summary.root, places)
    summary.output = staging.respell(summary.output, places)
    summary.label_map = staging.respell(summary.label_map, places)
    return summary
