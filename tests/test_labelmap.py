"""Label maps: the OD API's syntax, its validation, precise errors, lint, builtins, lookups."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from importcheck import modules_loaded
from reach import branch, reaches

from tfrconv import LabelMap, LabelMapError, UsageError, load_label_map
from tfrconv.labelmap import lint_label_map, parse_label_map


def test_accepts_everything_the_odapi_parser_accepts():
    text = """
    # a comment
    item { id: 1 name: 'cat' }
    item: { id: 2, name: "dog", display_name: 'Dog' }
    item {
      name: "bird"   # trailing comment
      id: 3
      keypoints { id: 0 label: "beak" }
      frequency: RARE
    }
    """
    label_map = parse_label_map(text, "m.pbtxt")
    assert [(i.id, i.name, i.display_name) for i in label_map] == [
        (1, "cat", None), (2, "dog", "Dog"), (3, "bird", None)]
    # extra proto fields survive writing
    again = parse_label_map(label_map.to_text())
    assert "keypoints" in again.to_text() and "RARE" in again.to_text()


def test_repeated_singular_field_last_wins_like_merge_and_lint_warns():
    text = "item { id: 1 id: 2 name: 'a' }\n"
    label_map = parse_label_map(text)
    assert label_map.items[0].id == 2
    warnings = lint_label_map(label_map, text)
    assert any("last value" in w.message and w.severity == "warning" for w in warnings)


@pytest.mark.parametrize("text,line,column,fragment", [
    ("item {\n  id: 1\n  name: \u2018cat\u2019\n}\n", 3, 9, "curly quote"),
    ("item {\n  id: '1'\n  name: 'cat'\n}\n", 2, None, "ids are numbers"),
    ("item {\n  id: 1\n  nam: 'cat'\n}\n", 3, None, "no field named"),
    ("item {\n  id: 1\n  name: 'cat'\n", None, None, "syntax error"),
])
def test_syntax_errors_name_file_line_and_column(text, line, column, fragment):
    with pytest.raises(LabelMapError) as info:
        parse_label_map(text, "bad.pbtxt")
    error = info.value
    assert error.file == "bad.pbtxt"
    assert fragment in str(error)
    if line is not None:
        assert error.line == line
    if column is not None:
        assert error.column == column
    assert str(error).startswith("bad.pbtxt:")


def test_odapi_validation_rules():
    with pytest.raises(LabelMapError, match="id 0.*reserves for 'background'"):
        parse_label_map("item { id: 0 name: 'cat' }")
    with pytest.raises(LabelMapError, match="ids must be >= 1"):
        parse_label_map("item { id: -3 name: 'cat' }")
    ok = parse_label_map("item { id: 0 name: 'background' } item { id: 1 name: 'cat' }")
    assert ok.resolve("cat") == 1


def test_lint_finds_duplicates_gaps_and_collisions():
    text = ("item { id: 1 name: 'a' }\nitem { id: 1 name: 'b' }\nitem { id: 4 name: 'a' }\n"
            "item { id: 5 name: 'c' display_name: 'b' }\n")
    label_map = parse_label_map(text, "m.pbtxt", validate=False)
    messages = lint_label_map(label_map, text)
    text_of = [str(m) for m in messages]
    assert any("duplicate id 1" in t and "line 2" in t for t in text_of)
    assert any("duplicate name 'a'" in t and "line 3" in t for t in text_of)
    assert any("gaps (2, 3)" in t and t.startswith("warning") for t in text_of)
    assert any("display_name 'b' of id 5 is also the name of id 1" in t for t in text_of)


def test_resolution_follows_the_decoder_max_rule():
    label_map = parse_label_map("item { id: 3 name: 'x' }\n"
                                "item { id: 5 name: 'y' display_name: 'x' }")
    assert label_map.resolve("x") == 5           # max(name→3, display→5)
    assert label_map.resolve("y") == 5
    assert label_map.resolve("z") is None


def test_builtin_label_maps():
    pascal = load_label_map("pascal")
    assert len(pascal) == 20 and pascal.resolve("aeroplane") == 1 and pascal.max_id == 20
    coco = load_label_map("mscoco")
    assert len(coco) == 80 and coco.max_id == 90
    assert coco.resolve("person") == 1 and coco.resolve("toothbrush") == 90
    missing = sorted(set(range(1, 91)) - {i.id for i in coco})
    assert missing == [12, 26, 29, 30, 45, 66, 68, 69, 71, 83]
    pets = load_label_map("pets")
    assert len(pets) == 37 and pets.resolve("Abyssinian") == 1
    assert load_label_map("kitti").resolve("pedestrian") == 2


def test_unknown_name_or_path_is_a_usage_error():
    with pytest.raises(UsageError, match="builtin: kitti, mscoco, pascal, pets"):
        load_label_map("nonexistent_map")


def test_write_and_read_round_trip(tmp_path):
    label_map = LabelMap.from_names(["b'q", "a\\b", "c"])
    path = tmp_path / "m.pbtxt"
    label_map.write(path)
    again = load_label_map(str(path))
    assert [(i.id, i.name) for i in again] == [(1, "b'q"), (2, "a\\b"), (3, "c")]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tfrconv", *args], capture_output=True,
                          text=True)


def test_cli_list_show_lint(tmp_path):
    listed = _cli("labelmap", "list", "--json")
    assert listed.returncode == 0
    names = {row["name"]: row for row in json.loads(listed.stdout)}
    assert names["mscoco"]["items"] == 80 and names["pascal"]["items"] == 20
    shown = _cli("labelmap", "show", "pascal")
    assert shown.returncode == 0 and "tvmonitor" in shown.stdout
    bad = tmp_path / "bad.pbtxt"
    bad.write_text("item { id: 0 name: 'cat' }\nitem { id: 2 name: 'cat' }\n")
    linted = _cli("labelmap", "lint", str(bad))
    assert linted.returncode == 1
    assert f"{bad}:1: error: id 0" in linted.stdout
    assert "duplicate name 'cat'" in linted.stdout
    curly = tmp_path / "curly.pbtxt"
    curly.write_text("item {\n  id: 1\n  name: \u2018cat\u2019\n}\n")
    linted = _cli("labelmap", "lint", str(curly))
    assert linted.returncode == 1 and f"{curly}:3:9: curly quote" in linted.stderr
    good = tmp_path / "good.pbtxt"
    good.write_text("item { id: 1 name: 'cat' }\n")
    assert _cli("labelmap", "lint", str(good)).stdout.strip().endswith("OK (1 items, max id 1)")


# -- the plain-map fast path agrees with text_format ------------------------------------------
# Plain names, including the spaces and characters a careless fast path would lose or choke on.
PLAIN_NAMES = st.sampled_from(["cat", " cat", "dog ", "traffic light", "", "Straße", "狗",
                               "a#b", "x{y}", "it's", 'say "hi"', "1", "é\t"]) | st.text(
    st.characters(blacklist_categories=["Cs", "Cc"],
                  blacklist_characters="\\'\"\u2018\u2019\u201c\u201d"), max_size=8)
ODD_NAMES = st.text(st.characters(blacklist_categories=["Cs"],
                                  blacklist_characters="\u2018\u2019\u201c\u201d"), max_size=8)
# Targeted breaks, each rare: what leaves the fast path (hex or octal ids, escapes, other
# fields, a missing id or name) and what text_format rejects (ids out of range, bad tokens).
CORRUPTIONS = ["hex id", "octal id", "big id", "escaped name", "frequency", "no id", "no name",
               "unknown field", "missing brace", "quoted id"]


def quoted(draw, text: str) -> str:
    """`text` in quotes as a label-map writer would put it (escaping only what must be)."""
    quote = draw(st.sampled_from(["'", '"']))
    if quote in text:
        quote = "'" if quote == '"' else '"'
    if quote in text or "\\" in text or "\n" in text:
        return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) \
            .replace("\n", "\\n") + quote
    return quote + text + quote


@st.composite
def label_map_texts(draw):
    """Label-map text in the many spellings text_format accepts: mostly plain maps (so the fast
    path answers), a field repeated now and then (last wins), one targeted break at times."""
    corruption = draw(st.sampled_from(CORRUPTIONS)) if draw(st.integers(0, 4)) == 0 else None
    blocks = []
    for index in range(draw(st.integers(1, 5))):
        fields = {"id": [str(draw(st.integers(-(2**31), 2**31 - 1)))],
                  "name": [quoted(draw, draw(PLAIN_NAMES))]}
        if draw(st.booleans()):
            fields["display_name"] = [quoted(draw, draw(PLAIN_NAMES))]
        for key in list(fields):                      # repeated fields: text_format keeps the last
            if draw(st.integers(0, 3)) == 0:
                fields[key].append(str(draw(st.integers(0, 99))) if key == "id"
                                   else quoted(draw, draw(PLAIN_NAMES)))
        broken = corruption is not None and index == 0
        if broken and corruption in ("hex id", "octal id", "big id", "quoted id"):
            fields["id"] = [{"hex id": "0x1f", "octal id": "07", "big id": str(2**31),
                             "quoted id": "'3'"}[corruption]]
        elif broken and corruption == "escaped name":
            fields["name"] = [quoted(draw, draw(ODD_NAMES) + "\\")]
        elif broken and corruption in ("no id", "no name"):
            del fields[corruption[3:]]
        elif broken and corruption in ("frequency", "unknown field"):
            fields[{"frequency": "frequency", "unknown field": "colour"}[corruption]] = ["RARE"]
        lines = [f"{key}: {value}" + draw(st.sampled_from(["", ",", ";"]))
                 for key, values in fields.items() for value in values]
        space = draw(st.sampled_from([" ", "\n  ", "  # note\n "]))
        opener = draw(st.sampled_from(["item {", "item: {", "item{"]))
        closer = "" if broken and corruption == "missing brace" else " }"
        blocks.append(opener + space + space.join(draw(st.permutations(lines))) + closer)
    return draw(st.sampled_from(["\n", " ", "\n# c\n"])).join(blocks) + "\n"


@reaches("fast path compared")
@settings(max_examples=300, deadline=None)
@given(label_map_texts())
def test_plain_parser_agrees_with_text_format(text):
    from google.protobuf import text_format

    from tfrconv.labelmap import _from_message, _parse_plain
    from tfrconv.proto import label_map_class

    plain = _parse_plain(text)
    message = label_map_class()()
    try:
        text_format.Merge(text, message)
    except text_format.ParseError:
        branch("text_format rejects")
        assert plain is None                  # text_format's error message is the one shown
        return
    if plain is None:
        branch("not plain: text_format used")
        return
    branch("fast path compared")
    exact = _from_message(message, None, [], validate=False)
    assert plain == exact.items
    assert LabelMap(plain).to_text() == exact.to_text()


def test_plain_maps_do_not_import_protobuf():
    code = "from tfrconv import load_label_map; load_label_map('pascal').to_text()"
    assert modules_loaded(code, ["google.protobuf"]) == []
