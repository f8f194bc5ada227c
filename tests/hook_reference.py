"""docs/plugins.md's hook reference, derived from tfrconv/hookspecs.py.

`python tests/hook_reference.py` rewrites the generated part of docs/plugins.md (between the two
markers); tests/test_plugin_platform.py fails when the file differs from `render()`.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pluggy

from tfrconv import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BEGIN = ("<!-- hook reference: generated from tfrconv/hookspecs.py by "
         "`python tests/hook_reference.py`; do not edit by hand -->")
END = "<!-- end of the hook reference -->"


def hook_functions() -> list:
    """The hookspecs pluggy itself finds in the module, in definition order."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    names = {name for name in vars(manager.hook) if not name.startswith("_")}
    return [value for name, value in vars(hookspecs).items() if name in names]


def signature(function) -> str:
    sig = inspect.signature(function)
    params = ", ".join(f"{p.name}: {p.annotation}" if p.annotation is not p.empty else p.name
                       for p in sig.parameters.values())
    result = "" if sig.return_annotation is sig.empty else f" -> {sig.return_annotation}"
    return f"{function.__name__}({params}){result}"


def render() -> str:
    parts = [BEGIN, ""]
    for function in hook_functions():
        parts += [f"### {signature(function)}", "", inspect.getdoc(function) or "", ""]
    parts.append(END)
    return "\n".join(parts)


def generated_part(text: str) -> str | None:
    match = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), text, re.S)
    return match.group(0) if match else None


def main() -> int:
    text = DOCS.read_text()
    current = generated_part(text)
    if current is None:
        print(f"{DOCS}: no generated hook reference markers", file=sys.stderr)
        return 1
    DOCS.write_text(text.replace(current, render()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
