"""Third-party plugins for tests, installed the way pip would: a dist-info with entry points."""

from __future__ import annotations

import textwrap
from pathlib import Path

SLOW_FORMAT = """
import time
from tfrconv import FormatSpec, Object, Sample, hookimpl

@hookimpl
def register_formats(register):
    register(FormatSpec("slow", "sleeps", list_items=lambda o: range(10_000),
                        read_item=read, default_label_map=lambda o: "pascal"))

def read(item, opts):
    time.sleep(0.01)
    return Sample(str(item), "x.png", image_path=IMAGE, objects=[Object("cat", 0, 0, 1, 1)])
"""


def fake_dist(site: Path, dist: str, module_source: str, entry: str | None = None) -> None:
    """A distribution `dist` whose `tfrconv` entry point `entry` (default: `dist`) is the module
    `<dist>_mod` with `module_source`; put `site` on PYTHONPATH to install it."""
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[tfrconv]\n{entry or dist} = {dist}_mod\n")
    (site / f"{dist}_mod.py").write_text(textwrap.dedent(module_source))


def slow_format_site(tmp_path: Path) -> Path:
    """A site folder holding the `slow` format (10,000 items, 10 ms each): for interrupts."""
    from PIL import Image

    image = tmp_path / "x.png"
    Image.new("RGB", (4, 4)).save(image)
    site = tmp_path / "site"
    fake_dist(site, "slowfmt", SLOW_FORMAT.replace("IMAGE", repr(str(image))), entry="slow")
    return site


def one_image_format(format_name: str, image: Path, help_text: str = "a test format",
                     items: str = "['img_001']", read_body: str = "") -> str:
    """Source of a plugin registering `format_name`: `items` (an expression of `opts`) are read
    as one cat on `image`, after `read_body` (code that may raise, with `item` in scope)."""
    return f"""
        from tfrconv import FormatSpec, Object, Sample, hookimpl

        def list_items(opts):
            return {items}

        def read_item(item, opts):
            {read_body or "pass"}
            return Sample(str(item), "x.png", image_path={str(image)!r},
                          objects=[Object("cat", 0, 0, 1, 1)])

        @hookimpl
        def register_formats(register):
            register(FormatSpec({format_name!r}, {help_text!r}, list_items=list_items,
                                read_item=read_item, default_label_map=lambda o: "pascal"))
    """
