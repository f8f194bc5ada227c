"""`--split`'s options → the plain hash split (`split.py`) or, with `--stratify`, the
planned one (`stratify.py`)."""

from __future__ import annotations

from ..errors import UsageError
from .split import SplitAssigner, compile_group, parse_split
from .stratify import StratifiedAssigner

DEFAULT_TOLERANCE = 0.05        # --stratify-tolerance: five points of share


def setup_split(opts) -> SplitAssigner | None:
    if opts.split is None:
        for flag, value in (("--split-seed", opts.split_seed), ("--group-by", opts.group_by),
                            ("--stratify", opts.stratify),
                            ("--stratify-tolerance", opts.stratify_tolerance)):
            if value not in (None, 0, False):
                raise UsageError(f"{flag} needs --split")
        return None
    group = compile_group(opts.group_by) if opts.group_by else None
    shares, seed = parse_split(opts.split), opts.split_seed or 0
    if not opts.stratify:
        if opts.stratify_tolerance is not None:
            raise UsageError("--stratify-tolerance needs --stratify")
        return SplitAssigner(shares, seed, opts.split_by, group)
    tolerance = DEFAULT_TOLERANCE if opts.stratify_tolerance is None else \
        opts.stratify_tolerance
    if not 0 < tolerance <= 1:
        raise UsageError(f"--stratify-tolerance: {tolerance:g} is not a share above 0 and at "
                         "most 1 (e.g. 0.05: five points)")
    return StratifiedAssigner(shares, seed, group, tolerance, opts.split_assignment)
