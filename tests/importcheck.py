"""Which modules a snippet of code imports, run in a fresh interpreter (start-up budget tests)."""

from __future__ import annotations

import subprocess
import sys


def modules_loaded(code: str, modules: list[str], *argv: str) -> list[str]:
    """Those of `modules` in sys.modules after `code` runs in a new Python process."""
    probe = f"{code}\nimport sys; print([m for m in {modules!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])  # noqa: S307 - our own list literal
