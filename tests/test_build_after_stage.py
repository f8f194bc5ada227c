"""The "after" transforms' view of a sample (build.py): the checked copy they get.

The core hands "after" transforms a copy of the checked sample (normalized boxes, the image's
bytes and size) and encodes what they return; the reader's own sample and objects stay as read,
and a reader's own Object subclass reaches the transform whole. The expectations are written
out from the pixels given here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from tfrconv import FormatSpec, LabelMap, Object, Option, Options, Sample, TransformSpec, hookimpl
from tfrconv import keys as K
from tfrconv.build import Builder
from tfrconv.example import decode
from tfrconv.plugins import temporary_plugin
from tfrconv.settings import Settings

LABEL_MAP = LabelMap.from_names(["cat", "dog"])


def jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, format="JPEG")
    return out.getvalue()


@dataclass(slots=True)
class TrackedObject(Object):
    """A reader's own object type, with a field kept in a slot (not in __dict__)."""

    track: int = 0


class Peek:
    """Notes what it is given, then narrows every box to its left half."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def __call__(self, sample, context):
        for obj in sample.objects:
            self.seen.append((type(obj).__name__, getattr(obj, "track", None),
                              (obj.xmin, obj.ymin, obj.xmax, obj.ymax)))
            obj.xmax = (obj.xmin + obj.xmax) / 2
        return sample


PEEK = Peek()


class PeekPlugin:
    @hookimpl
    def register_transforms(self, register):
        register(TransformSpec("peek", "note the checked sample",
                               lambda opts: PEEK if opts.peek else None, stage="after",
                               options=(Option("peek", "note it", "bool", default=False),)))


@pytest.fixture
def builder():
    spec = FormatSpec("test", "test", list_items=lambda o: [], read_item=lambda i, o: None)
    with temporary_plugin(PeekPlugin(), "peek-plugin"):
        PEEK.seen.clear()
        settings = Settings.resolve(spec, {"output": "x", "peek": True})
        built = Builder(spec, Options({}), LABEL_MAP, settings)
        assert built.prepared.after, "the peek transform is active"
        yield built


def test_after_transforms_get_a_copy_and_their_changes_are_encoded(builder):
    objects = [Object("cat", 20, 10, 60, 30), TrackedObject("dog", 0, 0, 100, 50, track=7)]
    sample = Sample("id-1", "a.jpg", image_bytes=jpeg(100, 50), width=100, height=50,
                    objects=objects)
    result = builder.build_sample(sample)
    assert result.fatal is None and not result.problems
    # The transform saw normalized boxes, and the reader's own object type with its slot.
    assert PEEK.seen == [("Object", None, (0.2, 0.2, 0.6, 0.6)),
                         ("TrackedObject", 7, (0.0, 0.0, 1.0, 1.0))]
    # The reader's objects are as read: pixels, not the transform's narrowed boxes.
    assert [(o.xmin, o.ymin, o.xmax, o.ymax) for o in objects] == [(20, 10, 60, 30),
                                                                  (0, 0, 100, 50)]
    assert objects[1].track == 7 and sample.normalized is False and sample.width == 100
    # What was written is what the transform returned.
    features = decode(b"".join(result.payload))
    assert features[K.OBJECT_BBOX_XMIN] == pytest.approx([0.2, 0.0])
    assert features[K.OBJECT_BBOX_XMAX] == pytest.approx([0.4, 0.5])
    assert features[K.OBJECT_CLASS_TEXT] == [b"cat", b"dog"]
