"""Detection metrics with the OD API's names: Pascal VOC AP@0.5 (numpy) and COCO (pycocotools).

Pascal follows `PascalDetectionEvaluator`: per class, detections of every image sorted by score
are matched greedily to the ground-truth box they overlap most; a match to a difficult box counts
neither as true nor as false positive, difficult boxes are left out of the recall denominator,
and AP is the area under the monotone precision envelope at every recall step (the VOC2010+
"all points" rule). Classes without ground truth are left out of the mean.

No TensorFlow here: the evaluator takes numpy arrays per image.
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass, field

PASCAL = "pascal_voc_detection_metrics"
WEIGHTED_PASCAL = "weighted_pascal_voc_detection_metrics"
COCO = "coco_detection_metrics"
SUPPORTED = (PASCAL, WEIGHTED_PASCAL, COCO)
# Every metric set the OD API knows (eval_util.EVAL_METRICS_CLASS_DICT); the rest are not ours.
KNOWN = SUPPORTED + (
    "coco_keypoint_metrics", "coco_mask_metrics", "coco_panoptic_metrics", "lvis_mask_metrics",
    "oid_challenge_detection_metrics", "oid_challenge_segmentation_metrics",
    "oid_V2_detection_metrics", "pascal_voc_instance_segmentation_metrics",
    "precision_at_recall_detection_metrics",
    "weighted_pascal_voc_instance_segmentation_metrics")

COCO_KEYS = (  # COCOeval.stats[0..11], with the OD API's names
    "Precision/mAP", "Precision/mAP@.50IOU", "Precision/mAP@.75IOU",
    "Precision/mAP (small)", "Precision/mAP (medium)", "Precision/mAP (large)",
    "Recall/AR@1", "Recall/AR@10", "Recall/AR@100",
    "Recall/AR@100 (small)", "Recall/AR@100 (medium)", "Recall/AR@100 (large)")


@dataclass
class ImageResult:
    """Ground truth and detections of one image; boxes are [ymin, xmin, ymax, xmax] in pixels."""

    image_id: str
    height: int
    width: int
    gt_boxes: object            # np.ndarray [N, 4]
    gt_classes: object          # np.ndarray [N] label-map ids
    gt_difficult: object        # np.ndarray [N] bool
    gt_is_crowd: object         # np.ndarray [N] bool
    det_boxes: object           # np.ndarray [K, 4]
    det_scores: object          # np.ndarray [K]
    det_classes: object         # np.ndarray [K] label-map ids
    gt_area: object = None      # optional np.ndarray [N] (image/object/area)
    extra: dict = field(default_factory=dict)


def iou_matrix(a, b):
    """IoU of every box in a [N, 4] with every box in b [M, 4] (yxyx)."""
    import numpy as np

    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ymin = np.maximum(a[:, None, 0], b[None, :, 0])
    xmin = np.maximum(a[:, None, 1], b[None, :, 1])
    ymax = np.minimum(a[:, None, 2], b[None, :, 2])
    xmax = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ymax - ymin, 0, None) * np.clip(xmax - xmin, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_image(det_boxes, det_scores, gt_boxes, gt_difficult, iou_threshold=0.5):
    """True/false positive flags for one image and class, detections best first.

    Returns (scores, is_tp) for the detections that count: those matched to a difficult box are
    dropped.
    """
    import numpy as np

    order = np.argsort(-np.asarray(det_scores), kind="stable")
    scores = np.asarray(det_scores, dtype=np.float64)[order]
    if len(gt_boxes) == 0:
        return scores, np.zeros(len(scores), dtype=bool)
    ious = iou_matrix(np.asarray(det_boxes)[order], gt_boxes)
    best = ious.argmax(axis=1)
    best_iou = ious[np.arange(len(order)), best]
    taken = np.zeros(len(gt_boxes), dtype=bool)
    is_tp = np.zeros(len(order), dtype=bool)
    keep = np.ones(len(order), dtype=bool)
    for i in range(len(order)):
        if best_iou[i] < iou_threshold:
            continue
        gt = best[i]
        if gt_difficult[gt]:
            keep[i] = False
        elif not taken[gt]:
            taken[gt] = True
            is_tp[i] = True
    return scores[keep], is_tp[keep]


def average_precision(scores, is_tp, num_positives):
    """All-point interpolated AP of detections (any order) against num_positives boxes."""
    import numpy as np

    if num_positives == 0:
        return math.nan
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.asarray(is_tp, dtype=np.float64)[order]
    cum_tp = np.cumsum(tp)
    cum_fp = np.cumsum(1.0 - tp)
    recall = np.concatenate([[0.0], cum_tp / num_positives, [1.0]])
    precision = np.concatenate([[0.0], cum_tp / (cum_tp + cum_fp), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.where(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def pascal_metrics(results: list[ImageResult], categories: dict[int, str], *,
                   weighted: bool = False, iou_threshold: float = 0.5) -> dict[str, float]:
    """`PascalBoxes_*` (or `WeightedPascalBoxes_*`) metrics over all images."""
    import numpy as np

    per_class: dict[int, tuple[list, list, int]] = {cid: ([], [], 0) for cid in categories}
    for result in results:
        gt_classes = np.asarray(result.gt_classes)
        det_classes = np.asarray(result.det_classes)
        difficult = np.asarray(result.gt_difficult, dtype=bool)
        for cid in categories:
            gt_mask = gt_classes == cid
            det_mask = det_classes == cid
            scores, flags, count = per_class[cid]
            count += int(np.sum(gt_mask & ~difficult))
            if det_mask.any():
                s, tp = match_image(np.asarray(result.det_boxes)[det_mask],
                                    np.asarray(result.det_scores)[det_mask],
                                    np.asarray(result.gt_boxes)[gt_mask], difficult[gt_mask],
                                    iou_threshold)
                scores.append(s)
                flags.append(tp)
            per_class[cid] = (scores, flags, count)

    prefix = "WeightedPascalBoxes" if weighted else "PascalBoxes"
    key = f"@{iou_threshold:g}IOU"
    metrics: dict[str, float] = {}
    if weighted:
        scores = [s for cid in per_class for s in per_class[cid][0]]
        flags = [f for cid in per_class for f in per_class[cid][1]]
        total = sum(per_class[cid][2] for cid in per_class)
        ap = average_precision(_cat(scores), _cat(flags), total)
        metrics[f"{prefix}_Precision/mAP{key}"] = 0.0 if math.isnan(ap) else ap
        return metrics
    aps = []
    for cid, name in categories.items():
        scores, flags, count = per_class[cid]
        ap = average_precision(_cat(scores), _cat(flags), count)
        metrics[f"{prefix}_PerformanceByCategory/AP{key}/{name}"] = ap
        if not math.isnan(ap):
            aps.append(ap)
    metrics[f"{prefix}_Precision/mAP{key}"] = float(np.mean(aps)) if aps else 0.0
    return dict(sorted(metrics.items(), key=lambda kv: "PerformanceByCategory" in kv[0]))


def _cat(parts):
    import numpy as np

    return np.concatenate(parts) if parts else np.zeros(0)


def coco_metrics(results: list[ImageResult], categories: dict[int, str], *,
                 per_category: bool = False, max_detections: int = 100) -> dict[str, float]:
    """`DetectionBoxes_*` metrics from pycocotools' COCOeval (difficult is not a COCO notion;
    is_crowd is honoured)."""
    import numpy as np
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, detections = [], [], []
    for index, result in enumerate(results, start=1):
        images.append({"id": index, "height": int(result.height), "width": int(result.width)})
        for j, (box, cid) in enumerate(zip(np.asarray(result.gt_boxes),
                                           np.asarray(result.gt_classes))):
            if int(cid) not in categories:
                continue
            ymin, xmin, ymax, xmax = (float(v) for v in box)
            area = (float(result.gt_area[j]) if result.gt_area is not None
                    and result.gt_area[j] > 0 else (ymax - ymin) * (xmax - xmin))
            annotations.append({"id": len(annotations) + 1, "image_id": index,
                                "category_id": int(cid), "area": area,
                                "bbox": [xmin, ymin, xmax - xmin, ymax - ymin],
                                "iscrowd": int(bool(result.gt_is_crowd[j]))})
        order = np.argsort(-np.asarray(result.det_scores), kind="stable")[:max_detections]
        for k in order:
            ymin, xmin, ymax, xmax = (float(v) for v in result.det_boxes[k])
            detections.append([index, xmin, ymin, xmax - xmin, ymax - ymin,
                               float(result.det_scores[k]), int(result.det_classes[k])])

    names = {f"DetectionBoxes_{key}": 0.0 for key in COCO_KEYS}
    if not annotations or not detections:
        return names
    truth = COCO()
    truth.dataset = {"images": images, "annotations": annotations,
                     "categories": [{"id": cid, "name": name} for cid, name in categories.items()]}
    with contextlib.redirect_stdout(io.StringIO()):
        truth.createIndex()
        found = truth.loadRes(np.asarray(detections, dtype=np.float64))
        evaluator = COCOeval(truth, found, "bbox")
        evaluator.params.maxDets = [1, 10, max_detections]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    metrics = {f"DetectionBoxes_{key}": float(value)
               for key, value in zip(COCO_KEYS, evaluator.stats)}
    if per_category:
        precision = evaluator.eval["precision"]      # [T, R, K, A, M]
        for k, cid in enumerate(evaluator.params.catIds):
            values = precision[:, :, k, 0, -1]
            values = values[values > -1]
            metrics[f"DetectionBoxes_PerformanceByCategory/mAP/{categories[cid]}"] = (
                float(values.mean()) if values.size else -1.0)
    return metrics


def compute_metrics(results: list[ImageResult], categories: dict[int, str],
                    metric_sets: list[str], *, per_category: bool = False) -> dict[str, float]:
    """Every supported metric set asked for, merged into one dict."""
    metrics: dict[str, float] = {}
    for name in metric_sets:
        if name == PASCAL:
            metrics.update(pascal_metrics(results, categories))
        elif name == WEIGHTED_PASCAL:
            metrics.update(pascal_metrics(results, categories, weighted=True))
        elif name == COCO:
            metrics.update(coco_metrics(results, categories, per_category=per_category))
    return metrics
