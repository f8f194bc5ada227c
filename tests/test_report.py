"""`tfrconv report`: the numbers behind the page, the split comparison, problems, duplicates,
the command line, and the page itself in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import math
import random
import re

import pytest
from headless_browser import Browser, find_browser
from importcheck import modules_loaded
from recordmaker import LABEL_MAP, good_features, image_bytes, write

from tfrconv.cli import main
from tfrconv.report import duplicates as duplicates_module
from tfrconv.report import parse_splits, write_report
from tfrconv.report.compare import compare_counts, compare_numbers, js_divergence, ks_statistic
from tfrconv.report.duplicates import NEAR_BITS, DuplicateIndex
from tfrconv.report.histograms import Grid, Histogram
from tfrconv.report.page import SECTIONS

pytest.importorskip("matplotlib", reason="tfrconv report draws with matplotlib: the [report] "
                    "extra (part of the test extra)")


def example(source_id: str, boxes, classes, *, size=(64, 48), colour=(120, 120, 120),
            fmt: str = "JPEG", image: bytes | None = None) -> dict:
    """One record: `boxes` as normalized (xmin, ymin, xmax, ymax), `classes` as texts."""
    data = image if image is not None else image_bytes(*size, colour=colour, fmt=fmt)
    features = good_features(source_id, *size, image=data)
    for index, key in enumerate(("xmin", "ymin", "xmax", "ymax")):
        features[f"image/object/bbox/{key}"] = ("float", [b[index] for b in boxes])
    features["image/object/class/text"] = ("bytes", [c.encode() for c in classes])
    ids = {"circle": 1, "square": 2}
    features["image/object/class/label"] = ("int", [ids.get(c, 9) for c in classes])
    features["image/object/difficult"] = ("int", [0] * len(boxes))
    return features


@pytest.fixture
def two_splits(tmp_path):
    """train: 3 images (2 + 2 + 0 boxes), val: 2 images, one a byte-for-byte copy of a train
    image (leakage), one with a class the label map lacks; a label map with an unused class."""
    shared = image_bytes(64, 48, colour=(10, 200, 30))
    train = write(tmp_path / "train.record", [
        example("a.jpg", [(0.0, 0.0, 0.5, 0.5), (0.5, 0.5, 1.0, 1.0)], ["circle", "square"],
                image=shared),
        example("b.jpg", [(0.25, 0.25, 0.75, 0.5), (0.1, 0.1, 0.2, 0.2)], ["circle", "circle"],
                size=(100, 50)),
        example("c.png", [], [], size=(32, 32), fmt="PNG"),
    ])
    val = write(tmp_path / "val.record", [
        example("copy_of_a.jpg", [(0.0, 0.0, 0.5, 0.5)], ["circle"], image=shared),
        example("d.jpg", [(0.1, 0.1, 0.2, 0.4)], ["hexagon"], colour=(250, 10, 10)),
    ])
    label_map = tmp_path / "label_map.pbtxt"
    label_map.write_text(LABEL_MAP + "item { id: 3 name: 'triangle' }\n")
    return train, val, label_map


# -- the numbers -----------------------------------------------------------------------------
def test_the_summary_counts_what_the_records_hold(tmp_path, two_splits):
    train, val, label_map = two_splits
    report = write_report([train, val], tmp_path / "out", label_map=str(label_map))
    assert report.path == str(tmp_path / "out" / "index.html")
    summary = json.loads((tmp_path / "out" / "report.json").read_text())
    assert summary["splits"] == report.summary["splits"]
    first, second = summary["splits"]
    assert (first["name"], second["name"]) == ("train", "val")
    assert (first["examples"], first["objects"], first["empty_images"]) == (3, 4, 1)
    assert first["classes"] == {"circle": {"objects": 3, "images": 2},
                                "square": {"objects": 1, "images": 1}}
    assert first["boxes_per_image"]["counts"][:3] == [1, 0, 2]
    assert first["formats"] == {"jpeg": 2, "png": 1}
    assert first["sizes"] == {"64x48": 1, "100x50": 1, "32x32": 1}
    # box b.jpg: 0.5 x 0.25 of 100 x 50 pixels = 50 x 12.5, aspect 4
    assert first["boxes"]["width_px"]["max"] == 50.0
    assert first["boxes"]["aspect"]["max"] == 4.0
    assert first["boxes"]["area"]["count"] == 4
    assert second["classes"] == {"circle": {"objects": 1, "images": 1},
                                 "hexagon": {"objects": 1, "images": 1}}
    table = summary["label_map"]
    assert [(i["name"], i["objects"], i["unused"]) for i in table["items"]] == [
        ("circle", [3, 1], False), ("square", [1, 0], False), ("triangle", [0, 0], True)]
    assert table["unseen"] == ["hexagon"]
    assert summary["duplicates"]["exact_groups_across_splits"] == 1
    assert summary["duplicates"]["exact_extra_copies"] == 1


def test_split_names_come_from_the_files_or_are_given(tmp_path):
    splits = parse_splits(["out/train.record-*", "out/val.record-00000-of-00002",
                           "holdout=out/x.tfrecord", "out/train.record"])
    assert [(s.name, s.records) for s in splits] == [
        ("train", "out/train.record-*"), ("val", "out/val.record-00000-of-00002"),
        ("holdout", "out/x.tfrecord"), ("train (2)", "out/train.record")]
    assert [s.name for s in parse_splits({"a": "x.record"})] == ["a"]


def test_histograms_bin_by_their_edges():
    histogram = Histogram([0, 1, 10, 100])
    for value in (-1, 0, 0.5, 1, 9.99, 10, 99, 100, 1e9, math.nan):
        histogram.add(value)
    assert (histogram.under, histogram.counts, histogram.over) == (1, [2, 2, 2], 2)
    assert histogram.cells() == [1, 2, 2, 2, 2]
    assert Histogram.log(1, 1000, 3).edges == pytest.approx([1, 10, 100, 1000])
    counts = Histogram.integers(3)
    for value in (0, 1, 1, 3, 4):
        counts.add(value)
    assert (counts.counts, counts.over) == ([1, 2, 0, 1], 1)
    grid = Grid(2)
    for x, y in ((0.1, 0.1), (0.9, 0.1), (1.0, 1.0), (1.5, 0.5), (math.nan, 0.5)):
        grid.add(x, y)
    assert (grid.counts, grid.outside) == ([[1, 1], [0, 1]], 2)


# -- the comparison between splits --------------------------------------------------------------
def brute_force_ks(a: list[float], b: list[float]) -> float:
    """The KS statistic straight from its definition, on raw values."""
    points = sorted(set(a) | set(b))
    return max(abs(sum(x <= p for x in a) / len(a) - sum(x <= p for x in b) / len(b))
               for p in points)


@pytest.mark.parametrize("seed", range(5))
def test_ks_on_shared_bins_equals_the_raw_statistic_when_values_sit_in_bins(seed):
    rng = random.Random(seed)
    a = [rng.randrange(10) for _ in range(rng.randrange(1, 60))]
    b = [rng.randrange(10) for _ in range(rng.randrange(1, 60))]
    cells_a, cells_b = [a.count(v) for v in range(10)], [b.count(v) for v in range(10)]
    assert ks_statistic(cells_a, cells_b) == pytest.approx(brute_force_ks(a, b))


def test_js_divergence_is_entropy_of_the_mixture_minus_the_mean_entropy():
    def entropy(p):
        return -sum(x * math.log2(x) for x in p if x)

    p, q = {"a": 5, "b": 5}, {"a": 7, "b": 3}
    mixture = [(0.5 + 0.7) / 2, (0.5 + 0.3) / 2]
    expected = entropy(mixture) - (entropy([0.5, 0.5]) + entropy([0.7, 0.3])) / 2
    assert js_divergence(p, q) == pytest.approx(expected)
    assert js_divergence({"a": 4}, {"b": 9}) == pytest.approx(1.0)
    assert js_divergence({"a": 1, "b": 2}, {"a": 10, "b": 20}) == pytest.approx(0.0)


def test_a_marked_difference_needs_size_and_effect():
    same = [0, 40, 40, 0]
    shifted = [0, 0, 40, 40]
    assert compare_numbers("w", "val", "train", same, same).marked is False
    assert compare_numbers("w", "val", "train", shifted, same).marked is True
    assert compare_numbers("w", "val", "train", [0, 1, 1, 0], same) is None    # too few
    absent = compare_counts("classes", "val", "train", {"a": 50}, {"a": 50, "b": 50})
    assert absent.marked and "b" in absent.detail


def test_splits_that_differ_get_a_note_on_the_page(tmp_path):
    small = [example(f"s{i}.jpg", [(0.1, 0.1, 0.15, 0.15)], ["circle"]) for i in range(40)]
    large = [example(f"l{i}.jpg", [(0.1, 0.1, 0.9, 0.9)], ["circle"]) for i in range(40)]
    train = write(tmp_path / "train.record", small)
    val = write(tmp_path / "val.record", large)
    same = write(tmp_path / "again.record", small)
    report = write_report([train, val, same], tmp_path / "out")
    marked = {(d.what, d.split) for d in report.differences if d.marked}
    assert ("box width (pixels)", "val") in marked and ("box area (fraction of image)", "val") \
        in marked
    assert not {m for m in marked if m[1] == "again"}
    page = (tmp_path / "out" / "index.html").read_text()
    assert "Differs markedly: box width (pixels): val vs train" in page


# -- problems -----------------------------------------------------------------------------------
def test_problems_are_listed_with_thumbnails_of_their_images(tmp_path, two_splits):
    train, val, _ = two_splits
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        json.dumps({"kind": "bad_box", "message": "box clipped", "file": "Annotations/b.xml",
                    "action": "clipped"}) + "\n\n" +
        json.dumps({"kind": "missing_image", "message": "gone", "source_id": "zzz.jpg",
                    "action": "skipped"}) + "\n")
    report = write_report([train, val], tmp_path / "out", problems=[problems])
    assert report.summary["problems"]["counts"] == {"bad_box": 1, "missing_image": 1}
    page = (tmp_path / "out" / "index.html").read_text()
    thumbnails = re.findall(r'<figure class="problem"><img src="data:image/jpeg;base64,', page)
    assert len(thumbnails) == 1                   # b.jpg is in the records, zzz.jpg is not
    assert "not in the records" in page


def test_manifest_problems_are_read_once_per_record_set(tmp_path, two_splits):
    train, _, _ = two_splits
    (tmp_path / "train.manifest.json").write_text(json.dumps({
        "skipped_images": 2,
        "problems": {"missing_image": {"count": 2, "first": [
            {"kind": "missing_image", "message": "gone", "source_id": "x.jpg",
             "action": "skipped"}]},
            "bad_box": {"count": 7, "first": [
                {"kind": "bad_box", "message": "clipped", "source_id": "a.jpg",
                 "action": "clipped"}]}}}))
    report = write_report({"train": train, "again": train}, tmp_path / "out")
    assert report.summary["problems"] == {"counts": {"bad_box": 7, "missing_image": 2},
                                          "skipped_images": 2}
    page = (tmp_path / "out" / "index.html").read_text()
    assert page.count('<figure class="problem">') == 1        # a.jpg, drawn once


def test_a_broken_problem_file_is_one_line_naming_it(tmp_path, two_splits, capsys):
    train, _, _ = two_splits
    problems = tmp_path / "problems.jsonl"
    problems.write_text('{"kind": "bad_box"}\nnot json\n')
    status = main(["report", train, "--out", str(tmp_path / "out"), "--problems",
                   str(problems)])
    err = capsys.readouterr().err
    assert status != 0
    assert "line 2" in err and str(problems) in err and "Traceback" not in err


# -- duplicates ---------------------------------------------------------------------------------
def test_near_duplicate_images_are_paired_and_different_ones_are_not():
    from PIL import Image, ImageDraw

    def picture(quality: int, shift: int = 0) -> bytes:
        import io

        image = Image.new("RGB", (96, 64), (30, 30, 30))
        draw = ImageDraw.Draw(image)
        draw.rectangle((10 + shift, 10, 50 + shift, 40), fill=(240, 240, 240))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality)
        return out.getvalue()

    index = DuplicateIndex(near=True)
    index.add("train", "original", picture(95))
    index.add("val", "re-encoded", picture(40))
    index.add("val", "elsewhere", picture(95, shift=40))
    summary = index.summary()
    assert summary["exact_groups"] == 0
    assert (summary["near_pairs"], summary["near_pairs_across_splits"]) == (1, 1)
    pair = index.near_pairs[0]
    assert (pair.first.name, pair.second.name) == ("original", "re-encoded")


def test_a_wrong_stated_sha256_never_makes_different_images_duplicates():
    import hashlib

    first, second = image_bytes(colour=(1, 2, 3)), image_bytes(colour=(200, 100, 0))
    index = DuplicateIndex()
    index.add("train", "one", first, b"0" * 64)          # a constant, wrong stated hash
    index.add("val", "two", second, b"0" * 64)
    index.add("val", "one again", first, hashlib.sha256(first).hexdigest().encode())
    index.add("test", "one more", first, None)            # computed: the same as stated
    index.add("test", "junk hash", first, b"not hex")     # malformed: computed instead
    summary = index.summary()
    assert (summary["exact_groups"], summary["exact_extra_copies"]) == (1, 2)
    assert [m.name for m in index.groups()[0].members] == ["one again", "one more", "junk hash"]


@pytest.mark.parametrize("seed", range(3))
def test_near_pairs_found_by_bands_are_those_of_comparing_every_pair(monkeypatch, seed):
    """The banding shortcut finds exactly the pairs within NEAR_BITS of each other."""
    rng = random.Random(seed)
    hashes = []
    for _ in range(150):
        if hashes and rng.random() < 0.4:        # a near copy of an earlier hash
            value = rng.choice(hashes)
            for bit in rng.sample(range(64), rng.randrange(0, NEAR_BITS + 3)):
                value ^= 1 << bit
        else:
            value = rng.getrandbits(64)
        hashes.append(value)
    monkeypatch.setattr(duplicates_module, "average_hash",
                        lambda data: int.from_bytes(data[:8], "big"))
    index = DuplicateIndex(near=True)
    for number, value in enumerate(hashes):
        index.add("s", str(number), value.to_bytes(8, "big") + number.to_bytes(4, "big"))
    expected = sum(1 for j in range(len(hashes)) for i in range(j)
                   if (hashes[i] ^ hashes[j]).bit_count() <= NEAR_BITS)
    assert index.near_count == expected


# -- the command line and start-up ----------------------------------------------------------------
def test_the_command_writes_the_page_and_prints_its_path(tmp_path, two_splits, capsys):
    train, val, label_map = two_splits
    out = tmp_path / "report"
    assert main(["report", f"train={train}", f"val={val}", "--out", str(out), "--label-map",
                 str(label_map), "--near-duplicates", "--title", "My <data>"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"report: {out / 'index.html'}")
    page = (out / "index.html").read_text()
    assert "<title>My &lt;data&gt;</title>" in page


def test_a_missing_record_set_is_one_line(tmp_path, capsys):
    status = main(["report", str(tmp_path / "nothing.record"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2 and "nothing.record" in err and "Traceback" not in err


def test_an_out_that_is_a_file_is_one_line(tmp_path, two_splits, capsys):
    train, _, _ = two_splits
    (tmp_path / "taken").write_text("")
    status = main(["report", train, "--out", str(tmp_path / "taken")])
    err = capsys.readouterr().err
    assert status == 2 and "taken is a file" in err and "Traceback" not in err


def test_damaged_records_are_counted_and_reading_goes_on(tmp_path):
    path = write(tmp_path / "x.record", [example("a.jpg", [(0.1, 0.1, 0.5, 0.5)], ["circle"]),
                                         b"not an Example at all",
                                         example("b.jpg", [], [])])
    data = (tmp_path / "x.record").read_bytes()
    (tmp_path / "x.record").write_bytes(data + data[:20])   # the last record cut off
    report = write_report(path, tmp_path / "out")
    split = report.summary["splits"][0]
    assert (split["examples"], split["read_errors"]) == (2, 2)
    assert "not a tf.train.Example" in split["errors"][0]
    assert "could not be read" in (tmp_path / "out" / "index.html").read_text()


def test_the_library_face_is_the_same_function(tmp_path, two_splits):
    import tfrconv

    train, _, _ = two_splits
    report = tfrconv.write_report({"only": train}, tmp_path / "out", title="t")
    assert report.summary["splits"][0]["name"] == "only" and "write_report" in tfrconv.__all__


def test_help_does_not_load_the_report_or_matplotlib():
    code = "import tfrconv.cli; tfrconv.cli.build_parser()"
    assert modules_loaded(code, ["tfrconv.report", "matplotlib", "PIL"]) == []


def test_the_page_is_self_contained(tmp_path, two_splits):
    train, val, _ = two_splits
    report = write_report([train, val], tmp_path / "out")
    with open(report.path, encoding="utf-8") as fileobj:
        text = fileobj.read()
    for key, _heading in SECTIONS:
        assert f'<section id="{key}">' in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!["']|data:|#)""", text), \
        "only data: URIs and #anchors"
    assert "<script" not in text and "<link" not in text and "@import" not in text


def test_text_from_the_data_is_escaped(tmp_path):
    hostile = "<img src=x onerror=alert(1)>"
    path = write(tmp_path / "x.record", [example(hostile, [(0.1, 0.1, 0.5, 0.5)], [hostile])])
    problems = tmp_path / "p.jsonl"
    problems.write_text(json.dumps({"kind": hostile, "message": hostile, "source_id": hostile,
                                    "action": hostile}) + "\n")
    report = write_report(path, tmp_path / "out", problems=[problems])
    page = (tmp_path / "out" / "index.html").read_text()
    assert hostile not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert report.summary["splits"][0]["classes"] == {hostile: {"objects": 1, "images": 1}}


# -- in a real browser ----------------------------------------------------------------------------
BROWSER_MISSING = ("no Chromium/Chrome on PATH: install the system package (Debian: apt-get "
                   "install chromium; .ci/run does) to render the report in a real browser")

PAGE_CHECK = """JSON.stringify({
  sections: %s.map(id => { const s = document.getElementById(id);
    return {id, present: !!s, visible: !!s && s.getBoundingClientRect().height > 40,
            text: s ? s.innerText.length : 0}; }),
  images: [...document.images].map(i => ({ok: i.complete && i.naturalWidth > 0,
                                           alt: i.alt})),
  title: document.title })"""


def test_the_page_loads_in_headless_chromium_without_errors(tmp_path, two_splits):
    executable = find_browser()
    if executable is None:
        pytest.skip(BROWSER_MISSING)
    pytest.importorskip("websocket", reason="websocket-client (test extra) speaks to Chromium")
    train, val, label_map = two_splits
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps({"kind": "bad_box", "message": "m", "source_id": "b.jpg",
                                    "action": "clipped"}) + "\n")
    page = write_report([train, val], tmp_path / "out", label_map=str(label_map),
                        problems=[problems], near_duplicates=True).path
    browser = Browser(executable)
    try:
        visit = browser.visit(page, PAGE_CHECK % json.dumps([k for k, _ in SECTIONS]))
    finally:
        browser.close()
    assert visit.errors() == []
    outside = [url[:80] for url in visit.requests if not url.startswith(("file:", "data:"))]
    assert outside == [], "the page asked the network for something"
    result = json.loads(visit.evaluated)
    missing = [s["id"] for s in result["sections"] if not (s["present"] and s["visible"]
                                                           and s["text"] > 20)]
    assert missing == []
    assert len(result["images"]) >= 6 and all(i["ok"] for i in result["images"]), \
        [i["alt"] for i in result["images"] if not i["ok"]]
    assert result["title"].startswith("tfrconv report")
