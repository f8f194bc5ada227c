"""`tfrconv config` and reading pipeline configs: templates, manifests, what the trainer takes."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from trainer_support import make_records, run_with_odapi_protos, tfrconv  # noqa: E402

from tfrconv.errors import UsageError  # noqa: E402
from tfrconv.trainer import templates  # noqa: E402
from tfrconv.trainer.config import LearningRate, settings_from_message  # noqa: E402
from tfrconv.trainer.schema import parse_pipeline  # noqa: E402


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return make_records(tmp_path_factory.mktemp("config"), num_images=20, shards=3)


def request(template, **extra):
    return templates.ConfigRequest(template, 3, "data/train.label_map.pbtxt",
                                   ["data/train.record-?????-of-00003"], ["data/val.record"],
                                   **extra)


ALL_VARIANTS = [(t, ft) for t in templates.TEMPLATES for ft in (None, "detection", "full")]


@pytest.mark.parametrize("template,fine_tune", ALL_VARIANTS)
def test_templates_parse_and_carry_the_request(template, fine_tune):
    extra = {"fine_tune_checkpoint": "models/old/ckpt-4",
             "fine_tune_checkpoint_type": fine_tune} if fine_tune else {}
    config = parse_pipeline(templates.render(request(template, metrics=["pascal"], **extra)))
    arch = config.model.WhichOneof("model")
    assert arch == {"centernet": "center_net", "ssd_mobilenet_v2": "ssd",
                    "faster_rcnn_resnet101": "faster_rcnn"}[template]
    assert getattr(config.model, arch).num_classes == 3
    reader = config.train_input_reader
    assert list(reader.tf_record_input_reader.input_path) == ["data/train.record-?????-of-00003"]
    assert reader.label_map_path == "data/train.label_map.pbtxt"
    assert list(config.eval_config.metrics_set) == ["pascal_voc_detection_metrics"]
    assert config.eval_input_reader[0].shuffle is False
    assert config.train_config.optimizer.use_moving_average is False
    if fine_tune:
        assert config.train_config.fine_tune_checkpoint == "models/old/ckpt-4"
        assert config.train_config.fine_tune_checkpoint_type == fine_tune
        assert config.train_config.fine_tune_checkpoint_version == 2        # V2
    else:
        assert not config.train_config.HasField("fine_tune_checkpoint")


REAL_PARSE = r"""
import json, sys
from google.protobuf import text_format
from object_detection.protos import pipeline_pb2
out = {}
for path in sys.argv[1:]:
    config = pipeline_pb2.TrainEvalPipelineConfig()
    text_format.Merge(open(path).read(), config)       # as config_util does
    arch = config.model.WhichOneof("model")
    out[path] = {"arch": arch, "classes": getattr(config.model, arch).num_classes,
                 "metrics": list(config.eval_config.metrics_set),
                 "fine_tune_type": config.train_config.fine_tune_checkpoint_type}
print(json.dumps(out))
"""


def test_generated_configs_parse_with_the_odapi_protos(records, tmp_path):
    paths = []
    for template, fine_tune in ALL_VARIANTS:
        out = tmp_path / f"{template}-{fine_tune}.config"
        args = ["config", "--train-records", records["train_glob"], "--eval-records",
                records["val"], "--template", template, "--out", str(out)]
        if fine_tune:
            args += ["--fine-tune-checkpoint", "old/ckpt-1", "--fine-tune-checkpoint-type",
                     fine_tune]
        tfrconv(*args)
        paths.append(str(out))
    parsed = run_with_odapi_protos(REAL_PARSE, *paths)
    for path in paths:
        assert parsed[path]["classes"] == 3
        assert parsed[path]["metrics"] == ["pascal_voc_detection_metrics",
                                           "coco_detection_metrics"]
    assert {parsed[p]["arch"] for p in paths} == {"center_net", "ssd", "faster_rcnn"}


def test_config_from_the_manifest(records, tmp_path):
    out = tmp_path / "models" / "pipeline.config"
    done = tfrconv("config", "--train-records", os.path.join(records["data"], "train.record-*"),
                   "--eval-records", records["val"], "--out", str(out), "--num-steps", "300",
                   "--batch-size", "4", "--image-size", "64")
    config = parse_pipeline(out.read_text())
    assert list(config.train_input_reader.tf_record_input_reader.input_path) == \
        [os.path.join(records["data"], "train.record-*")]
    assert config.train_input_reader.label_map_path == records["label_map"]
    assert config.eval_input_reader[0].label_map_path == \
        os.path.join(records["data"], "val.label_map.pbtxt")
    assert config.model.center_net.num_classes == 3
    resizer = config.model.center_net.image_resizer.fixed_shape_resizer
    assert (resizer.height, resizer.width) == (64, 64)
    assert config.train_config.num_steps == 300 and config.train_config.batch_size == 4
    assert "3 classes" in done.stdout and "3 files" in done.stdout


def test_sharded_base_name_and_stale_shards(records, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(records["data"], data)
    # The base name of sharded output means its exact shard set.
    out = tmp_path / "a.config"
    tfrconv("config", "--train-records", str(data / "train.record"), "--out", str(out))
    paths = parse_pipeline(out.read_text()).train_input_reader.tf_record_input_reader.input_path
    assert list(paths) == [str(data / "train.record-?????-of-00003")]
    # A leftover shard of an earlier conversion: the glob is narrowed, with a note.
    (data / "train.record-00000-of-00002").write_bytes(b"")
    done = tfrconv("config", "--train-records", str(data / "train.record-*"), "--out", str(out))
    paths = parse_pipeline(out.read_text()).train_input_reader.tf_record_input_reader.input_path
    assert list(paths) == [str(data / "train.record-?????-of-00003")]
    assert "train.record-00000-of-00002" in done.stdout


def test_config_errors(records, tmp_path):
    out = str(tmp_path / "x.config")
    missing = tfrconv("config", "--train-records", str(tmp_path / "nothing-*"), "--out", out,
                      check=False)
    assert missing.returncode == 2 and "no such records" in missing.stderr
    # Records without a manifest: a label map must be given.
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(records["val"], bare / "val.record")
    no_map = tfrconv("config", "--train-records", str(bare / "val.record"), "--out", out,
                     check=False)
    assert no_map.returncode == 2 and "--label-map" in no_map.stderr
    tfrconv("config", "--train-records", str(bare / "val.record"), "--label-map",
            records["label_map"], "--out", out)
    too_few = tfrconv("config", "--train-records", records["train_glob"], "--num-classes", "2",
                      "--out", out, check=False)
    assert too_few.returncode == 2 and "largest id 3" in too_few.stderr
    assert not os.path.exists(str(tmp_path / "nothing"))


def test_different_label_maps_are_refused(records, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(records["data"], data)
    manifest = json.loads((data / "val.manifest.json").read_text())
    manifest["label_map"]["sha256"] = "0" * 64
    (data / "val.manifest.json").write_text(json.dumps(manifest))
    done = tfrconv("config", "--train-records", str(data / "train.record"), "--eval-records",
                   str(data / "val.record"), "--out", str(tmp_path / "c.config"), check=False)
    assert done.returncode == 2 and "different label maps" in done.stderr


def settings_of(text: str):
    return settings_from_message(parse_pipeline(text), "p.config")


BASE = """
train_config { batch_size: 2 optimizer { adam_optimizer { learning_rate {
  constant_learning_rate { learning_rate: 0.01 } } } use_moving_average: false } }
train_input_reader { label_map_path: "m.pbtxt" tf_record_input_reader { input_path: "t" } }
"""


def test_what_the_trainer_reads():
    settings = settings_of(templates.render(request("centernet", batch_size=4, num_steps=50,
                                                    image_size=(60, 70))))
    assert settings.meta_architecture == "center_net" and not settings.substitutions
    assert (settings.resize.height, settings.resize.width) == (64, 80)    # multiples of 16
    assert any("rounded up" in note for note in settings.notes)
    assert settings.batch_size == 4 and settings.num_steps == 50
    assert settings.optimizer.kind == "adam"
    assert settings.optimizer.learning_rate.kind == "cosine_decay"
    assert [a.name for a in settings.augmentations] == ["random_horizontal_flip"]
    assert settings.optimizer.learning_rate.params["learning_rate_base"] == pytest.approx(0.005)
    assert settings.loss_weights().scale == pytest.approx(0.2)
    assert settings.metrics_set == ["pascal_voc_detection_metrics", "coco_detection_metrics"]
    assert settings.width == 32 and settings.max_detections == 100


def test_other_meta_architectures_are_stated_not_silently_replaced():
    for template in ("ssd_mobilenet_v2", "faster_rcnn_resnet101"):
        settings = settings_of(templates.render(request(template)))
        assert len(settings.substitutions) == 1
        assert "implements only CenterNet" in settings.substitutions[0]
        assert "ssd_random_crop" in " ".join(settings.notes) or template != "ssd_mobilenet_v2"
    frcnn = settings_of(templates.render(request("faster_rcnn_resnet101")))
    assert frcnn.resize.keep_aspect and frcnn.optimizer.learning_rate.kind == "manual_step"
    zoo_centernet = settings_of(BASE + """model { center_net { num_classes: 2
        feature_extractor { type: "resnet_v1_18_fpn" }
        image_resizer { keep_aspect_ratio_resizer { max_dimension: 96
                                                    pad_to_max_dimension: true } } } }""")
    assert "resnet_v1_18_fpn" in zoo_centernet.substitutions[0]
    assert zoo_centernet.resize.keep_aspect and zoo_centernet.resize.height == 96


@pytest.mark.parametrize("text,message", [
    ("", "no model"),
    ("model { ssd { num_classes: 0 } }", "num_classes"),
    ("model { center_net { num_classes: 2 } }", "image_resizer"),
    ("model { center_net { num_classes: 2 image_resizer { identity_resizer {} } } }",
     "identity_resizer"),
    ("model { center_net { num_classes: 2 image_resizer { fixed_shape_resizer {} } } } "
     "train_config { fine_tune_checkpoint: 'x' fine_tune_checkpoint_version: V1 }", "V2"),
    ("model { center_net { num_classes: 2 image_resizer { fixed_shape_resizer {} } } } "
     "eval_config { metrics_set: 'pascal_metrics' }", "pascal_metrics"),
    ("model { center_net { num_classes: 2 image_resizer { fixed_shape_resizer {} } } } "
     "train_config { fine_tune_checkpoint: 'x' fine_tune_checkpoint_type: 'partial' "
     "fine_tune_checkpoint_version: V2 }",
     "partial"),
])
def test_bad_configs_are_named(text, message):
    full = text if "train_config" in text else BASE + text
    if "train_config {" in text:
        full = text + """ train_config { optimizer { adam_optimizer { learning_rate {
            constant_learning_rate {} } } } }
            train_input_reader { label_map_path: "m" tf_record_input_reader {
            input_path: "t" } }"""
    with pytest.raises(UsageError) as info:
        settings_of(full)
    assert message in str(info.value)


def test_fine_tune_type_follows_the_odapi_rules():
    text = BASE.replace("batch_size: 2", "batch_size: 2 fine_tune_checkpoint: 'x' "
                        "from_detection_checkpoint: true fine_tune_checkpoint_version: V2")
    settings = settings_of(text + "model { center_net { num_classes: 2 image_resizer { "
                           "fixed_shape_resizer {} } } }")
    assert settings.fine_tune_checkpoint_type == "detection"


SCHEDULES = [
    LearningRate("constant", {"learning_rate": 0.01}),
    LearningRate("cosine_decay", {"learning_rate_base": 0.04, "total_steps": 100,
                                  "warmup_learning_rate": 0.01, "warmup_steps": 10,
                                  "hold_base_rate_steps": 5}),
    LearningRate("manual_step", {"initial_learning_rate": 0.1, "schedule": [(20, 0.01),
                                                                           (60, 0.001)],
                                 "warmup": True}),
    LearningRate("exponential_decay", {"initial_learning_rate": 0.1, "decay_steps": 10,
                                       "decay_factor": 0.5, "staircase": True,
                                       "burnin_learning_rate": 0.05, "burnin_steps": 3,
                                       "min_learning_rate": 0.001}),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.kind)
def test_learning_rate_schedules_agree_in_python_and_tensorflow(schedule):
    from tfrconv.trainer.optim import schedule_tensor

    for step in (0, 1, 3, 9, 10, 14, 15, 16, 19, 20, 21, 59, 60, 99, 100, 101, 500):
        assert float(schedule_tensor(schedule, step)) == pytest.approx(schedule(step),
                                                                       rel=1e-5, abs=1e-8)
    if schedule.kind == "cosine_decay":
        assert schedule(0) == pytest.approx(0.01) and schedule(12) == pytest.approx(0.04)
        assert schedule(100) == pytest.approx(0.0, abs=1e-9) and schedule(101) == 0.0
    if schedule.kind == "manual_step":
        assert schedule(10) == pytest.approx(0.055) and schedule(20) == 0.01
        assert schedule(60) == 0.001
