"""Fine-tuning from our own checkpoints by role (classification | detection | full), and clear
errors for foreign or incompatible checkpoints."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from trainer_support import make_records  # noqa: E402

from tfrconv.errors import UsageError  # noqa: E402

tf = pytest.importorskip("tensorflow")

from tfrconv.trainer.checkpoints import new_checkpoint, restore_fine_tune  # noqa: E402
from tfrconv.trainer.config import load_settings  # noqa: E402
from tfrconv.trainer.model import ModelSpec, build_detector  # noqa: E402
from tfrconv.trainer.train import TrainOptions, train  # noqa: E402

PARTS = ("backbone", "neck", "box_head", "class_head")
# What each fine_tune_checkpoint_type restores, as the OD API 2.8.0's `restore_from_objects` does
# and docs/tutorial.md states it (written out here, not read from the trainer's own table):
# classification the backbone only, detection the feature extractor (backbone and neck, the
# OD API extractors' FPN; so the number of classes may change), full every part.
RESTORED = {
    "classification": {"backbone"},
    "detection": {"backbone", "neck"},
    "full": {"backbone", "neck", "box_head", "class_head"},
}


def built(spec: ModelSpec, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    model = build_detector(spec)
    model(tf.zeros([1, 32, 32, 3]))
    return model


def save(model, spec, folder) -> str:
    checkpoint = new_checkpoint(model=model, identity=spec.identity(),
                                step=tf.Variable(5, dtype=tf.int64))
    return tf.train.CheckpointManager(checkpoint, str(folder), max_to_keep=1).save()


def same(a, b) -> bool:
    return all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a.weights, b.weights))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    spec = ModelSpec(num_classes=3, width=16)
    model = built(spec, seed=1)
    prefix = save(model, spec, tmp_path_factory.mktemp("source"))
    return spec, model, prefix


@pytest.mark.parametrize("kind", ["classification", "detection", "full"])
def test_restores_exactly_the_parts_of_its_type(source, tmp_path, kind):
    spec, original, prefix = source
    classes = 3 if kind == "full" else 5         # detection may change the number of classes
    target = built(ModelSpec(num_classes=classes, width=16), seed=2)
    restore_fine_tune(target, os.path.dirname(prefix), kind,
                      ModelSpec(num_classes=classes, width=16).identity(),
                      model_dir=str(tmp_path))
    for part in PARTS:
        restored = same(getattr(target, part), getattr(original, part)) if \
            part != "class_head" or classes == 3 else False
        assert restored == (part in RESTORED[kind]), part


def test_full_needs_the_same_classes(source, tmp_path):
    _, _, prefix = source
    target = built(ModelSpec(num_classes=4, width=16), seed=2)
    with pytest.raises(UsageError) as info:
        restore_fine_tune(target, prefix, "full", ModelSpec(num_classes=4, width=16).identity(),
                          model_dir=str(tmp_path))
    message = str(info.value)
    assert "num_classes 3 (expected 4)" in message and "detection" in message


def test_incompatible_width_is_named(source, tmp_path):
    _, _, prefix = source
    spec = ModelSpec(num_classes=3, width=24)
    with pytest.raises(UsageError) as info:
        restore_fine_tune(built(spec, 0), prefix, "classification", spec.identity(),
                          model_dir=str(tmp_path))
    assert "width 16 (expected 24)" in str(info.value)


def test_foreign_and_missing_checkpoints(tmp_path):
    spec = ModelSpec(num_classes=3, width=16)
    model = built(spec, 0)
    keras_like = tf.train.Checkpoint(kernel=tf.Variable(tf.ones([3, 3])))
    prefix = tf.train.CheckpointManager(keras_like, str(tmp_path / "f"), max_to_keep=1).save()
    with pytest.raises(UsageError) as info:
        restore_fine_tune(model, prefix, "detection", spec.identity(), model_dir=str(tmp_path))
    assert "not a checkpoint of tfrconv's trainer" in str(info.value)
    assert "kernel" in str(info.value)
    with pytest.raises(UsageError) as info:
        restore_fine_tune(model, str(tmp_path / "nothing" / "ckpt-3"), "full", spec.identity(),
                          model_dir=str(tmp_path))
    assert "no such checkpoint" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError) as info:
        restore_fine_tune(model, str(tmp_path / "empty"), "full", spec.identity(),
                          model_dir=str(tmp_path))
    assert "holds no checkpoint" in str(info.value)


def test_fine_tune_through_the_config(tmp_path):
    """A first run, then a second with more classes fine-tuned from it (detection)."""
    from tfrconv.cli import main

    records = make_records(tmp_path, num_images=30, image_size=32)
    first = str(tmp_path / "first.config")
    main(["config", "--train-records", records["train_glob"], "--eval-records", records["val"],
          "--out", first, "--image-size", "32", "--batch-size", "2", "--num-steps", "3"])
    train(load_settings(first), TrainOptions(model_dir=str(tmp_path / "first"),
                                             progress=False))
    second = str(tmp_path / "second.config")
    main(["config", "--train-records", records["train_glob"], "--out", second,
          "--image-size", "32", "--batch-size", "2", "--num-steps", "2", "--num-classes", "6",
          "--fine-tune-checkpoint", str(tmp_path / "first"),
          "--fine-tune-checkpoint-type", "detection"])
    # The folder is written as its latest checkpoint's prefix, as the OD API's restore needs.
    assert load_settings(second).fine_tune_checkpoint == str(tmp_path / "first" / "ckpt-2")
    result = train(load_settings(second), TrainOptions(model_dir=str(tmp_path / "second"),
                                                       progress=False))
    assert (result.start_step, result.step) == (0, 2)
    # full from a 3-class run into 6 classes: refused, naming the mismatch
    full = second.replace("second", "full")
    with open(second) as src, open(full, "w") as dst:
        dst.write(src.read().replace('"detection"', '"full"'))
    with pytest.raises(UsageError) as info:
        train(load_settings(full), TrainOptions(model_dir=str(tmp_path / "third"),
                                                progress=False))
    assert "num_classes 3 (expected 6)" in str(info.value)
    assert not (tmp_path / "third").exists()            # nothing left behind
