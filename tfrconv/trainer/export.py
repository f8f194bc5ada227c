"""`tfrconv export`: a SavedModel with the OD API's `serving_default` signature.

Like `exporter_main_v2.py --input_type image_tensor`: the output directory gets `saved_model/`,
`checkpoint/ckpt-0.*` and `pipeline.config` (plus the label map, for `tfrconv infer`). The
signature takes a uint8 `input_tensor` [1, H, W, 3] of any size and returns float32
`detection_boxes` [1, N, 4] (normalised ymin, xmin, ymax, xmax of the input image),
`detection_scores` [1, N], `detection_classes` [1, N] (label-map ids, 1-based) and
`num_detections` [1], best detections first; calling the loaded object directly works too, as in
the OD API's inference examples.
"""

from __future__ import annotations

import os
import shutil

from ..api import UsageError
from .config import PipelineSettings

INPUT_TYPES = ("image_tensor",)


def build_serving_module(model, settings: PipelineSettings):
    import tensorflow as tf

    from .data import resize_image
    from .model import decode, predict

    spec = settings.model_spec()
    resize = settings.resize

    class DetectionModule(tf.Module):
        def __init__(self, detector) -> None:
            super().__init__(name="tfrconv_detector")
            self.model = detector

        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8,
                                                    name="input_tensor")])
        def __call__(self, input_tensor):
            image, fraction = resize_image(input_tensor[0], resize)
            boxes, scores, classes = decode(*predict(self.model, image[None], spec), spec)
            boxes = tf.clip_by_value(boxes / tf.tile(fraction, [2])[None, None, :], 0.0, 1.0)
            count = tf.cast(tf.shape(scores)[1], tf.float32)
            return {
                "detection_boxes": tf.cast(boxes, tf.float32),
                "detection_scores": tf.cast(scores, tf.float32),
                "detection_classes": tf.cast(classes + 1, tf.float32),
                "num_detections": tf.reshape(count, [1]),
            }

    return DetectionModule(model)


def export(settings: PipelineSettings, checkpoint: str, output_directory: str) -> dict:
    """Write the export; returns what was written."""
    import tensorflow as tf

    from .checkpoints import new_checkpoint, resolve_checkpoint, restore_model
    from .model import build_detector

    prefix = resolve_checkpoint(checkpoint, what="--trained-checkpoint-dir")
    spec = settings.model_spec()
    model = build_detector(spec)
    model(tf.zeros([1, settings.resize.height, settings.resize.width, 3]))
    step = restore_model(model, prefix, spec.identity(), what="--trained-checkpoint-dir")

    os.makedirs(output_directory, exist_ok=True)
    saved_model = os.path.join(output_directory, "saved_model")
    staging = saved_model + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    module = build_serving_module(model, settings)
    tf.saved_model.save(module, staging,
                        signatures={"serving_default": module.__call__.get_concrete_function()})
    shutil.rmtree(saved_model, ignore_errors=True)
    os.replace(staging, saved_model)

    checkpoint_dir = os.path.join(output_directory, "checkpoint")
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    manager = tf.train.CheckpointManager(new_checkpoint(model=model, identity=spec.identity()),
                                         checkpoint_dir, max_to_keep=1)
    manager.save(checkpoint_number=0)
    written = {"saved_model": saved_model, "checkpoint": os.path.join(checkpoint_dir, "ckpt-0"),
               "step": step, "source": prefix}
    if settings.path:
        target = os.path.join(output_directory, "pipeline.config")
        if os.path.abspath(settings.path) != os.path.abspath(target):
            shutil.copyfile(settings.path, target)
        written["pipeline_config"] = target
    label_map = (settings.eval_input or settings.train_input).label_map_path
    if os.path.isfile(label_map):
        target = os.path.join(output_directory, "label_map.pbtxt")
        shutil.copyfile(label_map, target)
        written["label_map"] = target
    return written


def check_input_type(input_type: str) -> None:
    if input_type not in INPUT_TYPES:
        raise UsageError(f"--input-type {input_type}: the built-in exporter writes "
                         f"{', '.join(INPUT_TYPES)} (uint8 [1, H, W, 3]) only")
