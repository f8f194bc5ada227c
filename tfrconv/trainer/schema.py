"""Pipeline-config text → a `TrainEvalPipelineConfig` message, parsed as the OD API does.

The message classes are the OD API's own descriptors, shipped with tfrconv and loaded by
`tfrconv.proto` into its private pool, so the text accepted here is exactly the OD API's.
"""

from __future__ import annotations

import difflib
import re

from ..api import UsageError

_POSITION = re.compile(r"^(\d+):(\d+) : (.*)$", re.S)
_NO_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "(\w+)"')


def parse_pipeline(text: str, source: str | None = None):
    """Parse pipeline-config text the way the OD API does (`text_format.Merge`); a problem is a
    UsageError with file, line and column, and a suggestion for a misspelled field."""
    from google.protobuf import text_format

    from ..api import message_descriptor, pipeline_class

    message = pipeline_class()()
    try:
        text_format.Merge(text, message)
    except text_format.ParseError as exc:
        detail, line, column = str(exc), None, None
        match = _POSITION.match(detail)
        if match:
            line, column, detail = int(match.group(1)), int(match.group(2)), match.group(3)
        missing = _NO_FIELD.search(detail)
        if missing:
            owner = message_descriptor(missing.group(1))
            close = difflib.get_close_matches(missing.group(2), owner.fields_by_name, n=1)
            detail = (f"{owner.name} has no field {missing.group(2)!r} in the OD API's protos" +
                      (f" (did you mean {close[0]!r}?)" if close else ""))
        raise UsageError(f"pipeline config: {detail}", file=source, line=line,
                         column=column) from None
    return message
