"""Hostile values inside annotation fields and options: each is one error naming the file (and
the line, and the column where the file is malformed), never a Python exception, and the line
is the one an editor shows. Known answers are counted by hand from the files written here."""

from __future__ import annotations

import json
import os

import pytest
from datasets import write_jpeg

import tfrconv
from tfrconv.cli import main as cli_main

CSV_HEADER = "filename,width,height,class,xmin,ymin,xmax,ymax\n"
GOOD_ROW = "a.jpg,30,20,dog,1,1,5,5\n"
OID_HEADER = "ImageID,LabelName,XMin,XMax,YMin,YMax\n"
OID_ROW = "0123abcd,/m/dog,0.1,0.5,0.1,0.5\n"


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    write_jpeg(str(folder / "a.jpg"), 30, 20, 1)
    write_jpeg(str(folder / "0123abcd.jpg"), 30, 20, 2)
    return folder


def convert_csv(tmp_path, images, text: str, **extra):
    path = tmp_path / "labels.csv"
    path.write_bytes(text.encode("utf-8"))
    out = tmp_path / "out"
    summary = tfrconv.convert("csv", csv_file=str(path), image_dir=str(images),
                              output=str(out / "t.record"), workers=1, **extra)
    return summary, str(path), out


def convert_oid(tmp_path, images, text: str, **extra):
    path = tmp_path / "boxes.csv"
    path.write_bytes(text.encode("utf-8"))
    out = tmp_path / "out"
    summary = tfrconv.convert("oid", annotations_csv=str(path), images_dir=str(images),
                              output=str(out / "t.record"), workers=1, annotated_only=True,
                              **extra)
    return summary, str(path), out


def data_error(call, *args, **kwargs) -> tfrconv.DataError:
    with pytest.raises(tfrconv.DataError) as caught:
        call(*args, **kwargs)
    assert "\n" not in str(caught.value)
    return caught.value


def left_behind(out) -> list[str]:
    return sorted(os.listdir(out)) if os.path.isdir(out) else []


# -- the line of a bad row is the line an editor shows ---------------------------------------
CSV_LINE_CASES = {
    # name: (file text, line of the bad row)
    "a blank line before it": (CSV_HEADER + GOOD_ROW + "\n" + "a.jpg,30,20,dog,x,1,5,5\n", 4),
    "a line of spaces before it": (CSV_HEADER + GOOD_ROW + "  \n" + "a.jpg,30,20,dog,x,1,5,5\n",
                                   4),
    "a quoted line break before it": (CSV_HEADER + 'a.jpg,30,20,dog,"1\n",1,5,5\n'
                                      + "a.jpg,30,20,dog,x,1,5,5\n", 4),
    "Windows line ends": ((CSV_HEADER + GOOD_ROW + GOOD_ROW + "a.jpg,30,20,dog,x,1,5,5\n")
                          .replace("\n", "\r\n"), 4),
    "blank lines first": ("\n\n" + CSV_HEADER + "a.jpg,30,20,dog,x,1,5,5\n", 4),
    "no line break at the end": (CSV_HEADER + GOOD_ROW + "\n" + "a.jpg,30,20,dog,x,1,5,5", 4),
}


@pytest.mark.parametrize("case", list(CSV_LINE_CASES))
def test_csv_bad_row_names_its_own_line(tmp_path, images, case):
    text, line = CSV_LINE_CASES[case]
    error = data_error(convert_csv, tmp_path, images, text)
    assert str(error).startswith(f"{tmp_path / 'labels.csv'}:{line}: a.jpg: xmin is not a "
                                 "number")
    assert left_behind(tmp_path / "out") == []


def test_csv_classes_name_their_own_lines(tmp_path, images):
    text = CSV_HEADER + "\n" + GOOD_ROW + 'a.jpg,30,20,cat,"1\n",1,5,5\n' + \
        "a.jpg,30,20,cow,1,1,5,5\n"
    path = tmp_path / "map.pbtxt"
    path.write_text("item { id: 1 name: 'dog' }\n")
    error = data_error(convert_csv, tmp_path, images, text, label_map=str(path))
    assert (f"'cat' ({tmp_path / 'labels.csv'} line 4), 'cow' ({tmp_path / 'labels.csv'} "
            "line 6)") in str(error)


OID_LINE_CASES = {
    "a blank line before it": (OID_HEADER + OID_ROW + "\n" + "0123abcd,/m/dog,x,0.5,0.1,0.5\n",
                               4),
    "a quoted line break before it": (OID_HEADER + '0123abcd,/m/dog,"0.1\n",0.5,0.1,0.5\n'
                                      + "0123abcd,/m/dog,x,0.5,0.1,0.5\n", 4),
    "Windows line ends and a blank line": ((OID_HEADER + OID_ROW + "\n"
                                            + "0123abcd,/m/dog,x,0.5,0.1,0.5\n")
                                           .replace("\n", "\r\n"), 4),
}


@pytest.mark.parametrize("case", list(OID_LINE_CASES))
def test_oid_bad_row_names_its_own_line(tmp_path, images, case):
    text, line = OID_LINE_CASES[case]
    error = data_error(convert_oid, tmp_path, images, text)
    assert str(error).startswith(f"{tmp_path / 'boxes.csv'}:{line}: image 0123abcd: XMin is "
                                 "not a number")


def test_oid_row_without_an_image_id_names_its_own_line(tmp_path, images):
    text = OID_HEADER + OID_ROW + "\n\n" + ",/m/dog,0.1,0.5,0.1,0.5\n"
    error = data_error(convert_oid, tmp_path, images, text)
    assert (error.file, error.line) == (str(tmp_path / "boxes.csv"), 5)


# -- malformed CSV: line and column ----------------------------------------------------------
def test_csv_extra_field_names_line_and_column(tmp_path, images):
    # "a.jpg,30,20,dog,1,1,5,5,7": the 8th comma, at column 24, starts a 9th field
    text = CSV_HEADER + GOOD_ROW + "\n" + "a.jpg,30,20,dog,1,1,5,5,7\n"
    error = data_error(convert_csv, tmp_path, images, text)
    assert (error.line, error.column) == (4, 24)
    assert str(error).startswith(f"{tmp_path / 'labels.csv'}:4:24: ")
    assert "9 or more fields where the header has 8" in str(error)


def test_csv_extra_field_after_a_quoted_comma(tmp_path, images):
    # 'a.jpg,30,20,"d,g",1,1,5,5,7': the quoted comma is no field; the extra one is at 26
    text = CSV_HEADER + 'a.jpg,30,20,"d,g",1,1,5,5,7\n'
    error = data_error(convert_csv, tmp_path, images, text)
    assert (error.line, error.column) == (2, 26)


def test_csv_unterminated_quote_names_where_it_opens(tmp_path, images):
    # line 3 'a.jpg,30,20,"dog,1,1,5,5': the quote at column 13 never closes
    text = CSV_HEADER + GOOD_ROW + 'a.jpg,30,20,"dog,1,1,5,5\n' + GOOD_ROW
    error = data_error(convert_csv, tmp_path, images, text)
    assert (error.line, error.column) == (3, 13)
    assert "quote" in error.message


def test_oid_unterminated_quote_names_line_and_column(tmp_path, images):
    # line 3 '0123abcd,"/m/dog,0.1,0.5,0.1,0.5': the quote at column 10 never closes
    text = OID_HEADER + OID_ROW + '0123abcd,"/m/dog,0.1,0.5,0.1,0.5\n' + OID_ROW
    error = data_error(convert_oid, tmp_path, images, text)
    assert (error.file, error.line, error.column) == (str(tmp_path / "boxes.csv"), 3, 10)


def test_csv_not_utf8_names_line_and_column(tmp_path, images):
    text = CSV_HEADER.encode() + b"a.jpg,30,20,d\xe9g,1,1,5,5\n"
    path = tmp_path / "labels.csv"
    path.write_bytes(text)
    error = data_error(tfrconv.convert, "csv", csv_file=str(path), image_dir=str(images),
                       output=str(tmp_path / "out" / "t.record"), workers=1)
    assert (error.line, error.column) == (2, 14)
    assert "UTF-8" in error.message


def test_coco_malformed_json_names_line_and_column(tmp_path, images):
    path = tmp_path / "c.json"
    path.write_text('{"images": [\n  {"id": 1,, "file_name": "a.jpg"}]}\n')
    error = data_error(tfrconv.convert, "coco", annotations_file=str(path),
                       image_dir=str(images), output=str(tmp_path / "out" / "t.record"),
                       workers=1)
    assert (error.line, error.column) == (2, 12)


def test_coco_not_utf8_names_line_and_column(tmp_path, images):
    path = tmp_path / "c.json"
    path.write_bytes(b'{"images": [],\n "x": "d\xe9g"}\n')
    error = data_error(tfrconv.convert, "coco", annotations_file=str(path),
                       image_dir=str(images), output=str(tmp_path / "out" / "t.record"),
                       workers=1)
    assert (error.line, error.column) == (2, 9)


# -- NUL bytes and control characters in names -----------------------------------------------
def test_csv_nul_in_file_name_is_a_bad_annotation_on_its_line(tmp_path, images):
    text = CSV_HEADER + GOOD_ROW + "b\x00.jpg,30,20,dog,1,1,5,5\n"
    error = data_error(convert_csv, tmp_path, images, text)
    assert str(error).startswith(f"{tmp_path / 'labels.csv'}:3: ")
    assert "NUL" in str(error)
    summary, _path, _out = convert_csv(tmp_path, images, text, on_error="skip")
    assert (summary.examples, summary.problems["bad_annotation"]["count"]) == (1, 1)


@pytest.mark.parametrize("name", ["dog\x00", "d\x07og", "dog\x7f", "do\x1bg"])
def test_csv_control_character_in_class_is_rejected_on_its_line(tmp_path, images, name):
    text = CSV_HEADER + GOOD_ROW + f"a.jpg,30,20,{name},1,1,5,5\n"
    error = data_error(convert_csv, tmp_path, images, text)
    assert str(error).startswith(f"{tmp_path / 'labels.csv'}:3: ")
    assert "control character" in str(error)
    assert left_behind(tmp_path / "out") == []
    # not skippable: the label map is built from the classes before any image is read
    error = data_error(convert_csv, tmp_path, images, text, on_error="skip")
    assert "control character" in str(error)


def test_csv_tab_inside_class_is_a_control_character_too(tmp_path, images):
    error = data_error(convert_csv, tmp_path, images, CSV_HEADER + "a.jpg,30,20,d\tog,1,1,5,5\n")
    assert (error.line, "control character" in error.message) == (2, True)


def test_oid_nul_in_image_id_is_a_bad_annotation_on_its_line(tmp_path, images):
    text = OID_HEADER + OID_ROW + "01\x0023,/m/dog,0.1,0.5,0.1,0.5\n"
    error = data_error(convert_oid, tmp_path, images, text)
    assert str(error).startswith(f"{tmp_path / 'boxes.csv'}:3: ")
    assert "NUL" in str(error)
    summary, _path, _out = convert_oid(tmp_path, images, text, on_error="skip")
    assert (summary.examples, summary.problems["bad_annotation"]["count"]) == (1, 1)


def test_oid_control_character_in_label_is_rejected_on_its_line(tmp_path, images):
    text = OID_HEADER + OID_ROW + "0123abcd,/m/d\x00og,0.1,0.5,0.1,0.5\n"
    error = data_error(convert_oid, tmp_path, images, text)
    assert str(error).startswith(f"{tmp_path / 'boxes.csv'}:3: ")
    assert "control character" in str(error)


def test_coco_nul_in_file_name_is_a_bad_annotation(tmp_path, images):
    path = tmp_path / "c.json"
    images_list = [{"id": 1, "file_name": "a.jpg", "width": 30, "height": 20},
                   {"id": 2, "file_name": "b\x00.jpg", "width": 30, "height": 20}]
    path.write_text(json.dumps({"images": images_list, "annotations": [],
                                "categories": [{"id": 1, "name": "dog"}]}))
    options = {"annotations_file": str(path), "image_dir": str(images), "workers": 1,
               "output": str(tmp_path / "out" / "t.record")}
    error = data_error(tfrconv.convert, "coco", **options)
    assert str(error).startswith(f"{path}: image 2: ") and "NUL" in str(error)
    summary = tfrconv.convert("coco", **options, on_error="skip")
    assert (summary.examples, summary.problems["bad_annotation"]["count"]) == (1, 1)


def test_nul_in_file_name_on_the_command_line_is_one_line(tmp_path, images, capsys):
    path = tmp_path / "labels.csv"
    path.write_text(CSV_HEADER + "b\x00.jpg,30,20,dog,1,1,5,5\n")
    argv = ["csv", "--csv-file", str(path), "--image-dir", str(images), "--output",
            str(tmp_path / "out" / "t.record"), "--workers", "2"]
    assert cli_main(argv) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "internal error" not in error and f"{path}:2" in error


# -- options that name nothing sensible ------------------------------------------------------
@pytest.mark.parametrize("shards", [0, -1])
def test_num_shards_below_one_is_a_usage_error(tmp_path, images, shards):
    with pytest.raises(tfrconv.UsageError, match="--num-shards must be at least 1"):
        convert_csv(tmp_path, images, CSV_HEADER + GOOD_ROW, num_shards=shards)
    assert left_behind(tmp_path / "out") == []


@pytest.mark.parametrize("output", ["out/", "out"])
def test_output_naming_a_folder_is_a_usage_error(tmp_path, images, output):
    (tmp_path / "out").mkdir()
    path = tmp_path / "labels.csv"
    path.write_text(CSV_HEADER + GOOD_ROW)
    with pytest.raises(tfrconv.UsageError, match="--output .* names a folder; give a file "
                       "name such as .*train.record"):
        tfrconv.convert("csv", csv_file=str(path), image_dir=str(images), workers=1,
                        output=os.path.join(str(tmp_path), output))
    assert left_behind(tmp_path / "out") == []


def test_output_folder_on_the_command_line_is_one_line_exit_2(tmp_path, images, capsys):
    path = tmp_path / "labels.csv"
    path.write_text(CSV_HEADER + GOOD_ROW)
    argv = ["csv", "--csv-file", str(path), "--image-dir", str(images), "--output",
            str(tmp_path / "out") + "/"]
    assert cli_main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "names a folder" in error
    assert not (tmp_path / "out").exists()
