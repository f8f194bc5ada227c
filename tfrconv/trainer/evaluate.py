"""Evaluation as the OD API does it: one pass over the eval records, metrics and eval losses as
scalars in `model_dir/eval/<eval_input_reader.name>`, side-by-side images (detections | ground
truth) for the first `num_visualizations` images, and the same numbers returned as a dict.

Boxes are compared in pixels of the original images (the OD API scales them back before
evaluating), ground truth of classes the label map does not know is left out, as the OD API's
decoder drops it.
"""

from __future__ import annotations

import os
import time

from .config import PipelineSettings

EVAL_BATCH = 16       # only speed depends on it: every image is evaluated on its own


class Evaluator:
    def __init__(self, settings: PipelineSettings, *, summary_dir: str | None = None,
                 sample_1_of_n: int | None = None) -> None:
        from ..api import read_label_map_file
        from .checks import check_inputs
        from .data import match_files

        if settings.eval_input is None:
            from ..api import UsageError

            raise UsageError("the pipeline config has no eval_input_reader to evaluate on",
                             file=settings.path)
        self.settings = settings
        reader = settings.eval_input
        self.files = match_files(reader.paths, what="eval_input_reader", config=settings.path)
        self.label_map = read_label_map_file(reader.label_map_path)
        self.notes = check_inputs(patterns=reader.paths, files=self.files,
                                  label_map=self.label_map, num_classes=settings.num_classes,
                                  what="eval_input_reader", config=settings.path)
        self.categories = {item.id: item.text for item in self.label_map
                           if 0 < item.id <= settings.num_classes}
        self.sample_1_of_n = sample_1_of_n or reader.sample_1_of_n
        self.summary_dir = summary_dir
        self._writer = None
        self._predict = None

    def _dataset(self):
        from .data import eval_dataset

        s = self.settings
        return eval_dataset(self.files, self.label_map, resize=s.resize,
                            max_boxes=s.eval_input.max_boxes, batch_size=EVAL_BATCH,
                            sample_1_of_n=self.sample_1_of_n, num_classes=s.num_classes,
                            min_overlap=s.min_overlap)

    def _predictor(self, model):
        import tensorflow as tf

        from .losses import centernet_losses
        from .model import decode, with_mirror

        spec = self.settings.model_spec()
        weights = self.settings.loss_weights()
        size = [None, self.settings.resize.height, self.settings.resize.width, 3]

        @tf.function(input_signature=[tf.TensorSpec(size, tf.float32)], reduce_retracing=True)
        def predict(images):
            heat, box = model(images, training=False)       # the eval losses' outputs
            merged = with_mirror(model, images, heat, box) if spec.flip_test else (heat, box)
            return heat, box, decode(*merged, spec)

        def run(images, targets):
            heat, box, detections = predict(images)
            losses = centernet_losses(heat, box, targets, weights)
            return detections, losses

        return run

    def evaluate(self, model, step: int) -> dict[str, float]:
        """Metrics of a built model on the eval records (written as summaries when asked)."""
        import numpy as np

        from .metrics import ImageResult, compute_metrics

        started = time.perf_counter()
        predict = self._predictor(model)
        results: list[ImageResult] = []
        loss_sums: dict[str, float] = {}
        batches = 0
        pictures = []
        for images, truth in self._dataset():
            (boxes, scores, classes), losses = predict(images, truth["targets"])
            batches += 1
            for key, value in losses.items():
                loss_sums[key] = loss_sums.get(key, 0.0) + float(value)
            boxes, scores, classes = boxes.numpy(), scores.numpy(), classes.numpy() + 1
            fraction = truth["fraction"].numpy()
            for i in range(len(boxes)):
                height, width = (int(v) for v in truth["image_shape"][i].numpy())
                count = int(truth["num_boxes"][i])
                scale = np.array([height, width, height, width], dtype=np.float64)
                ids = truth["ids"][i, :count].numpy()
                known = (ids >= 1) & (ids <= self.settings.num_classes)
                det = np.clip(boxes[i] / np.tile(fraction[i], 2), 0.0, 1.0)
                results.append(ImageResult(
                    image_id=truth["source_id"][i].numpy().decode("utf-8", "replace") or
                    str(len(results)), height=height, width=width,
                    gt_boxes=truth["boxes"][i, :count].numpy()[known] * scale,
                    gt_classes=ids[known],
                    gt_difficult=truth["difficult"][i, :count].numpy()[known].astype(bool),
                    gt_is_crowd=truth["is_crowd"][i, :count].numpy()[known].astype(bool),
                    det_boxes=det * scale, det_scores=scores[i], det_classes=classes[i]))
                if len(pictures) < self.settings.num_visualizations:
                    pictures.append(self._side_by_side(
                        images[i].numpy(), boxes[i], scores[i], classes[i],
                        truth["boxes"][i, :count].numpy()[known] * np.tile(fraction[i], 2),
                        ids[known]))
        if not results:
            from ..api import UsageError

            raise UsageError("the eval records hold no examples", file=self.settings.path)
        metrics = compute_metrics(results, self.categories, self.settings.metrics_set,
                                  per_category=self.settings.per_category_metrics)
        for key, total in loss_sums.items():
            metrics[key] = total / batches
        self.last_seconds = time.perf_counter() - started
        self.last_images = len(results)
        if self.summary_dir:
            self._write(metrics, pictures, step)
        return metrics

    def _side_by_side(self, image, boxes, scores, classes, gt_boxes, gt_classes):
        from .visualize import draw_boxes, side_by_side

        picture = image.clip(0, 255).astype("uint8")
        names = self.categories
        left = draw_boxes(picture, boxes, classes, scores, names=names,
                          min_score=self.settings.min_score_threshold,
                          max_boxes=self.settings.max_boxes_to_visualize)
        right = draw_boxes(picture, gt_boxes, gt_classes, names=names)
        return side_by_side(left, right)

    def _write(self, metrics: dict[str, float], pictures, step: int) -> None:
        import tensorflow as tf

        if self._writer is None:
            os.makedirs(self.summary_dir, exist_ok=True)
            self._writer = tf.summary.create_file_writer(self.summary_dir)
        with self._writer.as_default(step=step):
            for key, value in metrics.items():
                if value == value:           # NaN: a class without ground truth
                    tf.summary.scalar(key, value)
            for index, picture in enumerate(pictures):
                tf.summary.image(f"eval_side_by_side_{index}_0", picture[None], step=step)
        self._writer.flush()


def eval_summary_dir(model_dir: str, settings: PipelineSettings) -> str:
    name = settings.eval_input.name if settings.eval_input else ""
    return os.path.join(model_dir, "eval", name) if name else os.path.join(model_dir, "eval")


def headline(metrics: dict[str, float]) -> str:
    """The main numbers in one line."""
    parts = []
    for key, label in (("PascalBoxes_Precision/mAP@0.5IOU", "Pascal mAP@0.5"),
                       ("WeightedPascalBoxes_Precision/mAP@0.5IOU", "weighted Pascal mAP@0.5"),
                       ("DetectionBoxes_Precision/mAP", "COCO mAP"),
                       ("DetectionBoxes_Precision/mAP@.50IOU", "COCO mAP@.50"),
                       ("Loss/total_loss", "eval loss")):
        if key in metrics:
            parts.append(f"{label} {metrics[key]:.3f}")
    return ", ".join(parts)
