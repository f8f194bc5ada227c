"""The runners of a `Conversion`: `local.py` (this machine, `--workers` processes) and, with
`--runner beam`, `beam.py` (the same conversion as an Apache Beam pipeline, docs/scaling.md).
Both keep their books in one `Tally`. Beam is an optional extra, imported only by `run_beam`."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ..conversion import Conversion
    from ..summary import Summary

BEAM_INSTALL = "pip install 'tfrconv[beam]'"


def require_beam() -> None:
    """Import Apache Beam; UsageError saying how to install it when it is absent."""
    try:
        with _quiet_root_logger():
            import apache_beam  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"--runner beam needs Apache Beam, which cannot be imported ({exc}); "
                         f"install it with: {BEAM_INSTALL}") from None


def run_beam(conversion: Conversion) -> Summary:
    """Run `conversion` on Apache Beam; UsageError saying how to install Beam when it is absent."""
    require_beam()
    from .beam import BeamConversion

    return BeamConversion(conversion).run()


@contextmanager
def _quiet_root_logger():
    """Importing Beam logs a warning about optional BigQuery clients through the root logger,
    which would also install a stderr handler on the root logger for good; a NullHandler during
    the import keeps both from happening (an application's own logging setup is left alone).
    (logging is imported here: every conversion imports this package, few run Beam.)"""
    import logging

    root = logging.getLogger()
    if root.handlers:
        yield
        return
    null = logging.NullHandler()
    root.addHandler(null)
    try:
        yield
    finally:
        root.removeHandler(null)
