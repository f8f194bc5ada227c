"""The user's journey on a tiny dataset: config → train (it must learn) → TensorBoard files →
evaluate → resume → export (the OD API's signature) → infer; plus the errors on the way."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from trainer_support import make_records  # noqa: E402

from tfrconv.cli import main  # noqa: E402
from tfrconv.errors import UsageError  # noqa: E402

tf = pytest.importorskip("tensorflow")

from tfrconv.trainer.config import load_settings  # noqa: E402
from tfrconv.trainer.train import TrainOptions, train  # noqa: E402

# Small enough for well under a minute on two cores: 64-px images, a few hundred steps (of a
# schedule written for more, so that the learning rate is still high at the end).
IMAGES, SIZE, BATCH, STEPS, SCHEDULE = 2000, 64, 16, 300, 1000
PASCAL = "PascalBoxes_Precision/mAP@0.5IOU"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    records = make_records(root, num_images=IMAGES, image_size=SIZE, seed=1)
    config = os.path.join(root, "models", "pipeline.config")
    assert main(["config", "--train-records", records["train_glob"], "--eval-records",
                 records["val"], "--out", config, "--image-size", str(SIZE),
                 "--batch-size", str(BATCH), "--num-steps", str(SCHEDULE)]) == 0
    model_dir = os.path.join(root, "models", "train")
    result = train(load_settings(config), TrainOptions(
        model_dir=model_dir, num_train_steps=STEPS, checkpoint_every_n=STEPS,
        eval_on_checkpoint=True, progress=False))
    return {"root": str(root), "records": records, "config": config, "model_dir": model_dir,
            "result": result}


def test_the_model_learns(run):
    evaluations = run["result"].evaluations
    assert [e["step"] for e in evaluations] == [0, STEPS]
    # Chance: the untrained network (random weights) detects nothing (mAP ~0); a few hundred
    # steps must lift it clearly (about 0.3 is typical here).
    untrained = evaluations[0]["metrics"][PASCAL]
    trained = evaluations[-1]["metrics"][PASCAL]
    assert untrained < 0.02
    assert trained > untrained + 0.15, [e["metrics"][PASCAL] for e in evaluations]
    losses = [e["metrics"]["Loss/total_loss"] for e in evaluations]
    assert losses[-1] < losses[0] / 2


def event_tags(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(folder, size_guidance={"images": 0, "tensors": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    return set(tags.get("tensors", [])) | set(tags.get("scalars", [])) | \
        set(tags.get("images", []))


def test_model_dir_has_the_odapi_layout(run):
    model_dir = run["model_dir"]
    names = os.listdir(model_dir)
    assert {"checkpoint", "pipeline.config", "train", "eval"} <= set(names)
    assert {"ckpt-1.index", "ckpt-2.index"} <= set(names)
    train_tags = event_tags(os.path.join(model_dir, "train"))
    assert {"Loss/classification_loss", "Loss/localization_loss", "Loss/total_loss",
            "learning_rate", "steps_per_sec"} <= train_tags
    eval_tags = event_tags(os.path.join(model_dir, "eval"))
    assert {PASCAL, "DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU",
            "DetectionBoxes_Recall/AR@100", "Loss/total_loss", "eval_side_by_side_0_0"} <= \
        eval_tags


def test_evaluate_command(run, capsys):
    assert main(["evaluate", "--pipeline-config-path", run["config"], "--model-dir",
                 run["model_dir"], "--json", "--no-summaries"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["step"] == STEPS
    assert report["metrics"][PASCAL] == pytest.approx(
        run["result"].evaluations[-1]["metrics"][PASCAL], abs=1e-6)
    assert report["images"] > 0


def test_resume_and_keep_the_last_seven(run, tmp_path):
    model_dir = str(tmp_path / "train")
    shutil.copytree(run["model_dir"], model_dir)
    result = train(load_settings(run["config"]), TrainOptions(
        model_dir=model_dir, num_train_steps=STEPS + 20, checkpoint_every_n=2, progress=False))
    assert (result.start_step, result.step) == (STEPS, STEPS + 20)
    indexes = sorted(n for n in os.listdir(model_dir) if n.endswith(".index"))
    assert len(indexes) == 7 and "ckpt-12.index" in indexes       # 2 before + 10 new
    assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-12")


def test_sidecar_evaluation_mode(run, tmp_path):
    out = tmp_path / "sidecar"
    assert main(["train", "--pipeline-config-path", run["config"], "--model-dir", str(out),
                 "--checkpoint-dir", run["model_dir"], "--num-train-steps", str(STEPS),
                 "--eval-timeout", "5", "--sample-1-of-n-eval-examples", "4"]) == 0
    assert PASCAL in event_tags(str(out / "eval"))


def test_evaluate_watch_evaluates_each_checkpoint(run, tmp_path, capsys):
    """The watch takes the newest checkpoint (as the OD API's checkpoints_iterator does); the
    config's num_steps (SCHEDULE) is never reached by this run, so it stops on its timeout."""
    model_dir = str(tmp_path / "watched")
    shutil.copytree(run["model_dir"], model_dir, ignore=shutil.ignore_patterns("eval"))
    assert main(["evaluate", "--pipeline-config-path", run["config"], "--model-dir", model_dir,
                 "--watch", "--eval-timeout", "1", "--sample-1-of-n-eval-examples", "4"]) == 0
    err = capsys.readouterr().err
    assert f"ckpt-2 (step {STEPS})" in err and "ckpt-1 (step 0)" not in err
    assert PASCAL in event_tags(os.path.join(model_dir, "eval"))


def test_export_has_the_odapi_signature(run, tmp_path):
    export_dir = tmp_path / "exported"
    assert main(["export", "--pipeline-config-path", run["config"], "--trained-checkpoint-dir",
                 run["model_dir"], "--output-directory", str(export_dir)]) == 0
    assert {"saved_model", "checkpoint", "pipeline.config"} <= set(os.listdir(export_dir))
    assert os.path.isfile(export_dir / "checkpoint" / "ckpt-0.index")

    # As OD-API inference code does it (numpy >= 2.4 wants the [0] on num_detections).
    from PIL import Image

    path = os.path.join(run["records"]["shapes"], "JPEGImages", "shapes_000000.jpg")
    image_np = np.asarray(Image.open(path).convert("RGB").resize((90, 70)))
    detect_fn = tf.saved_model.load(str(export_dir / "saved_model"))
    input_tensor = tf.convert_to_tensor(image_np)[tf.newaxis, ...]
    detections = detect_fn(input_tensor)
    num_detections = int(detections.pop("num_detections")[0])
    detections = {key: value[0, :num_detections].numpy() for key, value in detections.items()}
    detections["detection_classes"] = detections["detection_classes"].astype(np.int64)
    assert num_detections == 100
    assert set(detections["detection_classes"]) <= {1, 2, 3}
    boxes = detections["detection_boxes"]
    assert boxes.shape == (100, 4) and (boxes >= 0).all() and (boxes <= 1).all()
    assert (boxes[:, 2] >= boxes[:, 0]).all()
    scores = detections["detection_scores"]
    assert (np.diff(scores) <= 1e-6).all()

    signature = detect_fn.signatures["serving_default"]
    inputs = signature.structured_input_signature[1]
    assert list(inputs) == ["input_tensor"]
    assert inputs["input_tensor"].dtype == tf.uint8
    assert inputs["input_tensor"].shape.as_list() == [1, None, None, 3]
    outputs = signature(input_tensor=input_tensor)
    assert {k: v.dtype for k, v in outputs.items()} == {
        "detection_boxes": tf.float32, "detection_scores": tf.float32,
        "detection_classes": tf.float32, "num_detections": tf.float32}
    assert outputs["num_detections"].shape == (1,)
    np.testing.assert_allclose(outputs["detection_scores"].numpy()[0], scores, rtol=1e-5)


def test_exported_boxes_match_the_evaluated_model(run, tmp_path):
    """On an image of the model's own input size the export gives the decoded detections."""
    from tfrconv.trainer.checkpoints import restore_model
    from tfrconv.trainer.export import export
    from tfrconv.trainer.model import build_detector, decode, predict

    settings = load_settings(run["config"])
    written = export(settings, run["model_dir"], str(tmp_path / "e"))
    image = np.random.default_rng(0).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    exported = tf.saved_model.load(written["saved_model"])(tf.constant(image[None]))
    spec = settings.model_spec()
    model = build_detector(spec)
    model(tf.zeros([1, SIZE, SIZE, 3]))
    restore_model(model, tf.train.latest_checkpoint(run["model_dir"]), spec.identity(),
                  what="checkpoint")
    assert spec.flip_test          # the template's flips: both sides run the mirror pass too
    boxes, scores, classes = decode(*predict(model, tf.cast(image[None], tf.float32), spec), spec)
    np.testing.assert_allclose(exported["detection_boxes"].numpy(), boxes.numpy(), atol=1e-5)
    np.testing.assert_array_equal(exported["detection_classes"].numpy(), classes.numpy() + 1)


def test_infer_writes_pictures_and_json(run, tmp_path):
    export_dir = tmp_path / "exported"
    main(["export", "--pipeline-config-path", run["config"], "--trained-checkpoint-dir",
          run["model_dir"], "--output-directory", str(export_dir)])
    images = os.path.join(run["records"]["shapes"], "JPEGImages")
    out = tmp_path / "predictions"
    assert main(["infer", "--model", str(export_dir / "saved_model"),
                 os.path.join(images, "shapes_00000*.jpg"), "--out", str(out),
                 "--min-score", "0.2"]) == 0
    document = json.loads((out / "detections.json").read_text())
    assert len(document["images"]) == 10
    assert len(list(out.glob("*.png"))) == 10
    first = document["images"][0]
    assert first["width"] == SIZE and os.path.isfile(first["output"])
    assert document["box_order"] == "ymin, xmin, ymax, xmax"
    assert first["detections"], "a trained model finds something at score 0.2"
    for det in first["detections"]:
        assert det["class"] in {"circle", "square", "triangle"} and det["score"] >= 0.2
        # One order for both: the pixel box is the normalised one scaled by (h, w, h, w).
        height, width = first["height"], first["width"]
        np.testing.assert_allclose(det["box_pixels"], np.array(det["box"]) *
                                   [height, width, height, width], atol=0.06)
    scores = [det["score"] for det in first["detections"]]
    assert scores == sorted(scores, reverse=True)
    # A broken image is reported and the rest still done.
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    assert main(["infer", "--model", str(export_dir), str(bad),
                 os.path.join(images, "shapes_000001.jpg"), "--out", str(out)]) == 1
    document = json.loads((out / "detections.json").read_text())
    assert len(document["images"]) == 1 and "bad.jpg" in document["failures"][0]


def write_config(run, tmp_path, name, replace):
    text = Path(run["config"]).read_text()
    for old, new in replace:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_errors_are_one_clear_line(run, tmp_path, capsys):
    records = run["records"]

    def fails(config, *extra, code=2):
        assert main(["train", "--pipeline-config-path", config, "--model-dir",
                     str(tmp_path / "m"), *extra]) == code
        return capsys.readouterr().err

    no_files = write_config(run, tmp_path, "a.config",
                            [(records["train_glob"], records["train_glob"] + ".missing")])
    assert "matches no files" in fails(no_files)

    wrong_map = tmp_path / "wrong.pbtxt"
    wrong_map.write_text("item { id: 1 name: 'cat' }\nitem { id: 2 name: 'dog' }\n")
    mismatch = write_config(run, tmp_path, "b.config",
                            [(f'label_map_path: "{records["label_map"]}"',
                              f'label_map_path: "{wrong_map}"')])
    message = fails(mismatch)
    assert "'circle'" in message and "does not have" in message

    other = write_config(run, tmp_path, "c.config", [("num_classes: 3", "num_classes: 5")])
    assert main(["train", "--pipeline-config-path", other, "--model-dir", run["model_dir"],
                 "--num-train-steps", "1"]) == 2
    assert "another model" in capsys.readouterr().err


def test_strict_refuses_and_default_states_the_substitution(run, tmp_path, capsys):
    ssd = str(tmp_path / "ssd.config")
    assert main(["config", "--train-records", run["records"]["train_glob"], "--template",
                 "ssd_mobilenet_v2", "--out", ssd]) == 0
    capsys.readouterr()
    assert main(["train", "--pipeline-config-path", ssd, "--model-dir",
                 str(tmp_path / "m"), "--strict"]) == 2
    error = capsys.readouterr().err
    assert "--strict" in error and "implements only CenterNet" in error

    from tfrconv.trainer.train import announce

    class Stream:
        text = ""

        def write(self, text):
            Stream.text += text

    announce(load_settings(ssd), False, Stream())
    assert "instead" in Stream.text and "ssd" in Stream.text


def test_foreign_checkpoints_in_the_model_dir(tmp_path, run):
    model_dir = tmp_path / "foreign"
    other = tf.train.Checkpoint(weights=tf.Variable(tf.zeros([3, 3])))
    tf.train.CheckpointManager(other, str(model_dir), max_to_keep=1).save()
    with pytest.raises(UsageError) as info:
        train(load_settings(run["config"]), TrainOptions(model_dir=str(model_dir),
                                                        progress=False))
    assert "did not write" in str(info.value)


HELP_PROBE = """
import contextlib, io, sys
from tfrconv.cli import main
for command in ("config", "train", "evaluate", "export", "infer"):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            main([command, "--help"])
        except SystemExit:
            pass
    assert "--" in out.getvalue(), command
print("tensorflow" in sys.modules, "keras" in sys.modules)
"""


def test_help_does_not_import_tensorflow():
    done = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "False"], done.stderr
