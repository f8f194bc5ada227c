"""The conversion's problems, beside the records: read, matched to examples, thumbnailed.

Problems come from a `--report` JSONL file (every problem, one JSON object a line: kind,
message, file, source_id, action) and from each split's manifest (counts per kind and the first
offenders). While the records stream past, an example whose source id, file name or file stem
matches a problem's `source_id` or `file` gets a thumbnail with its boxes drawn
(`tfrconv.draw`), at most `MAX_THUMBNAILS` of them. A problem whose image was skipped has no
example to show, and says so.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections import Counter
from dataclasses import dataclass

from ..errors import DataError, UsageError

MAX_ENTRIES = 300          # problems listed on the page (all are counted)
MAX_THUMBNAILS = 60
THUMBNAIL_SIDE = 200


@dataclass
class ProblemEntry:
    kind: str
    message: str
    file: str | None
    source_id: str | None
    action: str
    origin: str                     # the JSONL or manifest it came from
    thumbnail: str | None = None    # data: URI of the drawn image
    found_in: str | None = None     # the split whose records hold the image

    def names(self) -> list[str]:
        """The names this problem may go by in the records."""
        found = []
        for value in (self.source_id, self.file):
            if value:
                base = os.path.basename(value.replace("\\", "/"))
                found += [value, base, os.path.splitext(base)[0]]
        return list(dict.fromkeys(found))


class ProblemCatalogue:
    def __init__(self) -> None:
        self.counts: Counter = Counter()          # kind → count, from every source
        self.by_origin: dict[str, Counter] = {}
        self.entries: list[ProblemEntry] = []
        self.skipped_images = 0
        self._wanted: dict[str, list[ProblemEntry]] = {}
        self.thumbnails = 0

    # -- reading ---------------------------------------------------------------------------
    def read_jsonl(self, path: str) -> None:
        counts = self.by_origin.setdefault(path, Counter())
        try:
            with open(path, encoding="utf-8") as fileobj:
                for number, line in enumerate(fileobj, 1):
                    if not line.strip():
                        continue
                    try:
                        entry = json.loads(line)
                        kind = str(entry["kind"])
                    except (ValueError, KeyError, TypeError):
                        raise DataError(f"line {number} is not a problem report entry (a JSON "
                                        "object with a 'kind')", file=path) from None
                    counts[kind] += 1
                    self._keep(_entry(entry, kind, path))
        except OSError as exc:
            raise UsageError(f"--problems: cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise DataError("not UTF-8 text: not a problem report", file=path) from None
        self.counts.update(counts)

    def read_manifest(self, manifest: dict, origin: str, *, counted: bool) -> None:
        """A manifest's problems: counts (unless a JSONL already counted them) and the first
        offenders (unless the JSONL lists them all)."""
        self.skipped_images += int(manifest.get("skipped_images") or 0)
        problems = manifest.get("problems")
        if not isinstance(problems, dict):
            return
        counts = self.by_origin.setdefault(origin, Counter())
        for kind, summary in sorted(problems.items()):
            if not isinstance(summary, dict):
                continue
            counts[kind] += int(summary.get("count") or 0)
            if not counted:
                for entry in summary.get("first") or []:
                    if isinstance(entry, dict):
                        self._keep(_entry(entry, kind, origin))
        if not counted:
            self.counts.update(counts)

    def _keep(self, entry: ProblemEntry) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            return
        self.entries.append(entry)
        for key in entry.names():
            self._wanted.setdefault(key, []).append(entry)

    # -- matching, during the pass ---------------------------------------------------------
    def wants(self, names: list[str]) -> list[ProblemEntry]:
        """The problems still without a thumbnail that concern an example with these names."""
        if not self._wanted or self.thumbnails >= MAX_THUMBNAILS:
            return []
        found: list[ProblemEntry] = []
        for name in names:
            for entry in self._wanted.get(name, ()):
                if entry.thumbnail is None and entry not in found:
                    found.append(entry)
        return found

    def attach(self, entries: list[ProblemEntry], features: dict, split: str,
               label_map=None) -> None:
        """Draw the example once and give its thumbnail to each of `entries`."""
        uri = thumbnail(features, label_map)
        self.thumbnails += 1
        for entry in entries:
            entry.thumbnail = uri
            entry.found_in = split


def _entry(entry: dict, kind: str, origin: str) -> ProblemEntry:
    def text(key: str) -> str | None:
        value = entry.get(key)
        return None if value is None else str(value)

    return ProblemEntry(kind, text("message") or "", text("file"), text("source_id"),
                        text("action") or "", origin)


def thumbnail(features: dict, label_map=None) -> str:
    """The example drawn with its boxes, shrunk to a small JPEG, as a data: URI."""
    from ..draw import render

    image = render(features, label_map, min_side=THUMBNAIL_SIDE).image.convert("RGB")
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")
