"""Pipeline configs parse as the OD API parses them: strict, with the OD API's defaults, and the
shipped message classes identical (names, numbers, types, defaults, oneofs, enums) to the ones the
OD API's own generated code declares."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from trainer_support import run_with_odapi_protos  # noqa: E402

from tfrconv.errors import UsageError  # noqa: E402
from tfrconv.trainer import schema  # noqa: E402


def test_parses_a_config_with_the_odapi_defaults():
    config = schema.parse_pipeline("""
        model { center_net { num_classes: 3
          image_resizer { fixed_shape_resizer { height: 64 width: 64 } } } }
        train_config {
          batch_size: 8
          optimizer { adam_optimizer { learning_rate { constant_learning_rate {
            learning_rate: 0.001 } } } use_moving_average: false }
          data_augmentation_options { random_horizontal_flip { } }
        }
        train_input_reader { label_map_path: "x.pbtxt"
          tf_record_input_reader { input_path: "a-*" input_path: "b" } }
        eval_config { metrics_set: "coco_detection_metrics" }
        eval_input_reader { tf_record_input_reader { input_path: "c" } }
    """)
    assert config.model.WhichOneof("model") == "center_net"
    assert list(config.train_input_reader.tf_record_input_reader.input_path) == ["a-*", "b"]
    # proto2 defaults of fields not written, as the OD API sees them
    assert config.train_input_reader.max_number_of_boxes == 100
    assert config.train_input_reader.shuffle is True
    assert config.eval_config.num_visualizations == 10
    assert config.model.center_net.object_center_params.heatmap_bias_init == pytest.approx(-2.19)
    assert config.train_config.fine_tune_checkpoint_version == 1          # V1


def test_model_zoo_syntax_is_accepted():
    # list syntax, trailing commas and semicolons, enums, maps and comments, as zoo configs use
    config = schema.parse_pipeline("""
        model { ssd { num_classes: 90
          anchor_generator { ssd_anchor_generator { aspect_ratios: [1.0, 2.0, 0.5] } }
          feature_extractor { type: 'ssd_mobilenet_v2_keras' conv_hyperparams {
            activation: RELU_6, batch_norm { decay: 0.97, epsilon: 0.001, } } }
          post_processing { score_converter: SIGMOID } } }   # a comment
        eval_config { batch_size: 1; super_categories { key: "a" value: "b" } }
    """)
    ssd = config.model.ssd
    assert list(ssd.anchor_generator.ssd_anchor_generator.aspect_ratios) == [1.0, 2.0, 0.5]
    assert config.eval_config.super_categories["a"] == "b"


def test_unknown_field_names_the_place_and_a_suggestion():
    with pytest.raises(UsageError) as info:
        schema.parse_pipeline("model {\n  center_net {\n    num_clases: 3\n  }\n}\n",
                              "models/pipeline.config")
    error = info.value
    assert error.file == "models/pipeline.config" and error.line == 3
    assert "num_clases" in error.message and "'num_classes'" in error.message


def test_syntax_error_has_a_line():
    with pytest.raises(UsageError) as info:
        schema.parse_pipeline("train_config {\n  batch_size: eight\n}\n", "p.config")
    assert info.value.line == 2


CROSS_CHECK = r"""
import json
from google.protobuf.descriptor import FieldDescriptor as FD
from object_detection.protos import pipeline_pb2, string_int_label_map_pb2
from tfrconv.proto import message_descriptor

problems, seen = [], set()
todo = [pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR,
        string_int_label_map_pb2.StringIntLabelMap.DESCRIPTOR]
while todo:
    real = todo.pop()
    if real.full_name in seen:
        continue
    seen.add(real.full_name)
    try:
        ours = message_descriptor(real.full_name)
    except KeyError:
        problems.append(f"missing message {real.full_name}")
        continue
    if real.GetOptions().map_entry != ours.GetOptions().map_entry:
        problems.append(f"{real.full_name}: map entry flag differs")
    if list(real.extension_ranges) != list(ours.extension_ranges):
        problems.append(f"{real.full_name}: extension ranges differ")
    mine = {f.name: f for f in ours.fields}
    for f in real.fields:
        o = mine.pop(f.name, None)
        if o is None:
            problems.append(f"{real.full_name}.{f.name}: missing")
            continue
        for attr in ("number", "type", "label", "has_default_value"):
            if getattr(f, attr) != getattr(o, attr):
                problems.append(f"{real.full_name}.{f.name}: {attr} {getattr(o, attr)} != "
                                f"{getattr(f, attr)}")
        if f.has_default_value and f.default_value != o.default_value:
            problems.append(f"{real.full_name}.{f.name}: default {o.default_value!r} != "
                            f"{f.default_value!r}")
        real_oneof = f.containing_oneof.name if f.containing_oneof else None
        our_oneof = o.containing_oneof.name if o.containing_oneof else None
        if real_oneof != our_oneof:
            problems.append(f"{real.full_name}.{f.name}: oneof {our_oneof} != {real_oneof}")
        for kind in ("message_type", "enum_type"):
            a, b = getattr(f, kind), getattr(o, kind)
            if (a and a.full_name) != (b and b.full_name):
                problems.append(f"{real.full_name}.{f.name}: {kind} differs")
        if f.message_type:
            todo.append(f.message_type)
        if f.enum_type:
            values = [(v.name, v.number) for v in f.enum_type.values]
            if values != [(v.name, v.number) for v in o.enum_type.values]:
                problems.append(f"enum {f.enum_type.full_name} values differ")
    problems.extend(f"{real.full_name}.{name}: not in the OD API" for name in mine)
print(json.dumps({"messages": len(seen), "problems": problems}))
"""


def test_shipped_classes_match_the_odapi_protos_field_for_field():
    result = run_with_odapi_protos(CROSS_CHECK)
    assert result["problems"] == []
    assert result["messages"] > 150
