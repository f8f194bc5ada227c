"""What a third-party plugin author hit (issue 16), each with a known answer: per-object
problems with their line, file and line apart, hints in the caller's terms, image problems naming
the image, the format's own class order, duplicate ids naming their files, per-split output
names, and temporary_plugin refusing a taken format name."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

import tfrconv
from tfrconv import DataError, FormatSpec, Object, Option, Sample, hookimpl, split_outputs
from tfrconv.cli import main
from tfrconv.errors import PluginError
from tfrconv.plugins import temporary_plugin

NAME = "author-toy"


class Plugin:
    def __init__(self, spec: FormatSpec) -> None:
        self.spec = spec

    @hookimpl
    def register_formats(self, register):
        register(self.spec)


def _boxes_read(item, opts):
    """`boxes/<item>.txt`: lines `label xmin ymin xmax ymax`; a bad line is one bad object."""
    path = os.path.join(opts.data_dir, "boxes", f"{item}.txt")
    objects, bad = [], []
    with open(path, encoding="utf-8") as fileobj:
        for number, line in enumerate(fileobj, start=1):
            label, *box = line.split()
            try:
                objects.append(Object(label, *(float(v) for v in box)))
            except ValueError:
                bad.append(DataError(f"bad box {line.strip()!r}", file=path, line=number))
    return Sample(f"{item}.png", f"{item}.png", origin=path,
                  image_path=os.path.join(opts.data_dir, f"{item}.png"), objects=objects,
                  object_errors=bad)


def _classes(opts):
    with open(os.path.join(opts.data_dir, "classes.txt"), encoding="utf-8") as fileobj:
        return fileobj.read().split()


def _spec(**fields) -> FormatSpec:
    fields.setdefault("read_item", _boxes_read)
    return FormatSpec(NAME, "boxes per image", options=(
        Option("data_dir", "the folder", "path", required=True),),
        list_items=lambda opts: ["a", "b"], classes=_classes, **fields)


def _dataset(root: Path, a_lines: str = "zebra 1 1 5 5\nant 2 2 6 six\nant 0 0 4 4\n") -> Path:
    from PIL import Image

    (root / "boxes").mkdir(parents=True)
    for stem in ("a", "b"):
        Image.new("RGB", (8, 8)).save(root / f"{stem}.png")
    (root / "boxes" / "a.txt").write_text(a_lines)
    (root / "boxes" / "b.txt").write_text("ant 1 1 7 7\n")
    (root / "classes.txt").write_text("zebra\nant\n")
    return root


def test_a_bad_object_line_stops_with_its_file_and_line_apart(tmp_path):
    data = _dataset(tmp_path / "d")
    with temporary_plugin(Plugin(_spec()), NAME), pytest.raises(DataError) as info:
        tfrconv.convert(NAME, data_dir=str(data), output=str(tmp_path / "o.record"), workers=1)
    error = info.value
    assert (error.file, error.line) == (str(data / "boxes" / "a.txt"), 2)
    assert str(error) == (f"{data / 'boxes' / 'a.txt'}:2: bad box 'ant 2 2 6 six' "
                          "(to skip instead: on_error='skip')")


def test_skip_drops_the_bad_line_and_keeps_the_image_s_good_boxes(tmp_path):
    data = _dataset(tmp_path / "d")
    with temporary_plugin(Plugin(_spec()), NAME):
        summary = tfrconv.convert(NAME, data_dir=str(data), output=str(tmp_path / "o.record"),
                                  workers=1, on_error="skip")
    assert (summary.examples, summary.objects, summary.skipped_objects) == (2, 3, 1)
    (problem,) = summary.problems["bad_annotation"]["first"]
    assert problem["file"] == f"{data / 'boxes' / 'a.txt'}:2"
    assert (problem["path"], problem["lineno"]) == (str(data / "boxes" / "a.txt"), 2)
    first = next(iter(tfrconv.read_examples(str(tmp_path / "o.record"))))
    assert first["image/object/class/text"] == [b"zebra", b"ant"]


def test_the_command_line_gives_the_hint_as_a_flag(tmp_path, capsys):
    data = _dataset(tmp_path / "d")
    with temporary_plugin(Plugin(_spec()), NAME):
        status = main([NAME, "--data-dir", str(data), "--output", str(tmp_path / "o.record"),
                       "--workers", "1"])
    assert status == 1
    assert capsys.readouterr().err == (f"tfrconv: error: {data / 'boxes' / 'a.txt'}:2: bad box "
                                       "'ant 2 2 6 six' (to skip instead: --on-error skip)\n")


def test_an_unreadable_item_error_keeps_file_and_line_apart(tmp_path):
    data = _dataset(tmp_path / "d")

    def read(item, opts):
        raise DataError("no boxes here", file=os.path.join(opts.data_dir, "list.txt"), line=7)

    with temporary_plugin(Plugin(_spec(read_item=read)), NAME), \
            pytest.raises(DataError) as info:
        tfrconv.convert(NAME, data_dir=str(data), output=str(tmp_path / "o.record"), workers=1)
    assert (info.value.file, info.value.line) == (str(data / "list.txt"), 7)


def test_unknown_class_hint_in_library_terms(tmp_path):
    data = _dataset(tmp_path / "d", a_lines="ant 1 1 5 5\n")
    label_map = tmp_path / "lm.pbtxt"
    label_map.write_text("item { id: 1 name: 'zebra' }\n")
    with temporary_plugin(Plugin(_spec()), NAME), pytest.raises(DataError) as info:
        tfrconv.convert(NAME, data_dir=str(data), output=str(tmp_path / "o.record"),
                        label_map=str(label_map), workers=1)
    assert str(info.value).endswith("(fix the label map, or on_unknown_class='skip')")
    assert "--on-unknown-class" not in str(info.value)


def test_an_image_problem_names_the_image_file(tmp_path):
    data = _dataset(tmp_path / "d", a_lines="ant 1 1 5 5\n")
    (data / "b.png").unlink()
    with temporary_plugin(Plugin(_spec()), NAME):
        with pytest.raises(DataError) as info:
            tfrconv.convert(NAME, data_dir=str(data), output=str(tmp_path / "o.record"),
                            workers=1)
        assert info.value.file == str(data / "b.png")
        assert f"(named in {data / 'boxes' / 'b.txt'})" in str(info.value)


def test_labelmap_from_data_keeps_the_format_s_order(tmp_path, capsys):
    data = _dataset(tmp_path / "d", a_lines="ant 1 1 5 5\nzebra 1 1 5 5\n")
    with temporary_plugin(Plugin(_spec(ordered_classes=True)), NAME):
        assert main(["labelmap", "from-data", NAME, "--data-dir", str(data)]) == 0
        text = capsys.readouterr().out
        summary = tfrconv.convert(NAME, data_dir=str(data), output=str(tmp_path / "o.record"),
                                  workers=1)
    # classes.txt: zebra, ant - not sorted
    assert text.index('"zebra"') < text.index('"ant"')
    assert "in the format's order" in summary.label_map
    first = next(iter(tfrconv.read_examples(str(tmp_path / "o.record"))))
    assert first["image/object/class/label"] == [2, 1]          # ant, zebra
    with temporary_plugin(Plugin(_spec()), NAME):                # no order declared: sorted
        assert main(["labelmap", "from-data", NAME, "--data-dir", str(data)]) == 0
    text = capsys.readouterr().out
    assert text.index('"ant"') < text.index('"zebra"')


def test_a_duplicate_source_id_names_both_files(tmp_path):
    data = _dataset(tmp_path / "d", a_lines="ant 1 1 5 5\n")

    def read(item, opts):
        sample = _boxes_read(item, opts)
        sample.source_id = "same"
        return sample

    with temporary_plugin(Plugin(_spec(read_item=read)), NAME), \
            pytest.raises(DataError) as info:
        tfrconv.convert(NAME, data_dir=str(data), output=str(tmp_path / "o.record"), workers=1)
    a, b = data / "boxes" / "a.txt", data / "boxes" / "b.txt"
    assert info.value.file == str(b)
    assert f"source id 'same' appears twice (in {a}, {b})" in str(info.value)


def test_split_outputs_names_one_file_per_split():
    assert split_outputs("out/data.record", ["train", "val"]) == {
        "train": "out/data_train.record", "val": "out/data_val.record"}
    assert split_outputs("out/x.tfrecord", ["test"]) == {"test": "out/x_test.tfrecord"}
    assert split_outputs("out/plain", ["train"]) == {"train": "out/plain_train.record"}
    assert split_outputs(None, ["train"]) == {}


def test_temporary_plugin_refuses_a_taken_format_name(tmp_path):
    taken = FormatSpec("voc", "not VOC", list_items=list, read_item=print)
    with pytest.raises(PluginError, match="format 'voc' is registered by two plugins"), \
            temporary_plugin(Plugin(taken), "mine"):
        pass
    from tfrconv.plugins import get_registry

    assert "mine" not in get_registry().plugins


def test_errors_cross_processes_whole():
    from tfrconv.errors import OptionHint

    error = DataError("bad", file="a.txt", line=3, hint=OptionHint("on_error", "skip"))
    error.in_library_terms()
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.file, copy.line, str(copy)) == \
        (DataError, "a.txt", 3, "a.txt:3: bad (on_error='skip')")
