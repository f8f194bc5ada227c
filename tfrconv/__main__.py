"""`python -m tfrconv`."""

from tfrconv.cli import run

run()
