"""Pipeline-config templates: OD-API text protos (TF2 style) filled from a conversion.

`centernet` is what the built-in trainer trains; `ssd_mobilenet_v2` and `faster_rcnn_resnet101`
follow the OD API's TF2 model-zoo configs of those models, for users who move to the OD API.
Every field written exists in the OD API's protos (tests parse the output with them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

TEMPLATES = ("centernet", "ssd_mobilenet_v2", "faster_rcnn_resnet101")
METRIC_SETS = {"pascal": "pascal_voc_detection_metrics", "coco": "coco_detection_metrics"}
FINE_TUNE_TYPES = ("classification", "detection", "full")

# Per template: input size, batch size, steps, learning rate.
DEFAULTS = {
    "centernet": {"image_size": (128, 128), "batch_size": 16, "num_steps": 1500,
                  "learning_rate": 0.005},
    "ssd_mobilenet_v2": {"image_size": (320, 320), "batch_size": 16, "num_steps": 25000,
                         "learning_rate": 0.04},
    "faster_rcnn_resnet101": {"image_size": (600, 1024), "batch_size": 2, "num_steps": 50000,
                              "learning_rate": 0.002},
}


@dataclass
class ConfigRequest:
    template: str
    num_classes: int
    label_map_path: str
    train_paths: list[str]
    eval_paths: list[str]
    eval_label_map_path: str | None = None
    metrics: list[str] = field(default_factory=lambda: ["pascal", "coco"])
    batch_size: int | None = None
    num_steps: int | None = None
    image_size: tuple[int, int] | None = None
    learning_rate: float | None = None
    fine_tune_checkpoint: str | None = None
    fine_tune_checkpoint_type: str | None = None
    header: list[str] = field(default_factory=list)

    def value(self, name: str):
        given = getattr(self, name)
        return DEFAULTS[self.template][name] if given is None else given


def render(request: ConfigRequest) -> str:
    """The pipeline config text for a request."""
    model = {"centernet": _centernet, "ssd_mobilenet_v2": _ssd,
             "faster_rcnn_resnet101": _faster_rcnn}[request.template](request)
    header = "".join(f"# {line}\n" for line in request.header)
    return header + model + _train_config(request) + _readers_and_eval(request)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _centernet(r: ConfigRequest) -> str:
    height, width = r.value("image_size")
    return f"""model {{
  center_net {{
    num_classes: {r.num_classes}
    # tfrconv's compact CenterNet backbone (depth_multiplier scales its width). For the OD API,
    # name one of its CenterNet extractors here, e.g. "resnet_v1_18_fpn" or "mobilenet_v2_fpn".
    feature_extractor {{
      type: "tfrconv_compact"
      depth_multiplier: 1.0
    }}
    image_resizer {{
      fixed_shape_resizer {{
        height: {height}
        width: {width}
      }}
    }}
    object_detection_task {{
      task_loss_weight: 1.0
      offset_loss_weight: 1.0
      scale_loss_weight: 0.2
      localization_loss {{
        l1_localization_loss {{
        }}
      }}
    }}
    object_center_params {{
      object_center_loss_weight: 1.0
      heatmap_bias_init: -2.19
      min_box_overlap_iou: 0.7
      max_box_predictions: 100
      classification_loss {{
        penalty_reduced_logistic_focal_loss {{
          alpha: 2.0
          beta: 4.0
        }}
      }}
    }}
  }}
}}

"""


def _ssd(r: ConfigRequest) -> str:
    height, width = r.value("image_size")
    hyper = """        regularizer {
          l2_regularizer {
            weight: 0.00004
          }
        }
        batch_norm {
          train: true
          scale: true
          center: true
          decay: 0.97
          epsilon: 0.001
        }"""
    return f"""model {{
  ssd {{
    num_classes: {r.num_classes}
    inplace_batchnorm_update: true
    freeze_batchnorm: false
    image_resizer {{
      fixed_shape_resizer {{
        height: {height}
        width: {width}
      }}
    }}
    feature_extractor {{
      type: "ssd_mobilenet_v2_keras"
      depth_multiplier: 1.0
      min_depth: 16
      override_base_feature_extractor_hyperparams: true
      conv_hyperparams {{
        activation: RELU_6
{hyper}
        initializer {{
          truncated_normal_initializer {{
            mean: 0.0
            stddev: 0.03
          }}
        }}
      }}
    }}
    box_coder {{
      faster_rcnn_box_coder {{
        y_scale: 10.0
        x_scale: 10.0
        height_scale: 5.0
        width_scale: 5.0
      }}
    }}
    matcher {{
      argmax_matcher {{
        matched_threshold: 0.5
        unmatched_threshold: 0.5
        negatives_lower_than_unmatched: true
        force_match_for_each_row: true
        use_matmul_gather: true
      }}
    }}
    similarity_calculator {{
      iou_similarity {{
      }}
    }}
    encode_background_as_zeros: true
    anchor_generator {{
      ssd_anchor_generator {{
        num_layers: 6
        min_scale: 0.2
        max_scale: 0.95
        aspect_ratios: [1.0, 2.0, 0.5, 3.0, 0.3333]
      }}
    }}
    box_predictor {{
      convolutional_box_predictor {{
        kernel_size: 1
        box_code_size: 4
        use_dropout: false
        class_prediction_bias_init: -4.6
        conv_hyperparams {{
          activation: RELU_6
{hyper}
          initializer {{
            random_normal_initializer {{
              mean: 0.0
              stddev: 0.01
            }}
          }}
        }}
      }}
    }}
    loss {{
      classification_loss {{
        weighted_sigmoid_focal {{
          alpha: 0.75
          gamma: 2.0
        }}
      }}
      localization_loss {{
        weighted_smooth_l1 {{
          delta: 1.0
        }}
      }}
      classification_weight: 1.0
      localization_weight: 1.0
    }}
    normalize_loss_by_num_matches: true
    normalize_loc_loss_by_codesize: true
    post_processing {{
      batch_non_max_suppression {{
        score_threshold: 1e-8
        iou_threshold: 0.6
        max_detections_per_class: 100
        max_total_detections: 100
      }}
      score_converter: SIGMOID
    }}
  }}
}}

"""


def _faster_rcnn(r: ConfigRequest) -> str:
    min_dim, max_dim = r.value("image_size")
    pad = "\n        pad_to_max_dimension: true" if min_dim == max_dim else ""
    return f"""model {{
  faster_rcnn {{
    num_classes: {r.num_classes}
    image_resizer {{
      keep_aspect_ratio_resizer {{
        min_dimension: {min_dim}
        max_dimension: {max_dim}{pad}
      }}
    }}
    feature_extractor {{
      type: "faster_rcnn_resnet101_keras"
      batch_norm_trainable: true
    }}
    first_stage_anchor_generator {{
      grid_anchor_generator {{
        scales: [0.25, 0.5, 1.0, 2.0]
        aspect_ratios: [0.5, 1.0, 2.0]
        height_stride: 16
        width_stride: 16
      }}
    }}
    first_stage_box_predictor_conv_hyperparams {{
      op: CONV
      regularizer {{
        l2_regularizer {{
          weight: 0.0
        }}
      }}
      initializer {{
        truncated_normal_initializer {{
          stddev: 0.01
        }}
      }}
    }}
    first_stage_nms_score_threshold: 0.0
    first_stage_nms_iou_threshold: 0.7
    first_stage_max_proposals: 300
    first_stage_localization_loss_weight: 2.0
    first_stage_objectness_loss_weight: 1.0
    initial_crop_size: 14
    maxpool_kernel_size: 2
    maxpool_stride: 2
    second_stage_box_predictor {{
      mask_rcnn_box_predictor {{
        use_dropout: false
        dropout_keep_probability: 1.0
        fc_hyperparams {{
          op: FC
          regularizer {{
            l2_regularizer {{
              weight: 0.0
            }}
          }}
          initializer {{
            variance_scaling_initializer {{
              factor: 1.0
              uniform: true
              mode: FAN_AVG
            }}
          }}
        }}
      }}
    }}
    second_stage_post_processing {{
      batch_non_max_suppression {{
        score_threshold: 0.0
        iou_threshold: 0.6
        max_detections_per_class: 100
        max_total_detections: 300
      }}
      score_converter: SOFTMAX
    }}
    second_stage_localization_loss_weight: 2.0
    second_stage_classification_loss_weight: 1.0
  }}
}}

"""


def _train_config(r: ConfigRequest) -> str:
    steps = r.value("num_steps")
    rate = r.value("learning_rate")
    if r.template == "centernet":
        # Measured on the shapes benchmark: the base rate for half the run, then the cosine;
        # Adam at 4e-3 after the warm-up learnt most per step (Pascal mAP@0.5 at 1000 steps:
        # 0.82 at 2e-3, 0.87 at 3e-3, 0.90 at 4e-3, 0.87 at 6e-3).
        warmup = max(1, min(steps // 30, 1000))
        hold = max(0, steps // 2 - warmup)
        optimizer = f"""  optimizer {{
    adam_optimizer {{
      learning_rate {{
        cosine_decay_learning_rate {{
          learning_rate_base: {rate:g}
          total_steps: {steps}
          warmup_learning_rate: {rate / 10:g}
          warmup_steps: {warmup}
          hold_base_rate_steps: {hold}
        }}
      }}
      epsilon: 1e-7
    }}
    use_moving_average: false
  }}"""
    elif r.template == "ssd_mobilenet_v2":
        warmup = max(1, min(steps // 25, 2000))
        optimizer = f"""  optimizer {{
    momentum_optimizer {{
      learning_rate {{
        cosine_decay_learning_rate {{
          learning_rate_base: {rate:g}
          total_steps: {steps}
          warmup_learning_rate: {rate / 6:g}
          warmup_steps: {warmup}
        }}
      }}
      momentum_optimizer_value: 0.9
    }}
    use_moving_average: false
  }}"""
    else:   # the seed's Faster R-CNN schedule: manual steps down by 10x
        first, second = int(steps * 0.6), int(steps * 0.85)
        optimizer = f"""  optimizer {{
    momentum_optimizer {{
      learning_rate {{
        manual_step_learning_rate {{
          initial_learning_rate: {rate:g}
          schedule {{
            step: {first}
            learning_rate: {rate / 10:g}
          }}
          schedule {{
            step: {second}
            learning_rate: {rate / 100:g}
          }}
        }}
      }}
      momentum_optimizer_value: 0.9
    }}
    use_moving_average: false
  }}"""
    augment = "  data_augmentation_options {\n    random_horizontal_flip {\n    }\n  }\n"
    if r.template == "ssd_mobilenet_v2":
        augment += "  data_augmentation_options {\n    ssd_random_crop {\n    }\n  }\n"
    # No random_scale_crop_and_pad_to_square for centernet: against overfitting it gained at
    # 3,000 steps, but cost at the ~2,000 that a 2-core machine trains in 5 minutes
    # (docs/performance.md).
    if r.fine_tune_checkpoint:
        kind = r.fine_tune_checkpoint_type or "detection"
        fine_tune = (f"  fine_tune_checkpoint: {_q(r.fine_tune_checkpoint)}\n"
                     f"  fine_tune_checkpoint_type: {_q(kind)}\n"
                     "  fine_tune_checkpoint_version: V2\n")
    else:
        fine_tune = ("  # Training starts from random weights. To fine-tune, set "
                     "fine_tune_checkpoint (a TF2\n  # checkpoint path), "
                     "fine_tune_checkpoint_type (classification, detection or full)\n"
                     "  # and fine_tune_checkpoint_version: V2.\n")
    return (f"train_config {{\n  batch_size: {r.value('batch_size')}\n  num_steps: {steps}\n"
            f"{optimizer}\n{augment}{fine_tune}  max_number_of_boxes: 100\n"
            "  unpad_groundtruth_tensors: false\n}\n\n")


def _readers_and_eval(r: ConfigRequest) -> str:
    train_paths = "".join(f"    input_path: {_q(p)}\n" for p in r.train_paths)
    eval_paths = "".join(f"    input_path: {_q(p)}\n" for p in r.eval_paths)
    metrics = "".join(f"  metrics_set: {_q(METRIC_SETS[m])}\n" for m in r.metrics)
    eval_map = r.eval_label_map_path or r.label_map_path
    text = (f"train_input_reader {{\n  label_map_path: {_q(r.label_map_path)}\n"
            f"  tf_record_input_reader {{\n{train_paths}  }}\n}}\n\n"
            f"eval_config {{\n{metrics}  use_moving_averages: false\n  batch_size: 1\n}}\n")
    if r.eval_paths:
        text += (f"\neval_input_reader {{\n  label_map_path: {_q(eval_map)}\n  shuffle: false\n"
                 f"  num_epochs: 1\n  tf_record_input_reader {{\n{eval_paths}  }}\n}}\n")
    return text
