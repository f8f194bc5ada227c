"""The project's own exception types.

Every problem a user can cause ends in one of these, so the CLI can print one line and pick the
exit status: 1 for problems in the data, 2 for problems in how tfrconv was called, 3 for a bug in
a plugin's own code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OptionHint:
    """The way out of an error, naming one option: `template` holds "{option}", spelled
    "--on-bad-box skip" on the command line and "on_bad_box='skip'" in the library."""

    option: str                # the library name: on_bad_box
    value: Any = True          # True: a flag (--reencode / reencode=True)
    template: str = "{option}"

    def render(self, *, library: bool = False) -> str:
        if library:
            spelled = f"{self.option}={self.value!r}"
        else:
            flag = "--" + self.option.replace("_", "-")
            spelled = flag if self.value is True else f"{flag} {self.value}"
        return self.template.format(option=spelled)


class TfrconvError(Exception):
    """Base class: a problem tfrconv can explain in one line.

    `file`, `line` and `column` say where, apart (`location()` joins them); `hint`, an
    `OptionHint`, is the way out, appended to the message in parentheses in command-line terms
    until `in_library_terms()` respells it (`tfrconv.convert` does).
    """

    exit_code = 1

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None, hint: OptionHint | None = None) -> None:
        self.reason = message
        self.hint = hint
        self.file = None if file is None else str(file)
        self.line = line
        self.column = column
        self._spell(library=False)

    def _spell(self, *, library: bool) -> None:
        self.message = self.reason if self.hint is None else \
            f"{self.reason} ({self.hint.render(library=library)})"
        self.args = (self.message,)

    def in_library_terms(self) -> TfrconvError:
        """Spell the hint as a library keyword (on_unknown_class='skip'); returns self."""
        self._spell(library=True)
        return self

    def __reduce__(self):
        # Exceptions pickle as type(*args): keep the keyword-only parts across processes.
        return _rebuild, (type(self), self.reason, self.file, self.line, self.column, self.hint,
                          self.message)

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


def _rebuild(cls, reason, file, line, column, hint, message):
    error = cls.__new__(cls)
    TfrconvError.__init__(error, reason, file=file, line=line, column=column, hint=hint)
    error.message, error.args = message, (message,)
    return error


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
