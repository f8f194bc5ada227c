"""Every path option given a URL without the `[cloud]` extra: a one-line error naming the extra
(or saying where URLs are taken), exit status 2, and no local folder named after the scheme."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests import datasets

# The command line with fsspec made unimportable, as on a machine without the extra.
WITHOUT_FSSPEC = ("import sys; sys.modules['fsspec'] = None; from tfrconv.cli import run; "
                  "sys.argv = ['tfrconv'] + sys.argv[1:]; sys.exit(run())")
EXTRA = "pip install 'tfrconv[cloud]'"


def cases(data: str) -> list[tuple[list[str], str]]:
    """(arguments, what the error must say) for every path option a user can give a URL."""
    return [
        (["voc", "--data-dir", data, "--output", "gs://b/out/x.record"], EXTRA),
        (["voc", "--data-dir", "gs://b/voc", "--output", "o.record"], EXTRA),
        (["voc", "--data-dir", data, "--output", "o.record", "--label-map", "s3://b/l.pbtxt"],
         EXTRA),
        (["coco", "--annotations-file", "s3://b/a.json", "--output", "o.record"], EXTRA),
        (["coco", "--annotations-file", "a.json", "--image-dir", "az://b/img", "--output",
          "o.record"], EXTRA),
        (["csv", "--csv-file", "x.csv", "--image-dir", "gs://b/img", "--output", "o.record"],
         EXTRA),
        (["pets", "--data-dir", "gs://b/pets", "--output-dir", "gs://b/out"], EXTRA),
        (["voc", "--data-dir", data, "--output", "o.record", "--report", "gs://b/r.jsonl"],
         EXTRA),
        (["convert", "SHAPES", "--output", "gs://b/out/"], EXTRA),
        (["convert", "gs://b/shapes", "--output", "out/"], EXTRA),
        (["inspect", "gs://b/out/x.record"], EXTRA),
        (["verify", "gs://b/out/x.record"], EXTRA),
    ]


@pytest.mark.parametrize("index", range(len(cases(""))))
def test_a_url_without_the_extra_is_one_line_and_creates_nothing(tmp_path, index):
    layout, options = datasets.make("voc", tmp_path / "voc", datasets.standard_pictures())
    work = tmp_path / "work"
    work.mkdir()
    args, expected = cases(options["data_dir"])[index]
    if "SHAPES" in args:           # a dataset with splits (train, val)
        from tfrconv.shapes import generate_shapes
        generate_shapes(str(tmp_path / "shapes"), num_images=4, image_size=32)
        args = [str(tmp_path / "shapes") if a == "SHAPES" else a for a in args]
    done = subprocess.run([sys.executable, "-c", WITHOUT_FSSPEC, *args], cwd=work,
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stderr.splitlines() if "error" in line]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in work.iterdir()) == []       # no ./gs:/, no o.record
    assert not list((tmp_path / "voc").glob("*:"))
