"""One vocabulary of OD-API feature keys: spelled once in tfrconv/keys.py, used everywhere else."""

from __future__ import annotations

import ast
import pathlib

from tfrconv import keys
from tfrconv.example import EncodedImage, build_features
from tfrconv.sample import ImageLabel, Object, Sample

ROOT = pathlib.Path(__file__).resolve().parent.parent
VOCABULARY = ROOT / "tfrconv" / "keys.py"


def key_literals(source: str, name: str) -> list[str]:
    """`name:line: "image/..."` for every string literal (f-string parts included) that starts
    like a feature key."""
    return [f"{name}:{node.lineno}: {node.value!r}"
            for node in ast.walk(ast.parse(source, filename=name))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value.startswith("image/")]


def test_no_feature_key_is_spelled_outside_the_vocabulary():
    found = [hit for folder in ("tfrconv", "plugins")
             for path in sorted((ROOT / folder).rglob("*.py")) if path != VOCABULARY
             for hit in key_literals(path.read_text(encoding="utf-8"),
                                     str(path.relative_to(ROOT)))]
    assert not found, "use the constants of tfrconv.keys instead:\n" + "\n".join(found)


def test_the_scan_sees_key_literals():
    # A plain literal and one inside an f-string; a key in the middle of a message is no key.
    source = 'A = "image/object/bbox/xmin"\nB = f"image/height is {A}"\nC = "no image/x"\n'
    assert key_literals(source, "probe.py") == [
        "probe.py:1: 'image/object/bbox/xmin'", "probe.py:2: 'image/height is '"]


def test_every_constant_is_named_after_its_key():
    constants = {name: value for name, value in vars(keys).items()
                 if name.isupper() and isinstance(value, str)}
    for name, value in constants.items():
        assert value.startswith("image/"), name
        assert name == value[len("image/"):].upper().replace("/", "_"), (name, value)
    assert len(set(constants.values())) == len(constants)
    assert set(constants.values()) == keys.ALL
    assert keys.BOX_KEYS == ("image/object/bbox/xmin", "image/object/bbox/ymin",
                             "image/object/bbox/xmax", "image/object/bbox/ymax")


def test_every_key_the_writer_writes_is_in_the_vocabulary():
    obj = Object("cat", 0.1, 0.2, 0.5, 0.6, difficult=1, truncated=0, occluded=1, pose="left",
                 group_of=0, is_crowd=0, depiction=0, inside=1, area=12.0, weight=1.0,
                 mask=b"\x89PNG")
    sample = Sample("s", "s.jpg", image_bytes=b"jpeg", objects=[obj],
                    image_labels=[ImageLabel("cat", 1.0), ImageLabel("dog", 0.0)],
                    normalized=True)
    image = EncodedImage(b"jpeg", "jpeg", 4, 3, "00")
    features = build_features(sample, image, [(0.1, 0.2, 0.5, 0.6)], [1],
                              image_label_ids=[1, 2])
    assert len(features) == 28
    assert set(features) <= keys.ALL, sorted(set(features) - keys.ALL)
