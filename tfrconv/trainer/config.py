"""Reading a pipeline config: the OD API's text proto → the settings the built-in trainer uses.

Everything the trainer takes from the config is read here, once; what it cannot honour is said
in `notes` (printed when training starts), and `substitutions` lists what it trains in place of
what the config asks (an error with --strict). Relative paths are kept as written: like the OD
API, they are read from the current folder.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from ..api import UsageError
from .data import SUPPORTED_AUGMENTATIONS, Augmentation, Resize

OWN_FEATURE_EXTRACTOR = "tfrconv_compact"
BASE_WIDTH = 32
PASCAL = "pascal_voc_detection_metrics"
COCO = "coco_detection_metrics"


@dataclass(frozen=True)
class LearningRate:
    """One of the OD API's four schedules, evaluated like `learning_schedules.py`."""

    kind: str                      # constant | exponential_decay | manual_step | cosine_decay
    params: dict

    def __call__(self, step: float) -> float:
        p = self.params
        if self.kind == "constant":
            return p["learning_rate"]
        if self.kind == "exponential_decay":
            if step < p["burnin_steps"]:
                return p["burnin_learning_rate"]
            exponent = (step - p["burnin_steps"]) / max(p["decay_steps"], 1)
            if p["staircase"]:
                exponent = math.floor(exponent)
            return max(p["initial_learning_rate"] * p["decay_factor"] ** exponent,
                       p["min_learning_rate"])
        if self.kind == "manual_step":
            boundaries = [s for s, _ in p["schedule"]]
            rates = [p["initial_learning_rate"]] + [r for _, r in p["schedule"]]
            if p["warmup"] and boundaries and step < boundaries[0]:
                return rates[0] + (rates[1] - rates[0]) * step / boundaries[0]
            index = sum(1 for b in boundaries if step >= b)
            return rates[index]
        # cosine_decay
        base, total = p["learning_rate_base"], p["total_steps"]
        warmup, hold = p["warmup_steps"], p["hold_base_rate_steps"]
        if step > total:
            return 0.0
        if warmup and step < warmup:
            return p["warmup_learning_rate"] + (base - p["warmup_learning_rate"]) * step / warmup
        if step < warmup + hold:
            return base
        span = max(total - warmup - hold, 1)
        return 0.5 * base * (1 + math.cos(math.pi * (step - warmup - hold) / span))


@dataclass(frozen=True)
class Optimizer:
    kind: str                      # adam | momentum | rms_prop
    learning_rate: LearningRate
    momentum: float = 0.9
    decay: float = 0.9
    epsilon: float = 1e-7
    moving_average_decay: float | None = None   # None: no moving average of the weights


@dataclass(frozen=True)
class InputSettings:
    paths: list[str]
    label_map_path: str
    shuffle: bool = True
    shuffle_buffer_size: int = 2048
    num_readers: int = 64
    sample_1_of_n: int = 1
    max_boxes: int = 100
    name: str = ""


@dataclass
class PipelineSettings:
    path: str | None
    meta_architecture: str
    feature_extractor: str
    num_classes: int
    resize: Resize
    width: int
    depthwise: bool
    heatmap_bias: float
    max_detections: int
    peak_kernel: int
    min_overlap: float
    object_center_weight: float
    scale_weight: float
    offset_weight: float
    focal_alpha: float
    focal_beta: float
    batch_size: int
    num_steps: int
    optimizer: Optimizer
    augmentations: list[Augmentation]
    gradient_clip: float
    fine_tune_checkpoint: str
    fine_tune_checkpoint_type: str
    train_input: InputSettings
    eval_input: InputSettings | None
    metrics_set: list[str]
    num_visualizations: int
    max_boxes_to_visualize: int
    min_score_threshold: float
    per_category_metrics: bool
    notes: list[str] = field(default_factory=list)
    substitutions: list[str] = field(default_factory=list)

    def model_spec(self):
        from .model import ModelSpec

        return ModelSpec(num_classes=self.num_classes, width=self.width,
                         depthwise=self.depthwise, heatmap_bias=self.heatmap_bias,
                         max_detections=self.max_detections, peak_kernel=self.peak_kernel,
                         flip_test=any(step.name == "random_horizontal_flip"
                                       for step in self.augmentations))

    def loss_weights(self):
        from .losses import LossWeights

        return LossWeights(object_center=self.object_center_weight, scale=self.scale_weight,
                           offset=self.offset_weight, focal_alpha=self.focal_alpha,
                           focal_beta=self.focal_beta)


def read_pipeline(path: str):
    """The parsed `TrainEvalPipelineConfig` message of a file."""
    from .schema import parse_pipeline

    try:
        with open(path, encoding="utf-8") as fileobj:
            text = fileobj.read()
    except OSError as exc:
        raise UsageError(f"cannot read the pipeline config: {exc.strerror or exc}",
                         file=path) from None
    except UnicodeDecodeError:
        raise UsageError("the pipeline config is not UTF-8 text", file=path) from None
    return parse_pipeline(text, path)


def load_settings(path: str) -> PipelineSettings:
    return settings_from_message(read_pipeline(path), path)


def settings_from_message(config, path: str | None = None) -> PipelineSettings:
    notes: list[str] = []
    substitutions: list[str] = []
    arch = config.model.WhichOneof("model")
    if arch is None:
        raise UsageError("pipeline config: no model { } section (center_net, ssd or "
                         "faster_rcnn)", file=path)
    if arch == "experimental_model":
        raise UsageError(f"pipeline config: experimental_model "
                         f"{config.model.experimental_model.name!r} has no number of classes or "
                         "input size the built-in trainer could use", file=path)
    model = getattr(config.model, arch)
    num_classes = model.num_classes
    if num_classes < 1:
        raise UsageError(f"pipeline config: model.{arch}.num_classes must be at least 1",
                         file=path)
    resize = _resize(model.image_resizer, arch, notes, path)

    # What the built-in CenterNet takes from the config, and what it substitutes.
    width_multiplier, depthwise = 1.0, False
    heatmap_bias, max_det, peak, overlap = -2.19, 100, 3, 0.7
    center_w, scale_w, offset_w = 1.0, 0.1, 1.0
    alpha, beta = 2.0, 4.0
    extractor = ""
    if arch == "center_net":
        fx = model.feature_extractor
        extractor = fx.type
        width_multiplier = fx.depth_multiplier if fx.HasField("depth_multiplier") else 1.0
        depthwise = fx.use_depthwise or model.use_depthwise
        if extractor != OWN_FEATURE_EXTRACTOR:
            substitutions.append(
                f"feature_extractor {extractor or '(none)'!r}: the built-in trainer trains its "
                f"own compact backbone ({OWN_FEATURE_EXTRACTOR!r}) in its place")
        center = model.object_center_params
        heatmap_bias = center.heatmap_bias_init
        max_det = center.max_box_predictions
        peak = center.peak_max_pool_kernel_size
        overlap = center.min_box_overlap_iou
        center_w = center.object_center_loss_weight
        loss_kind = center.classification_loss.WhichOneof("classification_loss")
        if loss_kind == "penalty_reduced_logistic_focal_loss":
            focal = center.classification_loss.penalty_reduced_logistic_focal_loss
            alpha = focal.alpha if focal.HasField("alpha") else alpha
            beta = focal.beta if focal.HasField("beta") else beta
        elif loss_kind:
            notes.append(f"object_center_params.classification_loss {loss_kind}: the built-in "
                         "trainer uses the penalty-reduced logistic focal loss")
        task = model.object_detection_task
        scale_w = task.scale_loss_weight * task.task_loss_weight
        offset_w = task.offset_loss_weight * task.task_loss_weight
        box_loss = task.localization_loss.WhichOneof("localization_loss")
        if box_loss not in (None, "l1_localization_loss"):
            notes.append(f"object_detection_task.localization_loss {box_loss}: the built-in "
                         "trainer uses L1 (l1_localization_loss)")
        if not model.HasField("object_detection_task"):
            notes.append("center_net has no object_detection_task: boxes are trained with the "
                         "OD API's default weights (scale 0.1, offset 1.0)")
        for task_field in ("keypoint_estimation_task", "mask_estimation_task",
                           "densepose_estimation_task", "track_estimation_task",
                           "temporal_offset_task", "deepmac_mask_estimation"):
            present = (len(getattr(model, task_field)) if task_field == "keypoint_estimation_task"
                       else model.HasField(task_field))
            if present:
                notes.append(f"center_net.{task_field} is ignored: the built-in trainer "
                             "detects boxes only")
    else:
        kind = (model.feature_extractor.type or "?")
        substitutions.append(
            f"meta-architecture {arch} ({kind}): the built-in trainer implements only "
            f"CenterNet, so it trains its compact CenterNet ({OWN_FEATURE_EXTRACTOR!r}) on the "
            "same data, classes, input size, batch size, steps and optimizer instead")
    width = max(8, int(round(BASE_WIDTH * width_multiplier / 8.0)) * 8)

    train = config.train_config
    optimizer = _optimizer(train.optimizer, notes, path)
    augmentations = _augmentations(train.data_augmentation_options, notes)
    if train.fine_tune_checkpoint_version == 1 and train.fine_tune_checkpoint:   # V1
        raise UsageError("pipeline config: fine_tune_checkpoint_version V1 (TF1 name-based "
                         "checkpoints) cannot be loaded by TF2 training; set "
                         "fine_tune_checkpoint_version: V2", file=path)
    if train.load_all_detection_checkpoint_vars:
        raise UsageError("pipeline config: load_all_detection_checkpoint_vars is not supported "
                         "in TF2 training (as in the OD API): remove it", file=path)
    fine_tune_type = train.fine_tune_checkpoint_type
    if train.fine_tune_checkpoint and not fine_tune_type:
        fine_tune_type = "detection" if train.from_detection_checkpoint else "classification"
    if fine_tune_type and fine_tune_type not in ("classification", "detection", "full"):
        raise UsageError(f"pipeline config: fine_tune_checkpoint_type {fine_tune_type!r}: the "
                         "built-in trainer knows classification, detection and full", file=path)
    if train.freeze_variables or train.update_trainable_variables:
        notes.append("freeze_variables / update_trainable_variables are ignored")

    if not config.HasField("train_input_reader"):
        raise UsageError("pipeline config: no train_input_reader { } section", file=path)
    train_input = _input(config.train_input_reader, "train_input_reader", path)
    eval_input = None
    if len(config.eval_input_reader):
        eval_input = _input(config.eval_input_reader[0], "eval_input_reader", path)
        if len(config.eval_input_reader) > 1:
            notes.append("only the first eval_input_reader is evaluated")

    evalc = config.eval_config
    metrics = list(evalc.metrics_set) or [COCO]
    from .metrics import KNOWN, SUPPORTED

    for name in metrics:
        if name not in KNOWN:
            raise UsageError(f"pipeline config: eval_config.metrics_set {name!r} is not a "
                             f"metric set of the OD API (known: {', '.join(SUPPORTED)}, ...)",
                             file=path)
        if name not in SUPPORTED:
            notes.append(f"metrics_set {name!r} is not computed by the built-in evaluator "
                         f"(it computes {', '.join(SUPPORTED)})")

    return PipelineSettings(
        path=path, meta_architecture=arch, feature_extractor=extractor,
        num_classes=num_classes, resize=resize, width=width, depthwise=depthwise,
        heatmap_bias=heatmap_bias, max_detections=max_det, peak_kernel=peak,
        min_overlap=overlap, object_center_weight=center_w, scale_weight=scale_w,
        offset_weight=offset_w, focal_alpha=alpha, focal_beta=beta,
        batch_size=int(train.batch_size), num_steps=int(train.num_steps),
        optimizer=optimizer, augmentations=augmentations,
        gradient_clip=float(train.gradient_clipping_by_norm),
        fine_tune_checkpoint=train.fine_tune_checkpoint,
        fine_tune_checkpoint_type=fine_tune_type, train_input=train_input,
        eval_input=eval_input, metrics_set=metrics,
        num_visualizations=int(evalc.num_visualizations),
        max_boxes_to_visualize=int(evalc.max_num_boxes_to_visualize),
        min_score_threshold=float(evalc.min_score_threshold),
        per_category_metrics=bool(evalc.include_metrics_per_category),
        notes=notes, substitutions=substitutions)


def _resize(resizer, arch: str, notes: list[str], path) -> Resize:
    from .model import INPUT_MULTIPLE

    methods = ("bilinear", "nearest", "bicubic", "area")
    kind = resizer.WhichOneof("image_resizer_oneof")
    if kind == "fixed_shape_resizer":
        r = resizer.fixed_shape_resizer
        height, width, keep, method = r.height, r.width, False, methods[r.resize_method]
    elif kind == "keep_aspect_ratio_resizer":
        r = resizer.keep_aspect_ratio_resizer
        height = width = r.max_dimension
        keep, method = True, methods[r.resize_method]
        if not r.pad_to_max_dimension:
            notes.append(f"keep_aspect_ratio_resizer: images are scaled to fit "
                         f"{r.max_dimension}x{r.max_dimension} and padded (as with "
                         "pad_to_max_dimension: true), so that they batch")
    elif kind is None:
        raise UsageError(f"pipeline config: model.{arch} has no image_resizer (the built-in "
                         "trainer needs fixed_shape_resizer or keep_aspect_ratio_resizer)",
                         file=path)
    else:
        raise UsageError(f"pipeline config: image_resizer {kind} is not supported by the "
                         "built-in trainer (use fixed_shape_resizer or "
                         "keep_aspect_ratio_resizer)", file=path)
    rounded_h = max(INPUT_MULTIPLE, -(-height // INPUT_MULTIPLE) * INPUT_MULTIPLE)
    rounded_w = max(INPUT_MULTIPLE, -(-width // INPUT_MULTIPLE) * INPUT_MULTIPLE)
    if (rounded_h, rounded_w) != (height, width):
        notes.append(f"input size {height}x{width} is rounded up to {rounded_h}x{rounded_w} "
                     f"(a multiple of {INPUT_MULTIPLE})")
    return Resize(rounded_h, rounded_w, keep_aspect=keep, method=method)


def _learning_rate(message, path) -> LearningRate:
    kind = message.WhichOneof("learning_rate")
    if kind is None:
        raise UsageError("pipeline config: the optimizer has no learning_rate { }", file=path)
    value = getattr(message, kind)
    if kind == "constant_learning_rate":
        return LearningRate("constant", {"learning_rate": value.learning_rate})
    if kind == "exponential_decay_learning_rate":
        return LearningRate("exponential_decay", {
            "initial_learning_rate": value.initial_learning_rate,
            "decay_steps": value.decay_steps, "decay_factor": value.decay_factor,
            "staircase": value.staircase, "burnin_learning_rate": value.burnin_learning_rate,
            "burnin_steps": value.burnin_steps, "min_learning_rate": value.min_learning_rate})
    if kind == "manual_step_learning_rate":
        schedule = [(s.step, s.learning_rate) for s in value.schedule]
        if [s for s, _ in schedule] != sorted({s for s, _ in schedule}):
            raise UsageError("pipeline config: manual_step_learning_rate steps must increase",
                             file=path)
        return LearningRate("manual_step", {"initial_learning_rate": value.initial_learning_rate,
                                            "schedule": schedule, "warmup": value.warmup})
    if value.warmup_steps > value.total_steps:
        raise UsageError("pipeline config: cosine_decay_learning_rate warmup_steps exceeds "
                         "total_steps", file=path)
    return LearningRate("cosine_decay", {
        "learning_rate_base": value.learning_rate_base, "total_steps": value.total_steps,
        "warmup_learning_rate": value.warmup_learning_rate,
        "warmup_steps": value.warmup_steps, "hold_base_rate_steps": value.hold_base_rate_steps})


def _optimizer(message, notes: list[str], path) -> Optimizer:
    kind = message.WhichOneof("optimizer")
    if kind is None:
        raise UsageError("pipeline config: train_config has no optimizer { }", file=path)
    value = getattr(message, kind)
    rate = _learning_rate(value.learning_rate, path)
    # use_moving_average is true by default in the OD API's proto, as here.
    average = float(message.moving_average_decay) if message.use_moving_average else None
    if average is not None and not 0.0 < average < 1.0:
        raise UsageError("pipeline config: optimizer.moving_average_decay must be between 0 "
                         "and 1", file=path)
    if kind == "adam_optimizer":
        return Optimizer("adam", rate, epsilon=value.epsilon, moving_average_decay=average)
    if kind == "momentum_optimizer":
        return Optimizer("momentum", rate, momentum=value.momentum_optimizer_value,
                         moving_average_decay=average)
    return Optimizer("rms_prop", rate, momentum=value.momentum_optimizer_value,
                     decay=value.decay, epsilon=value.epsilon, moving_average_decay=average)


def _augmentations(steps, notes: list[str]) -> list[Augmentation]:
    out: list[Augmentation] = []
    ignored: list[str] = []
    for step in steps:
        name = step.WhichOneof("preprocessing_step")
        if name in SUPPORTED_AUGMENTATIONS:
            value = getattr(step, name)
            params = {f.name: getattr(value, f.name) for f in value.DESCRIPTOR.fields
                      if not _is_repeated(f)}
            out.append(Augmentation(name, params))
        elif name:
            ignored.append(name)
    if ignored:
        notes.append("data_augmentation_options ignored by the built-in trainer: " +
                     ", ".join(dict.fromkeys(ignored)) + " (it applies " +
                     ", ".join(SUPPORTED_AUGMENTATIONS) + ")")
    return out


def _is_repeated(field) -> bool:
    flag = getattr(field, "is_repeated", None)        # protobuf >= 6; `label` before
    return bool(flag) if flag is not None else field.label == field.LABEL_REPEATED


def _input(reader, section: str, path) -> InputSettings:
    kind = reader.WhichOneof("input_reader")
    if kind != "tf_record_input_reader":
        raise UsageError(f"pipeline config: {section} needs tf_record_input_reader "
                         "{ input_path: ... }", file=path)
    paths = list(reader.tf_record_input_reader.input_path)
    if not paths:
        raise UsageError(f"pipeline config: {section} has no input_path", file=path)
    if not reader.label_map_path:
        raise UsageError(f"pipeline config: {section} has no label_map_path (the built-in "
                         "trainer resolves class text through it, as the OD API decoder does)",
                         file=path)
    return InputSettings(paths=paths, label_map_path=reader.label_map_path,
                         shuffle=reader.shuffle, shuffle_buffer_size=reader.shuffle_buffer_size,
                         num_readers=reader.num_readers,
                         sample_1_of_n=max(1, reader.sample_1_of_n_examples),
                         max_boxes=reader.max_number_of_boxes, name=reader.name)


def resolve(path: str) -> str:
    """A config path as the trainer opens it (relative to the current folder, like the OD API)."""
    return os.path.expanduser(path)
