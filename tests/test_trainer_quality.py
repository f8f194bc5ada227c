"""The trainer's quality levers with known answers: test-time flip, the scale/crop/pad
augmentation, and moving averages of the weights (kept, saved and resumed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from trainer_support import make_records, small_config  # noqa: E402

from tfrconv.cli import main  # noqa: E402

tf = pytest.importorskip("tensorflow")

from tfrconv.trainer import data  # noqa: E402
from tfrconv.trainer.average import CHECKPOINT_KEY, WeightAverage  # noqa: E402
from tfrconv.trainer.config import load_settings  # noqa: E402
from tfrconv.trainer.model import ModelSpec, predict, with_mirror  # noqa: E402
from tfrconv.trainer.train import TrainOptions, train  # noqa: E402


def pixelwise(images, training=False):
    """A 'model' whose maps at a cell depend on that cell's pixel only: heat logit = red, box =
    (red, green, blue, 0.2)."""
    heat = images[..., :1]
    box = tf.concat([images, tf.fill(tf.shape(images[..., :1]), 0.2)], axis=-1)
    return heat, box


def test_the_mirror_pass_is_mapped_back_onto_the_same_cells():
    # A pixel-wise model sees each pixel once in each pass: after mapping back, the heatmap and
    # sizes are unchanged (cell for cell), and an x offset o from the mirrored cell is 1 - o.
    images = tf.constant(np.arange(2 * 3 * 4 * 3, dtype=np.float32).reshape(2, 3, 4, 3) / 50.0)
    heat, box = pixelwise(images)
    merged_heat, merged_box = with_mirror(pixelwise, images, heat, box)
    np.testing.assert_allclose(merged_heat.numpy(), heat.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(merged_box.numpy()[..., :3], box.numpy()[..., :3], rtol=1e-6)
    np.testing.assert_allclose(merged_box.numpy()[..., 3], 0.5, rtol=1e-6)   # (0.2 + 0.8) / 2


def test_a_one_sided_peak_is_halved_and_mirrored():
    # A 'model' that always puts a peak (probability 0.8) at the top-left cell: with the mirror
    # pass each of the two corner cells holds 0.4, the rest stays near 0.
    def corner(images, training=False):
        logits = np.full([1, 2, 4, 1], -20.0, np.float32)
        logits[0, 0, 0, 0] = np.log(0.8 / 0.2)
        return tf.constant(logits), tf.zeros([1, 2, 4, 4])

    images = tf.zeros([1, 2, 4, 3])
    heat, _ = predict(corner, images, ModelSpec(num_classes=1, flip_test=True))
    p = tf.sigmoid(heat).numpy()[0, :, :, 0]
    np.testing.assert_allclose(p[0, [0, 3]], [0.4, 0.4], rtol=1e-5)
    assert p[1].max() < 1e-6 and p[0, 1:3].max() < 1e-6
    plain, _ = predict(corner, images, ModelSpec(num_classes=1))
    np.testing.assert_allclose(tf.sigmoid(plain).numpy()[0, 0, 0, 0], 0.8, rtol=1e-5)


def test_flip_test_follows_the_training_flips(tmp_path):
    records = make_records(tmp_path, num_images=12, image_size=64)
    path = str(tmp_path / "pipeline.config")
    assert main(["config", "--train-records", records["train_glob"], "--eval-records",
                 records["val"], "--out", path, "--image-size", "64"]) == 0
    settings = load_settings(path)
    assert settings.model_spec().flip_test
    settings.augmentations = [a for a in settings.augmentations
                              if a.name != "random_horizontal_flip"]
    assert not settings.model_spec().flip_test


def marked_image():
    image = np.zeros([8, 8, 3], np.float32)
    image[2:4, 4:8] = 200.0                   # the object: rows 2-3, columns 4-7
    return tf.constant(image), tf.constant([[2 / 8, 4 / 8, 4 / 8, 8 / 8]], tf.float32)


def test_scale_up_crops_a_window_and_the_box_follows():
    # x2 is 16x16 with the object at rows 4-7, columns 8-15; the bottom-right-most window in x
    # and top in y (offset 0, 8) holds it at rows 4-7, columns 0-7.
    image, boxes = marked_image()
    out, moved = data.scale_crop_and_pad(image, boxes, 2.0, 0.0, 1.0)
    np.testing.assert_allclose(moved.numpy(), [[0.5, 0.0, 1.0, 1.0]], atol=1e-6)
    rows, cols = np.nonzero(out.numpy()[..., 0] > 100)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (4, 7, 0, 7)


def test_scale_down_pads_bottom_right_and_a_box_outside_the_window_is_emptied():
    image, boxes = marked_image()
    out, moved = data.scale_crop_and_pad(image, boxes, 0.5, 0.3, 0.7)
    np.testing.assert_allclose(moved.numpy(), [[0.125, 0.25, 0.25, 0.5]], atol=1e-6)
    assert out.numpy()[4:].max() == 0.0 and out.numpy()[:, 4:].max() == 0.0
    # x2 with the window at the bottom: the object (rows 4-7) is outside rows 8-15.
    _, gone = data.scale_crop_and_pad(image, boxes, 2.0, 1.0, 0.0)
    box = gone.numpy()[0]
    assert box[2] <= box[0]                  # empty: dropped when the targets are built


def test_the_scale_crop_keeps_the_static_image_shape_inside_a_traced_pipeline():
    # Traced (as tf.data does), a crop and pad of a computed size loses the static shape; the
    # model is then traced for images of any size, which ran its convolutions ~15% slower.
    steps = [data.Augmentation("random_scale_crop_and_pad_to_square",
                               {"scale_min": 0.8, "scale_max": 1.25})]
    images = tf.data.Dataset.from_tensors(tf.zeros([16, 16, 3])).enumerate().map(
        lambda index, image: data.augment(image, tf.zeros([1, 4]), steps,
                                          tf.stack([tf.constant(0, tf.int64), index]))[0])
    assert images.element_spec.shape.as_list() == [16, 16, 3]


def test_the_augmentation_is_read_from_the_config_and_seeded():
    steps = [data.Augmentation("random_scale_crop_and_pad_to_square",
                               {"scale_min": 0.5, "scale_max": 2.0})]
    image, boxes = marked_image()
    seed = tf.constant([1, 7], tf.int64)
    first = data.augment(image, boxes, steps, seed)
    again = data.augment(image, boxes, steps, seed)
    assert np.array_equal(first[0].numpy(), again[0].numpy())
    outcomes = {tuple(np.round(data.augment(image, boxes, steps, tf.constant([1, k], tf.int64))
                               [1].numpy()[0], 4)) for k in range(6)}
    assert len(outcomes) > 3


def test_the_average_follows_the_weights_with_the_warm_up_decay():
    import keras

    weight = keras.Variable(np.float32(1.0))
    average = WeightAverage([weight], decay=0.99)
    weight.assign(3.0)
    average.update(tf.constant(0, tf.int64))       # decay min(0.99, 1/10) = 0.1
    assert float(average.shadows[0].numpy()) == pytest.approx(0.1 * 1.0 + 0.9 * 3.0)
    weight.assign(5.0)
    average.update(tf.constant(10**6, tf.int64))   # decay 0.99
    expected = 0.99 * 2.8 + 0.01 * 5.0
    assert float(average.shadows[0].numpy()) == pytest.approx(expected)
    with average.applied():
        assert float(weight.numpy()) == pytest.approx(expected)
    assert float(weight.numpy()) == 5.0


@pytest.fixture(scope="module")
def averaged_config(tmp_path_factory):
    path = small_config(tmp_path_factory.mktemp("average"), num_images=24, num_steps=100)
    config = Path(path)
    config.write_text(config.read_text().replace(
        "use_moving_average: false", "use_moving_average: true\n    moving_average_decay: 0.9"))
    assert load_settings(path).optimizer.moving_average_decay is not None
    return path


def saved(prefix: str, settings):
    """The model's weights and the training weights stored in a checkpoint, in the order of the
    model's trainable variables."""
    from tfrconv.trainer.model import build_detector

    model = build_detector(settings.model_spec())
    model(tf.zeros([1, 64, 64, 3]))
    raw = [tf.Variable(tf.zeros_like(v)) for v in model.trainable_variables]
    tf.train.Checkpoint(model=model, **{CHECKPOINT_KEY: tf.train.Checkpoint(weights=raw)}) \
        .read(prefix).expect_partial()
    return [v.numpy() for v in model.trainable_variables], [v.numpy() for v in raw]


def test_checkpoints_hold_the_average_and_a_resumed_run_goes_on_from_both(averaged_config,
                                                                         tmp_path):
    settings = load_settings(averaged_config)
    decay = settings.optimizer.moving_average_decay
    model_dir = str(tmp_path / "run")
    first = train(settings, TrainOptions(model_dir=model_dir, num_train_steps=6,
                                         progress=False))
    average6, raw6 = saved(first.latest_checkpoint, settings)
    assert any(not np.array_equal(a, r) for a, r in zip(average6, raw6))
    second = train(settings, TrainOptions(model_dir=model_dir, num_train_steps=7,
                                          progress=False))
    assert second.start_step == 6 and second.step == 7
    average7, raw7 = saved(second.latest_checkpoint, settings)
    d = min(decay, (1 + 7) / (10 + 7))
    for a6, r7, a7 in zip(average6, raw7, average7):
        np.testing.assert_allclose(a7, d * a6 + (1 - d) * r7, rtol=1e-4, atol=1e-6)
