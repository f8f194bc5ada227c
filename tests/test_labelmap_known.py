"""Label maps with known answers: parsed items, written text, lint messages, lookups, errors and
their positions, all written out by hand (protobuf's own text_format and binary parser where a
parser is the oracle).

`test_labelmap.py` compares the plain-map tokenizer with text_format on generated maps; this
module pins the exact outputs around it.
"""

from __future__ import annotations

import hashlib
import pickle

import pytest
from google.protobuf import text_format

from tfrconv import LabelMapError
from tfrconv.labelmap import (
    LabelMap,
    LabelMapItem,
    LintMessage,
    lint_label_map,
    parse_label_map,
    read_label_map_file,
    validate_label_map,
)
from tfrconv.proto import label_map_class


def items(label_map: LabelMap) -> list[tuple]:
    return [(i.id, i.name, i.display_name) for i in label_map]


def text_format_items(text: str) -> list[tuple]:
    """The oracle: protobuf's own text parser, as the OD API reads a label map."""
    message = label_map_class()()
    text_format.Merge(text, message)
    return [(it.id, it.name, it.display_name if it.HasField("display_name") else None)
            for it in message.item]


# Plain maps (read without protobuf) and maps only text_format reads: the same items either way.
@pytest.mark.parametrize("text,expected", [
    ("item { id: 1 name: 'a' }", [(1, "a", None)]),
    ("item: { id: 2; name: \"b\", display_name: 'B' };", [(2, "b", "B")]),
    ("item{name:'c' id:3}\nitem{id:4 name:''}", [(3, "c", None), (4, "", None)]),
    ("# head\nitem { id: 5 # five\n name: 'd e' }  # tail", [(5, "d e", None)]),
    ("item { id: 1 name: 'x' id: 7 name: \"y\" display_name: 'p' display_name: 'q' }",
     [(7, "y", "q")]),                                   # a repeated field keeps its last value
    ("item { id: 2147483647 name: 'max' }", [(2147483647, "max", None)]),
    ("item { id: -2147483648 name: 'min' }", [(-2147483648, "min", None)]),
    ("item { id: 0x1f name: 'hex' }", [(31, "hex", None)]),                # text_format only
    ("item { id: 010 name: 'octal' }", [(8, "octal", None)]),
    ("item { id: 1 name: 'a\\'b' display_name: \"t\\tab\" }", [(1, "a'b", "t\tab")]),
    ("item { id: 1 name: 'n' frequency: RARE }", [(1, "n", None)]),
    ("item { name: 'no id' }", [(0, "no id", None)]),
    ("", []),
    ("item { id: 1; name: 'a', } ;item { id: 2, name: 'b'; },", [(1, "a", None), (2, "b", None)]),
    ("\ufeffitem { id: 1 name: 'bom' }", [(1, "bom", None)]),
])
def test_parsed_items(text, expected):
    assert items(parse_label_map(text, validate=False)) == expected
    assert text_format_items(text.lstrip("\ufeff")) == expected


@pytest.mark.parametrize("text", [
    "item { id: 1 name: 'a' }", "item: { id: 1, name: \"a\"; }", "item { id: 1 name: 'a' };",
    "item { id: 1 name: 'a' display_name: 'A' }", "item{id:-5 name:'a'}", "",
    "# only a comment",
])
def test_plain_maps_take_the_fast_path(text):
    from tfrconv.labelmap import _parse_plain

    assert _parse_plain(text) is not None


@pytest.mark.parametrize("text", [
    "item { id: 0x1 name: 'a' }", "item { id: 01 name: 'a' }", "item { id: 1.0 name: 'a' }",
    "item { id: 2147483648 name: 'a' }", "item { id: -2147483649 name: 'a' }",
    "item { id: 12345678901 name: 'a' }", "item { id: 1 name: 'a\\n' }",
    "item { id: 1 name: 'a' frequency: RARE }", "item { id: 1 }", "item { name: 'a' }",
    "item { id: 1 name: 'a' ", "item id: 1", "items { id: 1 name: 'a' }",
    "item { id: 1 name: a }", "item { id 1 name: 'a' }", "item { 'id': 1 }",
    "item { id: 1 name: 'a' } ?", "item { id: 1 name: 'a' }}", "item { id: 1 name: \"a' }",
    "item { id: 1 name: 'a\nb' }", "item { id: 1 display_name: 2 name: 'a' }",
    "item { id: 'a' name: 'a' }", "item {", "item", "item:", "item { id", "item { id:",
    "item { name:", "item { id: 1 name: 'a' } item",
])
def test_everything_else_is_left_to_text_format(text):
    from tfrconv.labelmap import _parse_plain

    assert _parse_plain(text) is None


# A separator goes after a field (or an item) once; text_format rejects any other.
@pytest.mark.parametrize("text", [
    ";item { id: 1 name: 'a' }", ",item { id: 1 name: 'a' }", "item { id: 1 name: 'a' };;",
    "item { id: 1 name: 'a' };,", "item { ; id: 1 name: 'a' }", "item { id: 1;; name: 'a' }",
    "item { id: 1,; name: 'a' }", "item { id: 1 name: 'a' }; ;", ";",
])
def test_separators_where_text_format_rejects_them(text):
    from tfrconv.labelmap import _parse_plain

    # (the fast path used to skip any run of them, so the OD API then failed on such a map)
    assert _parse_plain(text) is None
    with pytest.raises(LabelMapError, match="^syntax error: .*Expected identifier or number"):
        parse_label_map(text)


def test_a_binary_label_map_is_read_too():
    # StringIntLabelMap{item(1){name(1): "cat", id(2): 200, display_name(3): "Cat"}}; the id's
    # varint (c8 01) is not UTF-8, so this is no text map.
    data = b"\x0a\x0d" b"\x0a\x03cat" b"\x10\xc8\x01" b"\x1a\x03Cat"
    label_map = parse_label_map(data, "m.pb")
    assert items(label_map) == [(200, "cat", "Cat")]
    assert label_map.to_text() == 'item {\n  name: "cat"\n  id: 200\n  display_name: "Cat"\n}\n'


def test_bytes_that_are_neither_text_nor_binary_are_an_error():
    with pytest.raises(LabelMapError) as info:
        parse_label_map(b"\xff\xfe\xfd", "m.pb")
    assert str(info.value) == "m.pb: not a UTF-8 text label map (nor a binary one)"


def test_utf8_bytes_are_text():
    assert items(parse_label_map("item { id: 1 name: 'ça' }".encode())) == [(1, "ça", None)]


@pytest.mark.parametrize("text,line,column", [
    ("item {\n  id: 1\n  name: \u2018cat\u2019\n}\n", 3, 9),
    ("item { id: 1 name: \u201ccat\u201d }", 1, 20),
    ("# \u2018ok in a comment\u2019\nitem {\n id: 1 name: 'x' display_name: \u201cX\u201d }", 3,
     32),
])
def test_curly_quotes_are_found_where_they_are(text, line, column):
    with pytest.raises(LabelMapError) as info:
        parse_label_map(text, "q.pbtxt")
    error = info.value
    assert (error.file, error.line, error.column) == ("q.pbtxt", line, column)
    assert error.reason.startswith(f"curly quote {text.split(chr(10))[line - 1][column - 1]!r}: "
                                   "label maps need straight quotes (' or \"); this usually "
                                   "comes from copying out of a word processor")


def test_a_curly_quote_in_a_comment_only_is_fine():
    assert items(parse_label_map("item { id: 1 name: 'x' } # \u2018x\u2019")) == [(1, "x", None)]


@pytest.mark.parametrize("text,line,column,ending", [
    ("item {\n  id: '1'\n  name: 'cat'\n}\n", 2, 7, " (ids are numbers: write id: 1, not id: '1')"),
    ("item {\n  id: \"1\"\n}\n", 2, 7, " (ids are numbers: write id: 1, not id: '1')"),
    ("item {\n  id: 1\n  nam: 'cat'\n}\n", 3, 3,
     " (a label map item has the fields id, name and display_name)"),
    ("item { id: 1 name: 'a' ", 1, 20, 'Expected "}".'),
    ("item { id: x1 name: 'a' }", 1, 12, None),
])
def test_syntax_errors_give_text_formats_position(text, line, column, ending):
    with pytest.raises(LabelMapError) as info:
        parse_label_map(text, "s.pbtxt")
    error = info.value
    assert (error.file, error.line, error.column) == ("s.pbtxt", line, column)
    assert error.reason.startswith("syntax error: ")
    assert not error.reason.startswith("syntax error: 1")          # the position is taken out
    assert ending is None or error.reason.endswith(ending)
    hints = ("ids are numbers", "a label map item has")
    assert sum(hint in error.reason for hint in hints) == (ending is not None and
                                                           ending.startswith(" ("))


def test_validation_errors_name_the_item_and_its_line():
    with pytest.raises(LabelMapError) as info:
        parse_label_map("item { id: 1 name: 'a' }\n\nitem {\n id: -2 name: 'b' }", "v.pbtxt")
    assert str(info.value) == "v.pbtxt:3: item 'b' has id -2: ids must be >= 1"
    with pytest.raises(LabelMapError) as info:
        parse_label_map("item { id: 0 name: 'z' display_name: 'Z' }", "v.pbtxt")
    assert str(info.value) == ("v.pbtxt:1: item 'z' has id 0, which the OD API reserves for "
                               "'background': number classes from 1")
    # text_format's path validates as well, and binary maps (no lines) too
    with pytest.raises(LabelMapError, match="^v.pbtxt:1: item 'h' has id -1"):
        parse_label_map("item { id: -0x1 name: 'h' }", "v.pbtxt")
    assert parse_label_map("item { id: 0 name: 'x' display_name: 'background' }").max_id == 0
    assert items(parse_label_map("item { id: -1 name: 'n' }", validate=False)) == \
        [(-1, "n", None)]
    assert items(parse_label_map("item { id: 0x0 name: 'n' }", validate=False)) == \
        [(0, "n", None)]


def test_validate_without_item_lines():
    with pytest.raises(LabelMapError) as info:
        validate_label_map(LabelMap([LabelMapItem(1, "a"), LabelMapItem(-1, "b")],
                                    source="x", item_lines=[4]))
    assert (str(info.value), info.value.line) == ("x: item 'b' has id -1: ids must be >= 1",
                                                  None)


def test_item_lines_skip_nested_blocks_quotes_and_comments():
    text = ("# item { in a comment }\n"
            "item {\n"
            "  id: 1 name: 'item {'\n"
            "  keypoints { id: 0 label: 'item' }\n"
            "}\n"
            "\n"
            "item { id: 2 name: \"x}\" }  item { id: 3 name: 'y' }\n")
    assert parse_label_map(text).item_lines == [2, 7, 7]
    assert parse_label_map("item { id: 1 name: 'a' }\nitem {\nid: 2 name: 'b' }").item_lines \
        == [1, 2]


def test_lint_messages_exactly():
    text = ("item { id: 1 name: 'a' }\n"
            "item { id: 1 name: 'b' }\n"
            "item { id: 4 name: 'a' }\n"
            "item { id: 5 name: 'c' display_name: 'b' }\n"
            "item { id: 0 name: 'background' }\n"
            "item { id: 0 name: 'zero' }\n"
            "item { id: -3 name: '' display_name: 'Neg' }\n"
            "item { id: 6 name: 'f' display_name: 'Neg' }\n")
    label_map = parse_label_map(text, "l.pbtxt", validate=False)
    assert [str(m) for m in lint_label_map(label_map, text)] == [
        "error: line 2: duplicate id 1 (first at line 1)",
        "error: line 3: duplicate name 'a' (first at line 1)",
        "warning: line 5: id 0 'background' is implicit in the OD API; it is not a class",
        "error: line 6: id 0 ('zero') is reserved for background: start at 1",
        "error: line 6: duplicate id 0 (first at line 5)",
        "error: line 7: negative id -3 ('')",
        "warning: line 7: item with id -3 has no name",
        "error: line 8: duplicate display_name 'Neg' (first at line 7)",
        "error: line 4: display_name 'b' of id 5 is also the name of id 1: the decoder "
        "resolves 'b' to id 5",
        "warning: ids have gaps (2, 3); num_classes must still be 6",
    ]


def test_lint_without_lines_and_of_a_clean_map():
    label_map = LabelMap([LabelMapItem(1, "a"), LabelMapItem(1, "b", "B")])
    assert [str(m) for m in lint_label_map(label_map)] == ["error: duplicate id 1"]
    clean = parse_label_map("item { id: 1 name: 'a' display_name: 'a' }\n"
                            "item { id: 2 name: 'b' display_name: '' }")
    assert lint_label_map(clean, "item { id: 1 name: 'a' display_name: 'a' }") == []
    assert [str(m) for m in lint_label_map(LabelMap([]))] == [
        "error: the label map has no items"]


def test_lint_shows_ten_gaps_then_an_ellipsis():
    label_map = LabelMap([LabelMapItem(1, "a"), LabelMapItem(13, "b")])
    assert [str(m) for m in lint_label_map(label_map)] == [
        "warning: ids have gaps (2, 3, 4, 5, 6, 7, 8, 9, 10, 11 ...); num_classes must still "
        "be 13"]
    label_map = LabelMap([LabelMapItem(1, "a"), LabelMapItem(12, "b")])
    assert [str(m) for m in lint_label_map(label_map)] == [
        "warning: ids have gaps (2, 3, 4, 5, 6, 7, 8, 9, 10, 11); num_classes must still "
        "be 12"]


def test_lint_warns_of_a_repeated_field_at_its_line():
    text = "item {\n  id: 1\n  name: 'a'\n  name: 'b'\n}\n"
    messages = lint_label_map(parse_label_map(text), text)
    assert len(messages) == 1
    message = messages[0]
    assert (message.severity, message.line) == ("warning", 4)
    assert message.message.endswith(": the OD API keeps the last value")
    assert "name" in message.message and not message.message.startswith("4:")


def test_lint_message_text():
    assert str(LintMessage("error", "bad", 3)) == "error: line 3: bad"
    assert str(LintMessage("warning", "meh")) == "warning: meh"


def test_lookups_follow_the_decoder():
    label_map = LabelMap([LabelMapItem(3, "x"), LabelMapItem(5, "y", "x"),
                          LabelMapItem(2, "y"), LabelMapItem(9, "z", "Zed"),
                          LabelMapItem(4, "z", "Zed")])
    assert label_map.resolve("x") == 5            # max(name 3, display_name 5)
    assert label_map.resolve("y") == 2            # a later item with the same name wins
    assert label_map.resolve("Zed") == 4
    assert label_map.resolve("z") == 4
    assert label_map.resolve("w") is None
    assert "x" in label_map and "w" not in label_map and 3 not in label_map
    assert len(label_map) == 5 and label_map.max_id == 9
    assert [i.id for i in label_map] == [3, 5, 2, 9, 4]
    assert {k: v.name for k, v in label_map.by_id().items()} == {3: "x", 5: "y", 2: "y",
                                                                 9: "z", 4: "z"}
    assert LabelMap([LabelMapItem(1, "a"), LabelMapItem(1, "b")]).by_id()[1].name == "a"
    zero = LabelMap([LabelMapItem(0, "background")])
    assert zero.resolve("background") == 0 and "background" in zero
    assert LabelMap([]).max_id == 0 and len(LabelMap([])) == 0


def test_item_text_and_dicts():
    assert LabelMapItem(1, "a", "A").text == "A"
    assert LabelMapItem(1, "a").text == "a"
    assert LabelMapItem(1, "a", "").text == "a"
    label_map = LabelMap.from_names(["p", "q"], source="names")
    assert items(label_map) == [(1, "p", None), (2, "q", None)]
    assert label_map.source == "names"
    assert LabelMap([LabelMapItem(1, "a", "A"), LabelMapItem(2, "b")]).as_dicts() == [
        {"id": 1, "name": "a", "display_name": "A"}, {"id": 2, "name": "b"}]
    assert repr(label_map) == "LabelMap(2 items, source='names')"


PLAIN_TEXT = ('item {\n  name: "a"\n  id: 1\n}\n'
              'item {\n  name: "b"\n  id: 2\n  display_name: "Bee"\n}\n')


def test_plain_text_output_and_its_hash(tmp_path):
    label_map = LabelMap([LabelMapItem(1, "a"), LabelMapItem(2, "b", "Bee")])
    assert label_map.to_text() == PLAIN_TEXT
    assert label_map.sha256() == hashlib.sha256(PLAIN_TEXT.encode()).hexdigest()
    path = tmp_path / "m.pbtxt"
    label_map.write(path)
    assert path.read_bytes() == PLAIN_TEXT.encode()


def test_names_are_escaped_as_text_format_escapes_them():
    name = "q\"s'b\\t\tn\nr\rc\x01d\x7f\u00e9"
    label_map = LabelMap([LabelMapItem(1, name, "\x00")])
    assert label_map.to_text() == (
        'item {\n  name: "q\\"s\\\'b\\\\t\\tn\\nr\\rc\\001d\\177\u00e9"\n  id: 1\n'
        '  display_name: "\\000"\n}\n')
    message = label_map_class()()
    item = message.item.add(name=name, id=1, display_name="\x00")
    assert label_map.to_text() == "item {\n" + text_format.MessageToString(
        item, as_utf8=True, indent=2) + "}\n"
    assert items(parse_label_map(label_map.to_text())) == [(1, name, "\x00")]


def test_text_format_maps_keep_their_extra_fields_in_output():
    label_map = parse_label_map("item { id: 3 name: 'n' frequency: RARE display_name: 'N' }")
    assert label_map.to_text() == ('item {\n  name: "n"\n  id: 3\n  display_name: "N"\n'
                                   '  frequency: RARE\n}\n')


@pytest.mark.parametrize("text", [
    "item { id: 1 name: 'a' }", "item { id: 1 name: 'a' frequency: RARE }"])
def test_label_maps_pickle(text):
    label_map = parse_label_map(text, "p.pbtxt")
    again = pickle.loads(pickle.dumps(label_map))
    assert items(again) == items(label_map)
    assert again.to_text() == label_map.to_text()
    assert (again.source, again.item_lines, again.resolve("a")) == ("p.pbtxt", [1], 1)


def test_reading_files(tmp_path):
    path = tmp_path / "m.pbtxt"
    path.write_bytes(b"item { id: 1 name: 'a' }\n")
    label_map = read_label_map_file(path)
    assert items(label_map) == [(1, "a", None)] and label_map.source == str(path)
    path.write_bytes(b"item { id: 0 name: 'a' }\n")
    assert read_label_map_file(path, validate=False).max_id == 0
    with pytest.raises(LabelMapError, match="reserves for 'background'"):
        read_label_map_file(path)
    missing = tmp_path / "none.pbtxt"
    with pytest.raises(LabelMapError) as info:
        read_label_map_file(missing)
    assert str(info.value) == f"{missing}: cannot read label map: No such file or directory"


def test_item_lines_with_hashes_and_quotes_inside_names_and_comments():
    # (a '#' inside a name used to hide the braces after it, and with them the next items)
    text = ("item { id: 1 name: 'a#b' }\n"
            "item { id: 2 name: \"it's\" }  # item 'x' # item\n"
            "item { id: 3 name: 'c\\'d}' }  # it's {\n"
            "item { id: 4 name: '#{' display_name: \"}#\" }\n")
    assert parse_label_map(text).item_lines == [1, 2, 3, 4]
    label_map = parse_label_map("item { id: 1 name: 'a#b' }\nitem { id: 1 name: 'c' }\n")
    assert [str(m) for m in lint_label_map(label_map)] == [
        "error: line 2: duplicate id 1 (first at line 1)"]


def test_a_curly_quote_after_two_hashes_is_still_a_comment():
    text = "item { id: 1 name: 'x' } # \u201ca\u201d # b"
    assert items(parse_label_map(text)) == [(1, "x", None)]


@pytest.mark.parametrize("text,protobufs", [
    ("item {\n  id: '1'\n}\n", "Couldn't parse integer"),
    ("item {\n  nam: 'cat'\n}\n", "has no field named"),
])
def test_a_hint_is_added_to_text_formats_message_not_put_in_its_place(text, protobufs):
    with pytest.raises(LabelMapError) as info:
        parse_label_map(text, "h.pbtxt")
    assert protobufs in info.value.reason and info.value.reason.endswith(")")


def test_binary_maps_are_validated_and_named():
    # StringIntLabelMap{item{name: "x", id: 0}, item{name: "y", id: 200}}
    data = b"\x0a\x05\x0a\x01x\x10\x00" b"\x0a\x06\x0a\x01y\x10\xc8\x01"
    with pytest.raises(LabelMapError) as info:
        parse_label_map(data, "b.pb")
    assert str(info.value) == ("b.pb: item 'x' has id 0, which the OD API reserves for "
                               "'background': number classes from 1")
    label_map = parse_label_map(data, "b.pb", validate=False)
    assert items(label_map) == [(0, "x", None), (200, "y", None)]
    assert (label_map.source, label_map.item_lines) == ("b.pb", [])


def test_a_binary_label_map_file(tmp_path):
    path = tmp_path / "m.pb"
    path.write_bytes(b"\x0a\x06\x0a\x01y\x10\xc8\x01")
    assert items(read_label_map_file(path)) == [(200, "y", None)]


def test_plain_maps_need_no_text_format(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("text_format used for a plain map")

    monkeypatch.setattr(text_format, "Merge", refuse)
    assert items(parse_label_map("item { id: 1 name: 'a' }")) == [(1, "a", None)]


def test_text_format_maps_write_utf8_names_as_they_are():
    label_map = parse_label_map("item { id: 1 name: '\u00e9t\u00e9' frequency: RARE }")
    assert label_map.to_text() == 'item {\n  name: "\u00e9t\u00e9"\n  id: 1\n  frequency: RARE\n}\n'


def test_lint_gaps_from_one_and_empty_names_are_no_duplicates():
    label_map = LabelMap([LabelMapItem(2, ""), LabelMapItem(3, "")])
    assert [str(m) for m in lint_label_map(label_map)] == [
        "warning: item with id 2 has no name", "warning: item with id 3 has no name",
        "warning: ids have gaps (1); num_classes must still be 3"]
