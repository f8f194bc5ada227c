"""Drive one conversion: resolve the options, then hand the `Conversion` to the runner that
`--runner` names (`runners/local.py` on this machine, `runners/beam.py` on Apache Beam).

What a conversion is (outputs, label map, checks, summary, manifests) is in `conversion.py`;
how it runs is in `runners/`; this module only connects the two, so the dependency goes one
way: pipeline → runners → conversion.
"""

from __future__ import annotations

from typing import Any

from . import conversion
from .errors import TfrconvError
from .plugins import get_registry
from .runners import run_beam
from .runners.local import run_local
from .settings import Settings, split_options
from .summary import Summary

RUNNERS = {"local": run_local, "beam": run_beam}


def convert(format: str, *, progress: bool = False, **options: Any) -> Summary:
    """Convert a dataset to OD-API TFRecords and return the run's `Summary`.

    `options` are the format's own options (`data_dir=`, `set=`, ...) and the common ones
    (`output=`, `label_map=`, `num_shards=`, `on_bad_box=`, ...), named as on the command line
    with underscores. Raises `tfrconv.DataError` for bad data, `tfrconv.UsageError` for bad
    options; in both cases nothing is left under the output's name.
    """
    try:
        spec = get_registry().format(format)
        common, own = split_options(spec, options,
                                    get_registry().transform_option_names())
        settings = Settings.resolve(spec, common)
        opts = spec.resolve(own)
        return Conversion(spec, opts, settings, progress=progress).run()
    except TfrconvError as exc:      # the way out, as a keyword: on_unknown_class='skip'
        exc.in_library_terms()
        raise


class Conversion(conversion.Conversion):
    """A `conversion.Conversion` that can run itself."""

    def run(self) -> Summary:
        """Run on the runner `--runner` names; the run's `Summary`."""
        return RUNNERS[self.settings.runner](self)
