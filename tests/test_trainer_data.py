"""The input pipeline: OD-API decoding rules, resizing, augmentation and CenterNet targets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from trainer_support import make_records  # noqa: E402

from tfrconv.errors import UsageError  # noqa: E402
from tfrconv.labelmap import parse_label_map  # noqa: E402

tf = pytest.importorskip("tensorflow")

from tfrconv.trainer import data  # noqa: E402
from tfrconv.trainer.targets import centernet_targets, overlap_radius  # noqa: E402


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return make_records(tmp_path_factory.mktemp("data"), num_images=12, shards=2)


def test_one_box_gives_a_unit_peak_and_its_box_values():
    # 16x16 grid; a box centred at (0.3, 0.6) of 0.25 x 0.5 of the image, class 2 of 3.
    boxes = [[0.175, 0.35, 0.425, 0.85]]
    out = centernet_targets(boxes, [2], grid_height=16, grid_width=16, num_classes=3,
                            max_boxes=4, spread=0)
    heat = out["heatmap"].numpy()
    cy, cx = 0.3 * 16, 0.6 * 16                      # 4.8, 9.6 → cell (4, 9)
    assert heat[4, 9, 2] == 1.0 and heat[..., 2].max() == 1.0
    assert heat[..., :2].max() == 0.0
    assert (heat == 1.0).sum() == 1
    assert out["indices"].numpy().tolist() == [4 * 16 + 9, 0, 0, 0]
    np.testing.assert_allclose(out["box_targets"].numpy()[0],
                               [0.25 * 16, 0.5 * 16, cy - 4, cx - 9], rtol=1e-5)
    assert out["box_mask"].numpy().tolist() == [1, 0, 0, 0]


def test_box_values_are_also_given_to_the_neighbouring_cells():
    out = centernet_targets([[0.175, 0.35, 0.425, 0.85]], [0], grid_height=16, grid_width=16,
                            num_classes=1, max_boxes=2, spread=1)
    assert out["indices"].shape == (18,) and out["box_mask"].numpy().sum() == 9
    cells = out["indices"].numpy()[:9]
    assert sorted(cells) == sorted((4 + dy) * 16 + 9 + dx for dy in (-1, 0, 1)
                                   for dx in (-1, 0, 1))
    values = out["box_targets"].numpy()[:9]
    # every slot decodes to the same centre: cell + offset
    centres = np.stack([cells // 16 + values[:, 2], cells % 16 + values[:, 3]], axis=1)
    np.testing.assert_allclose(centres, [[4.8, 9.6]] * 9, rtol=1e-5)


def test_dropped_boxes_and_empty_images():
    out = centernet_targets(np.zeros([0, 4], np.float32), np.zeros([0], np.int32),
                            grid_height=8, grid_width=8, num_classes=2, max_boxes=3)
    assert out["heatmap"].numpy().max() == 0.0 and out["box_mask"].numpy().sum() == 0
    # unknown class (-1), a degenerate box and one over max_boxes are dropped
    boxes = [[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.5, 0.9], [0.2, 0.6, 0.4, 0.8],
             [0.6, 0.1, 0.9, 0.4], [0.6, 0.6, 0.9, 0.9]]
    out = centernet_targets(boxes, [-1, 0, 1, 0, 1], grid_height=8, grid_width=8,
                            num_classes=2, max_boxes=2, spread=0)
    assert out["box_mask"].numpy().tolist() == [1, 1]
    assert (out["heatmap"].numpy() == 1.0).sum() == 2


def test_overlap_radius_keeps_the_iou():
    # Shifting both corners of a 20x20 box by the radius leaves IoU at the requested overlap.
    r = float(overlap_radius(tf.constant(20.0), tf.constant(20.0), 0.7))
    inter = (20 - r) ** 2
    assert inter / (2 * 400 - inter) >= 0.7 - 1e-4
    assert float(overlap_radius(tf.constant(40.0), tf.constant(40.0), 0.7)) > r > 0


def label_map(text):
    return parse_label_map(text.encode(), source="test.pbtxt")


def parsed(records_path, lm):
    table = data.class_table(lm)
    dataset = tf.data.TFRecordDataset(records_path).map(lambda s: data.parse_example(s, table))
    return list(dataset.as_numpy_iterator())


def test_class_text_is_resolved_through_the_label_map(records):
    # display_name matches the text; 'triangle' is unknown (→ -1), as the OD API decodes it.
    lm = label_map("item { id: 7 name: 'c' display_name: 'circle' }\n"
                   "item { id: 2 name: 'square' }\n")
    examples = parsed(records["val"], lm)
    from tfrconv import read_examples

    texts = [[t.decode() for t in ex.get("image/object/class/text", [])]
             for ex in read_examples(records["val"])]
    expected = [[{"circle": 7, "square": 2}.get(t, -1) for t in names] for names in texts]
    assert [e["ids"].tolist() for e in examples] == expected
    assert any(-1 in ids for ids in expected) and any(7 in ids for ids in expected)


def test_label_ids_are_used_when_there_is_no_class_text(tmp_path):
    from tfrconv.example import serialize
    from tfrconv.tfrecord import RecordWriter

    path = tmp_path / "no_text.record"
    with open(path, "wb") as fileobj:
        writer = RecordWriter(fileobj)
        writer.write(serialize({
            "image/encoded": ("bytes", [_png(8, 8)]), "image/format": ("bytes", [b"png"]),
            "image/height": ("int", [8]), "image/width": ("int", [8]),
            "image/object/bbox/xmin": ("float", [0.1]), "image/object/bbox/xmax": ("float", [0.5]),
            "image/object/bbox/ymin": ("float", [0.2]), "image/object/bbox/ymax": ("float", [0.6]),
            "image/object/class/label": ("int", [3])}))
    [example] = parsed(str(path), label_map("item { id: 1 name: 'a' }"))
    assert example["ids"].tolist() == [3]
    np.testing.assert_allclose(example["boxes"], [[0.2, 0.1, 0.6, 0.5]])
    assert example["difficult"].tolist() == [0]


def _png(height, width):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 30, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def test_keep_aspect_resize_pads_and_reports_the_image_part():
    image = tf.zeros([50, 100, 3], tf.uint8)
    out, fraction = data.resize_image(image, data.Resize(64, 64, keep_aspect=True))
    assert out.shape == (64, 64, 3)
    np.testing.assert_allclose(fraction.numpy(), [0.5, 1.0])
    out, fraction = data.resize_image(image, data.Resize(32, 48))
    assert out.shape == (32, 48, 3) and fraction.numpy().tolist() == [1.0, 1.0]


def test_flips_move_the_boxes_with_the_image():
    image = np.zeros([8, 8, 3], np.float32)
    image[1, 0] = 255.0                                  # a mark at the top left
    boxes = tf.constant([[0.1, 0.0, 0.3, 0.25]])
    steps = [data.Augmentation("random_horizontal_flip", {"probability": 1.0}),
             data.Augmentation("random_vertical_flip", {"probability": 1.0})]
    seed = tf.constant([0, 0], tf.int64)
    out, moved = data.augment(tf.constant(image), boxes, steps, seed)
    assert out.numpy()[6, 7, 0] == 255.0                 # bottom right now
    np.testing.assert_allclose(moved.numpy(), [[0.7, 0.75, 0.9, 1.0]], atol=1e-6)
    kept, same = data.augment(tf.constant(image), boxes,
                              [data.Augmentation("random_horizontal_flip", {"probability": 0})],
                              seed)
    np.testing.assert_allclose(same.numpy(), boxes.numpy())


def test_train_and_eval_datasets(records):
    lm = label_map(Path(records["label_map"]).read_text())
    files = data.match_files([records["train_glob"]], what="train")
    assert len(files) == 2
    train = data.train_dataset(files, lm, resize=data.Resize(64, 64), batch_size=4,
                               num_classes=3, max_boxes=10, augmentations=[], min_overlap=0.7)
    images, targets = next(iter(train))
    assert images.shape == (4, 64, 64, 3) and targets["heatmap"].shape == (4, 16, 16, 3)
    assert float(tf.reduce_max(images)) > 1.0                 # 0..255, not normalised here
    evaluation = data.eval_dataset([records["val"]], lm, resize=data.Resize(64, 64),
                                   max_boxes=10, batch_size=5, num_classes=3)
    seen = sum(int(images.shape[0]) for images, _ in evaluation)
    from tfrconv import read_examples

    assert seen == sum(1 for _ in read_examples(records["val"]))


def first_batches(files, lm, *, seed, count=3, augmentations=()):
    dataset = data.train_dataset(files, lm, resize=data.Resize(32, 32), batch_size=4,
                                 num_classes=3, max_boxes=10, min_overlap=0.7, seed=seed,
                                 augmentations=list(augmentations))
    return [images.numpy() for images, _ in dataset.take(count)]


def test_one_seed_gives_the_same_batches_and_another_seed_others(records):
    lm = label_map(Path(records["label_map"]).read_text())
    files = data.match_files([records["train_glob"]], what="train")
    steps = [data.Augmentation("random_horizontal_flip", {}),
             data.Augmentation("random_adjust_brightness", {"max_delta": 0.2})]
    first = first_batches(files, lm, seed=5, augmentations=steps)
    again = first_batches(files, lm, seed=5, augmentations=steps)
    other = first_batches(files, lm, seed=6, augmentations=steps)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_records_are_counted_from_their_framing(tmp_path, records):
    from tfrconv import convert
    from tfrconv.api import read_records

    files = data.match_files([records["train_glob"]], what="train")
    expected = sum(1 for f in files for _ in read_records(f))
    assert data.count_records(files, stop_after=10**6) == expected
    assert data.count_records(files, stop_after=2) == 3          # stops once past the limit
    out = tmp_path / "gz.record"
    convert("voc", data_dir=records["shapes"], set="val", output=str(out), compression="gzip")
    assert data.count_records([str(out)], stop_after=10**6) is None
    cut = tmp_path / "cut.record"
    cut.write_bytes(Path(files[0]).read_bytes()[:-3])
    assert data.count_records([str(cut)], stop_after=10**6) is None


def test_cached_and_streamed_pipelines_give_the_same_images(records, monkeypatch):
    """Unshuffled, the cache changes where images come from, never what they are."""
    lm = label_map(Path(records["label_map"]).read_text())
    files = data.match_files([records["train_glob"]], what="train")

    def images(limit):
        monkeypatch.setattr(data, "CACHE_LIMIT_BYTES", limit)
        dataset = data.train_dataset(files, lm, resize=data.Resize(32, 32), batch_size=2,
                                     num_classes=3, max_boxes=10, augmentations=[],
                                     min_overlap=0.7, shuffle=False)
        return [batch.numpy() for batch, _ in dataset.take(4)]

    for cached, streamed in zip(images(1 << 30), images(0)):
        np.testing.assert_array_equal(cached, streamed)


def test_gzip_records_are_read(tmp_path, records):
    from tfrconv import convert

    out = tmp_path / "gz.record"
    convert("voc", data_dir=records["shapes"], set="val", output=str(out), compression="gzip")
    lm = label_map(Path(records["label_map"]).read_text())
    dataset = data.eval_dataset([str(out)], lm, resize=data.Resize(32, 32), max_boxes=5)
    assert sum(int(images.shape[0]) for images, _ in dataset) > 0


def test_globs_that_match_nothing_are_named(tmp_path):
    with pytest.raises(UsageError) as info:
        data.match_files([str(tmp_path / "train.record-*")], what="train_input_reader",
                         config="p.config")
    assert "matches no files" in str(info.value) and info.value.file == "p.config"
