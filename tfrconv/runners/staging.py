"""URLs on the local runner: inputs downloaded to a local cache, outputs staged and uploaded.

A conversion whose dataset paths or outputs are URLs (`s3://`, `gs://`, `memory://`, ...) runs as
an ordinary local conversion inside one temporary folder: every input URL (`--data-dir`,
`--annotations-file`, `--image-dir`, any option of type path) is downloaded there first, the
records are written there by the usual writers and workers, and only when the whole run
succeeded are they uploaded and moved into place by `publish.RemotePublication` (all or
nothing). The temporary folder goes in every case. docs/remote.md says why this design.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import remote
from ..errors import TfrconvError
from ..formats import Options
from ..manifest import manifest_text
from ..publish import RemotePublication, remove_stale_remote_shards, write_temp

if TYPE_CHECKING:  # pragma: no cover
    from ..conversion import Conversion
    from ..summary import Summary


def url_options(conversion: Conversion) -> dict[str, str]:
    """The run's path options whose value is a URL (format options and --output, --report,
    --label-map)."""
    found = {opt.name: conversion.opts.get(opt.name) for opt in conversion.spec.options
             if opt.type == "path"}
    found["output"] = conversion.settings.output
    found["report"] = conversion.settings.report
    found["label_map"] = conversion.settings.label_map
    return {name: value for name, value in found.items() if remote.is_url(value)}


def is_output_option(name: str) -> bool:
    return name == "output" or name.startswith("output_")


def run_staged(conversion: Conversion, run: Callable[[Conversion], Summary]) -> Summary:
    """Run `conversion` (with URLs) through `run` on local copies; its `Summary`, in URLs.

    A --report URL is written locally and uploaded with the outputs (all or nothing); when the
    run fails it is uploaded alone, as a local report stays behind a failed run."""
    import shutil  # here: every local run imports this module, few stage
    import tempfile

    urls = url_options(conversion)
    for url in urls.values():
        remote.filesystem(url)           # fsspec and the store's package, before any work
    stage = tempfile.mkdtemp(prefix="tfrconv-stage-")
    try:
        folders = output_folders(urls, stage)
        places = dict(folders)           # local path → the URL it stands for, in messages
        local = localised(conversion, urls, stage, places)
        report = (local.settings.report, urls["report"]) if "report" in urls else None
        try:
            summary = run(local)
        except TfrconvError as exc:
            upload_failed_run_report(report, places)
            raise in_urls(exc, places) from None
        publish(local, summary, folders, places, report)
        return summary
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def staged_report(url: str, stage: str, folders: dict[str, str],
                  places: dict[str, str]) -> str:
    """Where the run writes --report URL locally: in the staged output folder when the URL is
    in the output's folder (so the clash check sees a report named like an output), else in
    a folder of its own."""
    folder_url, name = remote.split(url)
    for folder, output_url in folders.items():
        if output_url.rstrip("/") == folder_url.rstrip("/"):
            return os.path.join(folder, name or "report.jsonl")
    folder = os.path.join(stage, "report")
    os.makedirs(folder, exist_ok=True)
    places[folder] = folder_url
    return os.path.join(folder, name or "report.jsonl")


def upload_failed_run_report(report: tuple[str, str] | None, places: dict[str, str]) -> None:
    """A failed run's report (what went wrong), uploaded whole; the run's own error is what
    the user sees, so an upload failing here is not reported over it."""
    if report is None or not os.path.exists(report[0]):
        return
    publication = RemotePublication()
    publication.add(report_in_urls(report[0], places), report[1])
    with contextlib.suppress(TfrconvError, OSError):
        publication.commit()


def report_in_urls(path: str, places: dict[str, str]) -> str:
    """A copy of the staged report whose problems name the URLs given, not the local copies
    (line by line: a report can be long)."""
    copied = path + ".in-urls"
    with open(path, encoding="utf-8") as source, \
            open(copied, "w", encoding="utf-8") as target:
        for line in source:
            target.write(respell(line, places))
    return copied


def localised(conversion: Conversion, urls: dict[str, str], stage: str,
              places: dict[str, str]) -> Conversion:
    """A copy of `conversion` reading and writing only paths inside `stage` (each input's
    local copy is added to `places`)."""
    values = dict(conversion.opts.items())
    settings = conversion.settings
    folders = output_folders(urls, stage)
    for name, url in urls.items():
        if name == "report":
            settings = dataclasses.replace(settings, report=staged_report(url, stage, folders,
                                                                          places))
        elif name == "output":
            folder = os.path.join(stage, "output")
            os.makedirs(folder, exist_ok=True)
            fetch_manifests(remote.split(url)[0], folder)
            settings = dataclasses.replace(settings, output=os.path.join(
                folder, remote.split(url)[1] or "output.record"))
        elif is_output_option(name):
            folder = os.path.join(stage, name)
            os.makedirs(folder, exist_ok=True)
            fetch_manifests(url, folder)
            values[name] = folder
        else:
            copied = remote.fetch(url, os.path.join(stage, "input", name))
            places[copied] = url.rstrip("/")
            if name == "label_map":
                settings = dataclasses.replace(settings, label_map=copied)
            else:
                values[name] = copied
    local = copy.copy(conversion)
    local.opts = Options(values)
    local.settings = settings
    return local


def output_folders(urls: dict[str, str], stage: str) -> dict[str, str]:
    """local staging folder → the folder URL it stands for."""
    folders = {}
    for name, url in urls.items():
        if name == "output":
            folders[os.path.join(stage, "output")] = remote.split(url)[0]
        elif is_output_option(name):
            folders[os.path.join(stage, name)] = url.rstrip("/")
    return folders


def fetch_manifests(folder_url: str, into: str) -> None:
    """Other splits' manifests in the output's folder, so the label map clash check
    (`conversion.check_label_map_clashes`) sees them as it would locally; never uploaded."""
    for url, name in remote.list_files(folder_url):
        if name.endswith(".manifest.json"):
            try:
                data = remote.read_bytes(url)
            except OSError:
                continue
            with open(os.path.join(into, name), "wb") as fileobj:
                fileobj.write(data)


def publish(conversion: Conversion, summary: Summary, folders: dict[str, str],
            places: dict[str, str], report: tuple[str, str] | None = None) -> None:
    """Upload what the run wrote (shards, manifests, label maps, the report) into place, all or
    nothing; the summary then names the URLs. Manifests name the URLs given even when only the
    inputs were URLs."""
    for out in summary.outputs:
        restore_urls(out.manifest, places)
    if not folders and report is None:
        return
    publication = RemotePublication()
    outputs = add_outputs(publication, summary, folders)
    if report is not None and os.path.exists(report[0]):
        publication.add(report_in_urls(report[0], places), report[1])
    publication.commit()
    if outputs:
        summary.removed_stale_shards = remove_stale_remote_shards(
            outputs, conversion.settings.num_shards)


def add_outputs(publication: RemotePublication, summary: Summary,
                folders: dict[str, str]) -> dict[str | None, str]:
    """Add the staged files of `summary`'s outputs to `publication`, and name their URLs in
    the summary; {split: output URL}."""
    outputs = {}
    for out in summary.outputs:
        if not any(out.manifest.startswith(folder + os.sep) for folder in folders):
            continue                     # a local output: already in place
        for shard in out.shards:
            shard["path"] = add_staged(publication, folders, shard["path"])
        out.manifest = add_staged(publication, folders, out.manifest)
        if os.path.exists(out.label_map):
            out.label_map = add_staged(publication, folders, out.label_map)
        out.path, out.glob = as_url(folders, out.path), as_url(folders, out.glob)
        outputs[out.split] = out.path
    return outputs


def add_staged(publication: RemotePublication, folders: dict[str, str], path: str) -> str:
    url = as_url(folders, path)
    publication.add(path, url)
    return url


def as_url(folders: dict[str, str], path: str) -> str:
    for folder, url in folders.items():
        if path.startswith(folder + os.sep):
            return remote.join(url, *os.path.relpath(path, folder).split(os.sep))
    return path


def restore_urls(manifest_path: str, places: dict[str, str]) -> None:
    """The manifest records the options as given (the URLs), not the local copies' paths."""
    try:
        with open(manifest_path, encoding="utf-8") as fileobj:
            manifest = json.load(fileobj)
    except OSError:
        return
    for section in ("options", "settings"):
        values = manifest.get(section) or {}
        for name, value in values.items():
            if isinstance(value, str):
                values[name] = respell(value, places)
    source = manifest.get("label_map", {}).get("source")
    if isinstance(source, str):
        manifest["label_map"]["source"] = respell(source, places)
    os.replace(write_temp(manifest_path, manifest_text(manifest)), manifest_path)


def respell(text: str, places: dict[str, str]) -> str:
    """`text` with every local staging path replaced by the URL it stands for."""
    for local, url in sorted(places.items(), key=lambda pair: -len(pair[0])):
        text = text.replace(local, url)
    return text


def in_urls(exc: TfrconvError, places: dict[str, str]) -> TfrconvError:
    """`exc` naming the URLs a user gave rather than the staging folder's paths."""
    if exc.file is not None:
        exc.file = respell(exc.file, places)
    exc.reason = respell(exc.reason, places)
    exc.message = respell(exc.message, places)
    exc.args = (exc.message,)
    return exc
