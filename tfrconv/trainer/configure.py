"""`tfrconv config`: find what a pipeline config needs in the conversion's sidecar files.

For each records argument (a record path, the shard base name or a glob) the conversion's
manifest gives the exact shard glob, the label map written beside the records and the number of
classes; a glob that also matches files the manifest does not list (stale shards of an earlier
run) is replaced by the exact one. Without a manifest, --label-map is needed.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from ..api import UsageError, find_manifest, read_manifest, sidecar_base
from .templates import ConfigRequest, render

GLOB_CHARS = "*?["


@dataclass
class RecordSet:
    pattern: str                   # what goes into input_path
    files: list[str]
    examples: int | None
    label_map_path: str | None
    label_map_sha256: str | None
    num_classes: int | None
    notes: list[str]


def describe_records(argument: str, what: str) -> RecordSet:
    """The input_path pattern and label map for one --train-records / --eval-records value."""

    notes: list[str] = []
    manifest_file = find_manifest(argument)
    if manifest_file is None:
        files = sorted(f for f in glob.glob(argument) if os.path.isfile(f))
        if not files:
            raise UsageError(f"{what} {argument!r}: no such records, and no tfrconv manifest "
                             "beside them")
        return RecordSet(argument, files, None, None, None, None,
                         [f"{what} {argument!r}: no tfrconv manifest found; give --label-map"])
    manifest = read_manifest(manifest_file)
    folder = os.path.dirname(manifest_file)
    shards = [os.path.join(folder, shard["path"]) for shard in manifest.get("shards", [])]
    missing = [s for s in shards if not os.path.isfile(s)]
    if missing:
        raise UsageError(f"{what} {argument!r}: {missing[0]} is listed in {manifest_file} but "
                         "missing (convert again)")
    exact = os.path.join(folder, manifest.get("shard_glob") or manifest["output"])
    matched = sorted(f for f in glob.glob(argument) if os.path.isfile(f))
    if not any(c in argument for c in GLOB_CHARS) and not os.path.isfile(argument):
        pattern = exact                 # the base name of sharded output: data/train.record
    elif set(matched) == set(shards):
        pattern = argument
    else:
        extra = sorted(set(matched) - set(shards))
        if extra:
            notes.append(f"{what} {argument!r} also matches {extra[0]}, which "
                         f"{os.path.basename(manifest_file)} does not list: using {exact!r}")
        pattern = exact
    label_map = manifest.get("label_map") or {}
    map_path = None
    if label_map.get("path"):
        map_path = os.path.join(folder, label_map["path"])
        if not os.path.isfile(map_path):
            map_path = None
    if map_path is None:
        candidate = sidecar_base(os.path.join(folder, manifest["output"])) + ".label_map.pbtxt"
        map_path = candidate if os.path.isfile(candidate) else None
    return RecordSet(pattern, shards, manifest.get("examples"), map_path,
                     label_map.get("sha256"), label_map.get("num_classes"), notes)


def checkpoint_prefix(path: str) -> str:
    """The checkpoint prefix (`.../ckpt-N`) the OD API's restore call needs: a model dir becomes
    its latest checkpoint's prefix (read from its `checkpoint` file), an `.index` file its
    prefix; anything else is kept as written (it may be a checkpoint still to be made)."""
    if path.endswith(".index") and os.path.isfile(path):
        return path[: -len(".index")]
    if not os.path.isdir(path):
        return path
    latest = None
    try:
        with open(os.path.join(path, "checkpoint"), encoding="utf-8") as fileobj:
            for line in fileobj:
                key, _, value = line.partition(":")
                if key.strip() == "model_checkpoint_path":
                    latest = value.strip().strip('"')
    except OSError:
        pass
    if latest:
        prefix = latest if os.path.isabs(latest) else os.path.join(path, latest)
        if os.path.isfile(prefix + ".index"):
            return prefix
    raise UsageError(f"--fine-tune-checkpoint {path}: the folder holds no checkpoint (no "
                     "'checkpoint' file naming a ckpt-N with its .index); give a checkpoint "
                     "prefix such as DIR/ckpt-3")


def build_request(*, template: str, train: list[str], evaluate: list[str],
                  label_map: str | None = None, num_classes: int | None = None,
                  **options) -> tuple[ConfigRequest, list[str]]:
    """The template request and the lines to tell the user."""
    from ..api import read_label_map_file

    train_sets = [describe_records(arg, "--train-records") for arg in train]
    eval_sets = [describe_records(arg, "--eval-records") for arg in evaluate]
    messages = [note for s in train_sets + eval_sets for note in s.notes
                if not (label_map and "give --label-map" in note)]

    hashes = {s.label_map_sha256 for s in train_sets + eval_sets if s.label_map_sha256}
    if len(hashes) > 1 and not label_map:
        raise UsageError("the train and eval records were converted with different label maps; "
                         "convert them with the same --label-map, or give --label-map here")
    train_map = label_map or next((s.label_map_path for s in train_sets if s.label_map_path),
                                  None)
    eval_map = label_map or next((s.label_map_path for s in eval_sets if s.label_map_path),
                                 None) or train_map
    if train_map is None:
        raise UsageError("no label map: the records have no tfrconv manifest beside them, so "
                         "give --label-map")
    parsed = read_label_map_file(train_map)
    needed = parsed.max_id
    if num_classes is None:
        num_classes = next((s.num_classes for s in train_sets if s.num_classes), None) or needed
    if num_classes < needed:
        raise UsageError(f"--num-classes {num_classes} is smaller than the label map's largest "
                         f"id {needed} ({train_map})")
    request = ConfigRequest(template=template, num_classes=num_classes,
                            label_map_path=train_map,
                            train_paths=[s.pattern for s in train_sets],
                            eval_paths=[s.pattern for s in eval_sets],
                            eval_label_map_path=eval_map if eval_map != train_map else None,
                            **options)
    for name, sets in (("train", train_sets), ("eval", eval_sets)):
        for s in sets:
            count = f", {s.examples:,} examples" if s.examples is not None else ""
            messages.append(f"{name}: {s.pattern} ({len(s.files)} file"
                            f"{'s' if len(s.files) != 1 else ''}{count})")
    messages.append(f"label map: {train_map} ({num_classes} classes)")
    return request, messages


def write_config(request: ConfigRequest, out: str) -> str:
    """Render, check that it parses, and write atomically; returns the text."""
    from .schema import parse_pipeline

    text = render(request)
    parse_pipeline(text, out)
    folder = os.path.dirname(out) or "."
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(out)}.tmp-{os.getpid()}")
    try:
        with open(temporary, "w", encoding="utf-8") as fileobj:
            fileobj.write(text)
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return text
