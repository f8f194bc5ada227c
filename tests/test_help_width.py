"""Help is as wide as argparse makes it: tfrconv's parsers find the terminal's width without
importing shutil, the way shutil.get_terminal_size finds it."""

from __future__ import annotations

import argparse
import shutil

import pytest

from tfrconv.cli_options import CommandLineParser, terminal_columns

LONG_HELP = " ".join(["words that wrap"] * 30)


def help_text(parser_class, **kwargs) -> str:
    parser = parser_class(prog="tfrconv demo", description=LONG_HELP, **kwargs)
    parser.add_argument("--some-option", metavar="VALUE", help=LONG_HELP)
    parser.add_argument("--flag", action="store_true", help="short")
    return parser.format_help()


@pytest.mark.parametrize("columns", [None, "120", "57", "0", "-3", "wide", ""])
def test_help_wraps_at_argparse_width(monkeypatch, columns):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns
    for formatter in (argparse.HelpFormatter, argparse.RawDescriptionHelpFormatter):
        assert help_text(CommandLineParser, formatter_class=formatter) == \
            help_text(argparse.ArgumentParser, formatter_class=formatter)
    assert help_text(CommandLineParser) == help_text(argparse.ArgumentParser)
