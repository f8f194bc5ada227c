"""The Beam runner's spool: payloads written in pieces by bundles come back whole by reference."""

from __future__ import annotations

import pytest

pytest.importorskip("apache_beam")

from tfrconv.runners import beam_spool  # noqa: E402
from tfrconv.runners.beam_spool import SpoolReader, SpoolWriter  # noqa: E402


def test_payloads_come_back_by_reference_across_bundles(tmp_path, monkeypatch):
    monkeypatch.setattr(beam_spool, "OPEN_FILES", 2)      # force the reader to close and reopen
    payloads = [bytes([n]) * (n * 37 + 1) for n in range(60)]
    refs = []
    writer = SpoolWriter(str(tmp_path))
    for bundle in range(5):                               # one file per bundle
        for payload in payloads[bundle * 12:(bundle + 1) * 12]:
            half = len(payload) // 2
            refs.append(writer.add([payload[:half], memoryview(payload)[half:]]))
        writer.close()
    assert len({path for path, _offset, _length in refs}) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {path.rsplit("/", 1)[1] for path, _o, _l in refs})
    reader = SpoolReader()
    order = list(range(59, -1, -3)) + list(range(60))    # out of file order, and repeated
    try:
        for index in order:
            assert reader.read(*refs[index]) == payloads[index]
    finally:
        reader.close()


def test_a_short_spool_file_is_an_error_not_a_short_record(tmp_path):
    writer = SpoolWriter(str(tmp_path))
    path, offset, length = writer.add([b"abcdef"])
    writer.close()
    reader = SpoolReader()
    with pytest.raises(OSError, match="ends early"):
        reader.read(path, offset, length + 1)
    reader.close()
