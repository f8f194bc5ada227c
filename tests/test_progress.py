"""Progress where people work: a bar on a terminal (tqdm, or a plain line without it), log lines
without a terminal, nothing when quiet, and tqdm imported only when a bar is shown."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from test_layouts import jpeg, voc_xml

import tfrconv
from tfrconv import progress as progress_module
from tfrconv.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_without_a_terminal_say_count_share_rate_and_eta():
    stream = io.StringIO()
    progress = Progress("voc", 4, stream=stream, interval=0)
    progress.update(1)
    progress.update(1)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("tfrconv: voc 2/4 (50%) ")
    assert "/s, ETA " in lines[1] and lines[1].endswith(" s")


def test_log_lines_come_every_interval_only():
    stream = io.StringIO()
    progress = Progress("voc", 1000, stream=stream, interval=3600)
    for _ in range(100):
        progress.update()
    assert stream.getvalue() == ""


def test_disabled_writes_nothing():
    stream = Terminal()
    progress = Progress("voc", 3, stream=stream, enabled=False)
    progress.update(3)
    progress.close()
    assert stream.getvalue() == "" and progress.mode == "off"


def test_terminal_bar_through_tqdm():
    pytest.importorskip("tqdm")
    stream = Terminal()
    progress = Progress("voc", 4, stream=stream)
    progress.update(3)
    assert "voc" in stream.getvalue() and "/4" in stream.getvalue()
    assert type(progress.bar).__module__.startswith("tqdm") and progress.bar.n == 3
    progress.close()


def test_terminal_line_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)          # import tqdm now fails
    stream = Terminal()
    progress = Progress("voc", 4, stream=stream)
    progress.update(2)
    assert "voc [" in stream.getvalue() and "2/4" in stream.getvalue()
    assert "ETA" in stream.getvalue()
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def small_voc(root) -> None:
    for name in ("a", "b"):
        jpeg(f"{root}/{name}.jpg")
        voc_xml(f"{root}/{name}.xml", f"{name}.jpg", [("cat", 4, 4, 20, 20)])


def test_library_progress_true_logs_without_a_terminal(tmp_path, capsys, monkeypatch):
    small_voc(tmp_path / "ds")
    monkeypatch.setattr(progress_module, "LOG_INTERVAL", 0.0)
    tfrconv.convert("voc", data_dir=str(tmp_path / "ds"), xml_beside_images=True,
                    output=str(tmp_path / "x.record"), workers=1, progress=True)
    err = capsys.readouterr().err
    assert "tfrconv: voc 2/2 (100%)" in err
    tfrconv.convert("voc", data_dir=str(tmp_path / "ds"), xml_beside_images=True,
                    output=str(tmp_path / "x.record"), workers=1)
    assert capsys.readouterr().err == ""                      # the library is quiet by default


def test_tqdm_is_not_imported_when_no_bar_is_shown(tmp_path):
    small_voc(tmp_path / "ds")
    code = ("import sys, tfrconv; tfrconv.convert('voc', data_dir=sys.argv[1], "
            "xml_beside_images=True, output=sys.argv[2], workers=1, progress=True); "
            "print('tqdm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ds"),
                          str(tmp_path / "x.record")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
