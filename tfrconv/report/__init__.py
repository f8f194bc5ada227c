"""`tfrconv report`: one self-contained HTML health report for one or more record sets.

Library use::

    from tfrconv.report import write_report
    report = write_report({"train": "out/train.record-*", "val": "out/val.record"}, "report/")
    print(report.path)                       # report/index.html
    for difference in report.differences:    # where val differs from train, and how much
        print(difference.sentence())

Charts need matplotlib (``pip install 'tfrconv[report]'``); it is imported only while a page
is drawn. docs/report.md describes every section and the tests behind the split comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .build import Report, SplitInput, parse_splits, write_report

__all__ = ["Report", "SplitInput", "parse_splits", "write_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
