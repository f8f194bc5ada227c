"""The project's own exception types.

Every problem a user can cause ends in one of these, so the CLI can print one line and pick the
exit status: 1 for problems in the data, 2 for problems in how tfrconv was called, 3 for a bug in
a plugin's own code.
"""

from __future__ import annotations


class TfrconvError(Exception):
    """Base class: a problem tfrconv can explain in one line."""

    exit_code = 1

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.column = column

    def location(self) -> str:
        """`file:line:column` as far as it is known ('' when no file is known)."""
        if self.file is None:
            return ""
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message


class DataError(TfrconvError):
    """The input data is wrong: an annotation, an image, a label map."""


class UsageError(TfrconvError):
    """tfrconv was called wrongly: a missing option, a bad value, an unknown format."""

    exit_code = 2


class LabelMapError(DataError):
    """A label map file cannot be read or does not fit the data."""


class PluginError(TfrconvError):
    """A plugin registered something the core cannot accept."""


class PluginCodeError(TfrconvError):
    """A plugin's own code raised: its message names the format, the plugin's distribution and
    the item ("plugin error in format 'yolo' (distribution tfrconv-yolo 0.1): ...")."""

    exit_code = 3


class Interrupted(TfrconvError):
    """The run was stopped by a signal; nothing was left under the output's name."""

    exit_code = 130
