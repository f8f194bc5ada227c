"""The shared annotation XML helpers (tfrconv.annotation_xml) that VOC and Pets read with."""

from __future__ import annotations

import ast
import os

import pytest

import tfrconv
from tfrconv import (
    DataError,
    parse_annotation_xml,
    parse_annotation_xml_fast,
    read_annotation_file,
    xml_children,
    xml_number,
    xml_text,
)

PLAIN = (b"<annotation><filename>  a.jpg \n</filename><size><width> 64 </width><height/>"
         b"<depth>x</depth></size><size><width>32</width></size></annotation>")
ENTITY = b'<!DOCTYPE annotation [<!ENTITY d "dog">]><annotation><name>&d;</name></annotation>'


@pytest.mark.parametrize("parse", [lambda d: parse_annotation_xml("a.xml", d),
                                   parse_annotation_xml_fast], ids=["lxml", "expat"])
def test_fields_numbers_and_text_read_the_same_with_both_parsers(parse):
    root = parse(PLAIN)
    fields = xml_children(root)
    assert xml_text(fields["filename"]) == "a.jpg" and xml_text(fields.get("pose")) == ""
    size = xml_children(fields["size"])                 # a repeated tag: the last one wins
    assert xml_number(size["width"], "width", "a.xml", int) == 32
    first = xml_children(root.find("size"))
    assert xml_number(first["width"], "width", "a.xml") == 64.0
    assert xml_number(first["height"], "height", "a.xml") is None
    assert xml_number(first.get("missing"), "missing", "a.xml") is None


def test_a_bad_number_names_the_file_and_line():
    root = parse_annotation_xml("a.xml", PLAIN.replace(b"<depth>", b"\n\n<depth>"))
    depth = xml_children(root.find("size"))["depth"]
    with pytest.raises(DataError) as info:
        xml_number(depth, "depth", "a.xml")
    assert str(info.value) == "a.xml:4: <depth> is not a number: 'x'"


def test_entities_are_never_expanded():
    assert parse_annotation_xml_fast(ENTITY) is None    # a DTD goes to lxml
    root = parse_annotation_xml("e.xml", ENTITY)
    assert xml_text(root.find("name")) != "dog"


@pytest.mark.parametrize("data, message", [
    (b"<annotation><a></annotation>", "e.xml:1: not valid XML"),
    (b"<other/>", "e.xml: expected an <annotation> root element, found <other>"),
])
def test_bad_documents_are_one_line_errors_and_left_to_lxml(data, message):
    assert parse_annotation_xml_fast(data) is None
    with pytest.raises(DataError) as info:
        parse_annotation_xml("e.xml", data)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_files_are_read_whole_or_named_when_missing(tmp_path):
    big = b"<annotation>" + b"<x>1</x>" * 20_000 + b"</annotation>"      # > one 64 KiB read
    (tmp_path / "big.xml").write_bytes(big)
    assert read_annotation_file(str(tmp_path / "big.xml")) == big
    assert len(parse_annotation_xml(str(tmp_path / "big.xml"))) == 20_000
    with pytest.raises(DataError, match="missing.xml: annotation file not found"):
        read_annotation_file(str(tmp_path / "missing.xml"))


@pytest.mark.parametrize("module", ["voc", "pets"])
def test_the_xml_formats_use_only_tfrconv_s_public_names(module):
    """Builtins load like third-party plugins: no import of another builtin or a core module."""
    import tfrconv_plugins

    path = os.path.join(os.path.dirname(tfrconv_plugins.__file__), module + ".py")
    with open(path, encoding="utf-8") as fileobj:
        tree = ast.parse(fileobj.read())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert not {name for name in imported if name and name.startswith("tfrconv")} - {"tfrconv"}
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and node.module == "tfrconv" for alias in node.names}
    assert names <= set(tfrconv.__all__)
