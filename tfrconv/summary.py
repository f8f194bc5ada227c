"""The end-of-run summary: one line for people, a dict (`--json`) for machines."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class OutputSummary:
    split: str | None
    path: str
    glob: str
    num_shards: int
    examples: int
    objects: int
    bytes: int
    manifest: str
    label_map: str
    shards: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Summary:
    format: str
    outputs: list[OutputSummary]
    examples: int
    objects: int
    skipped_images: int
    skipped_objects: int
    clipped_boxes: int
    seconds: float
    label_map: str
    classes: dict[str, int] = field(default_factory=dict)
    problems: dict[str, Any] = field(default_factory=dict)
    report: str | None = None
    # Shards of an earlier run with another --num-shards, deleted so a `-*` glob reads one run.
    removed_stale_shards: list[str] = field(default_factory=list)
    # --stratify: class → split → images written with that class (docs/transforms.md).
    split_classes: dict[str, dict[str, int]] = field(default_factory=dict)

    def line(self) -> str:
        where = ", ".join(o.glob for o in self.outputs)
        text = (f"{self.format}: wrote {self.examples:,} examples ({self.objects:,} objects) to "
                f"{where} in {self.seconds:.2f} s; skipped {self.skipped_images:,} images and "
                f"{self.skipped_objects:,} objects")
        if self.clipped_boxes:
            text += f"; clipped {self.clipped_boxes:,} boxes"
        if self.removed_stale_shards:
            text += (f"; removed {len(self.removed_stale_shards):,} shards of an earlier run "
                     f"with another --num-shards ({self.removed_stale_shards[0]}, ...)")
        if self.split_classes:
            text += "; images per class and split: " + "; ".join(
                f"{name} " + ", ".join(f"{split} {n} ({n / max(sum(per.values()), 1):.0%})"
                                       for split, n in per.items())
                for name, per in self.split_classes.items())
        return text

    def problem_lines(self) -> list[str]:
        """A line per problem kind with its count, then its first offenders indented."""
        lines = []
        for kind, entry in self.problems.items():
            lines.append(f"  {kind}: {entry['count']:,}")
            for problem in entry["first"]:
                where = f"{problem['file']}: " if problem.get("file") else ""
                lines.append(f"    {where}{problem['message']} [{problem.get('action', '')}]")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return self.line()
