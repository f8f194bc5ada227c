"""Pascal VOC AP in numpy, checked by hand and against pycocotools on the same detections."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reach import branch, reaches

from tfrconv.trainer.metrics import (
    ImageResult,
    average_precision,
    coco_metrics,
    compute_metrics,
    iou_matrix,
    pascal_metrics,
)

CATS = {1: "circle", 2: "square"}


def image(gt, det, *, difficult=None, size=100, image_id="a"):
    """gt: [(class, ymin, xmin, ymax, xmax)], det: [(class, score, ymin, xmin, ymax, xmax)]."""
    gt = np.array(gt, dtype=np.float64).reshape(-1, 5)
    det = np.array(det, dtype=np.float64).reshape(-1, 6)
    return ImageResult(
        image_id=image_id, height=size, width=size, gt_boxes=gt[:, 1:], gt_classes=gt[:, 0],
        gt_difficult=np.array(difficult if difficult is not None else [0] * len(gt), bool),
        gt_is_crowd=np.zeros(len(gt), bool), det_boxes=det[:, 2:], det_scores=det[:, 1],
        det_classes=det[:, 0])


def test_iou_matrix():
    ious = iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 10], [0, 5, 10, 15], [20, 20, 30, 30]])
    assert ious.tolist() == [[1.0, pytest.approx(1 / 3), 0.0]]


def test_average_precision_all_points_by_hand():
    # Ranked: TP, FP, TP with 2 positives. Recall 0.5 at precision 1, recall 1 at precision 2/3:
    # the envelope gives 0.5 * 1 + 0.5 * 2/3.
    ap = average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1], bool), 2)
    assert ap == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision(np.array([0.9]), np.array([0], bool), 3) == 0.0
    assert math.isnan(average_precision(np.zeros(0), np.zeros(0, bool), 0))


def test_perfect_and_duplicate_detections():
    results = [image([(1, 10, 10, 50, 50), (2, 60, 60, 90, 90)],
                     [(1, 0.9, 10, 10, 50, 50), (2, 0.8, 60, 60, 90, 90),
                      (1, 0.7, 11, 11, 50, 50)])]        # duplicate: a false positive, ranked last
    metrics = pascal_metrics(results, CATS)
    assert metrics["PascalBoxes_Precision/mAP@0.5IOU"] == pytest.approx(1.0)
    assert metrics["PascalBoxes_PerformanceByCategory/AP@0.5IOU/circle"] == pytest.approx(1.0)


def test_difficult_boxes_are_neither_true_nor_false_positives():
    # The only circle detection hits a difficult box; the other circle is missed.
    gt = [(1, 10, 10, 50, 50), (1, 60, 60, 90, 90)]
    with_difficult = image(gt, [(1, 0.9, 10, 10, 50, 50)], difficult=[1, 0])
    metrics = pascal_metrics([with_difficult], {1: "circle"})
    assert metrics["PascalBoxes_Precision/mAP@0.5IOU"] == 0.0
    # Found the non-difficult one too: AP 1 although the difficult one also "scored".
    both = image(gt, [(1, 0.9, 10, 10, 50, 50), (1, 0.8, 60, 60, 90, 90)], difficult=[1, 0])
    assert pascal_metrics([both], {1: "circle"})["PascalBoxes_Precision/mAP@0.5IOU"] == 1.0
    # Only difficult ground truth: the class has no positives and is left out of the mean.
    only = image([(1, 10, 10, 50, 50), (2, 60, 60, 90, 90)],
                 [(2, 0.5, 60, 60, 90, 90)], difficult=[1, 0])
    metrics = pascal_metrics([only], CATS)
    assert math.isnan(metrics["PascalBoxes_PerformanceByCategory/AP@0.5IOU/circle"])
    assert metrics["PascalBoxes_Precision/mAP@0.5IOU"] == 1.0


def test_weighted_pascal_pools_classes():
    results = [image([(1, 10, 10, 50, 50), (2, 60, 60, 90, 90)],
                     [(1, 0.9, 10, 10, 50, 50), (2, 0.8, 0, 0, 5, 5)])]
    metrics = compute_metrics(results, CATS, ["weighted_pascal_voc_detection_metrics"])
    assert metrics == {"WeightedPascalBoxes_Precision/mAP@0.5IOU": pytest.approx(0.5)}


def random_scene(rng, image_id):
    """Disjoint ground-truth boxes (so the VOC and COCO matching rules cannot differ), jittered
    true detections, misses, false positives and wrong classes."""
    gt, det = [], []
    cells = rng.permutation(16)[: rng.integers(1, 6)]
    for cell in cells:
        y, x = divmod(int(cell), 4)
        top, left = y * 50 + rng.uniform(0, 10), x * 50 + rng.uniform(0, 10)
        box = [top, left, top + rng.uniform(15, 38), left + rng.uniform(15, 38)]
        cls = int(rng.integers(1, 3))
        gt.append([cls, *box])
        if rng.random() < 0.8:
            jitter = rng.normal(0, 4, size=4)
            wrong = rng.random() < 0.15
            det.append([3 - cls if wrong else cls, rng.random(), *(np.array(box) + jitter)])
    for _ in range(rng.integers(0, 4)):
        top, left = rng.uniform(0, 170, size=2)
        det.append([int(rng.integers(1, 3)), rng.random() * 0.8, top, left, top + 30, left + 30])
    difficult = (rng.random(len(gt)) < 0.15).astype(int)
    # COCO compares a detection with a crowd box (our difficult ones) by the share of the
    # detection inside it, VOC by IoU: leave out detections on which the two disagree.
    hard = np.array([g[1:] for g, d in zip(gt, difficult) if d]).reshape(-1, 4)
    if len(hard) and det:
        boxes = np.array([d[2:] for d in det])
        ious = iou_matrix(boxes, hard)
        ymin = np.maximum(boxes[:, None, 0], hard[None, :, 0])
        xmin = np.maximum(boxes[:, None, 1], hard[None, :, 1])
        ymax = np.minimum(boxes[:, None, 2], hard[None, :, 2])
        xmax = np.minimum(boxes[:, None, 3], hard[None, :, 3])
        inside = (np.clip(ymax - ymin, 0, None) * np.clip(xmax - xmin, 0, None) /
                  ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[:, None])
        ambiguous = ((ious < 0.5) & (inside >= 0.5)).any(axis=1)
        det = [d for d, skip in zip(det, ambiguous) if not skip]
    return image(gt, det, difficult=difficult, size=200, image_id=image_id), difficult


def coco_ap50_and_matches(results, categories):
    """pycocotools on the same data, with difficult boxes as crowd boxes (COCO's way of saying
    'matching them neither helps nor hurts'): AP@.50 and the per-detection matches."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, detections = [], [], []
    for index, r in enumerate(results, start=1):
        images.append({"id": index, "height": r.height, "width": r.width})
        for box, cls, hard in zip(r.gt_boxes, r.gt_classes, r.gt_difficult):
            y0, x0, y1, x1 = box
            annotations.append({"id": len(annotations) + 1, "image_id": index,
                                "category_id": int(cls), "bbox": [x0, y0, x1 - x0, y1 - y0],
                                "area": (x1 - x0) * (y1 - y0), "iscrowd": int(hard)})
        for box, score, cls in zip(r.det_boxes, r.det_scores, r.det_classes):
            y0, x0, y1, x1 = box
            detections.append([index, x0, y0, x1 - x0, y1 - y0, score, int(cls)])
    truth = COCO()
    truth.dataset = {"images": images, "annotations": annotations,
                     "categories": [{"id": c, "name": n} for c, n in categories.items()]}
    with contextlib.redirect_stdout(io.StringIO()):
        truth.createIndex()
        found = truth.loadRes(np.array(detections))
        evaluator = COCOeval(truth, found, "bbox")
        evaluator.params.iouThrs = np.array([0.5])
        evaluator.params.areaRng = [[0, 1e10]]
        evaluator.params.areaRngLbl = ["all"]
        evaluator.params.maxDets = [100]
        evaluator.evaluate()
        evaluator.accumulate()
    per_class = {}
    for k, cat in enumerate(evaluator.params.catIds):
        precision = evaluator.eval["precision"][0, :, k, 0, 0]
        per_class[cat] = float(precision.mean()) if (precision > -1).any() else math.nan
    # All-point AP from COCO's own matching: detections on crowd boxes are ignored, as VOC drops
    # matches to difficult boxes.
    scores, flags, positives = {c: [] for c in categories}, {c: [] for c in categories}, \
        dict.fromkeys(categories, 0)
    for entry in evaluator.evalImgs:
        if entry is None:
            continue
        cat = entry["category_id"]
        positives[cat] += int(np.sum(~np.asarray(entry["gtIgnore"], bool)))
        keep = ~entry["dtIgnore"][0].astype(bool)
        scores[cat].extend(np.asarray(entry["dtScores"])[keep])
        flags[cat].extend((entry["dtMatches"][0] > 0)[keep])
    all_point = {c: average_precision(np.array(scores[c]), np.array(flags[c], bool),
                                      positives[c]) for c in categories}
    return per_class, all_point


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pascal_ap_agrees_with_pycocotools(seed):
    rng = np.random.default_rng(seed)
    results = [random_scene(rng, str(i))[0] for i in range(25)]
    ours = pascal_metrics(results, CATS)
    coco_101, coco_all_point = coco_ap50_and_matches(results, CATS)
    for cat, name in CATS.items():
        ap = ours[f"PascalBoxes_PerformanceByCategory/AP@0.5IOU/{name}"]
        # Same matches → the same all-point AP, to rounding.
        assert ap == pytest.approx(coco_all_point[cat], abs=1e-9)
        # COCO samples the same envelope at 101 recall points: close, not equal.
        assert ap == pytest.approx(coco_101[cat], abs=0.03)


def test_coco_metrics_names_and_perfect_score():
    results = [image([(1, 10, 10, 50, 50), (2, 60, 60, 90, 90)],
                     [(1, 0.9, 10, 10, 50, 50), (2, 0.8, 60, 60, 90, 90)])]
    metrics = coco_metrics(results, CATS, per_category=True)
    assert metrics["DetectionBoxes_Precision/mAP"] == pytest.approx(1.0)
    assert metrics["DetectionBoxes_Precision/mAP@.50IOU"] == pytest.approx(1.0)
    assert metrics["DetectionBoxes_Recall/AR@100"] == pytest.approx(1.0)
    assert "DetectionBoxes_PerformanceByCategory/mAP/square" in metrics
    assert len([k for k in metrics if "PerformanceByCategory" not in k]) == 12


def test_no_detections_scores_zero():
    results = [image([(1, 10, 10, 50, 50)], [])]
    metrics = compute_metrics(results, CATS, ["pascal_voc_detection_metrics",
                                              "coco_detection_metrics"])
    assert metrics["PascalBoxes_Precision/mAP@0.5IOU"] == 0.0
    assert metrics["DetectionBoxes_Precision/mAP"] == 0.0


@reaches("AP bounded")
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), max_size=30),
       st.integers(0, 10))
def test_average_precision_is_a_probability(ranked, extra_positives):
    scores = np.array([s for s, _ in ranked])
    flags = np.array([f for _, f in ranked], bool)
    positives = int(flags.sum()) + extra_positives
    ap = average_precision(scores, flags, positives)
    if positives == 0:
        branch("no positives: NaN")
        assert math.isnan(ap)
    else:
        branch("AP bounded")
        assert 0.0 <= ap <= 1.0 + 1e-12
        if flags.all() and extra_positives == 0 and len(flags):
            assert ap == pytest.approx(1.0)


# -- known answers, worked out by hand ---------------------------------------------------------
def test_pascal_voc_ap_known_answer():
    # circle: 3 ground-truth boxes (A, B, C). Detections by score: A exactly (TP), a box on
    # nothing (FP), B exactly (TP); C is missed. Recall/precision after each: 1/3 @ 1,
    # 1/3 @ 1/2, 2/3 @ 2/3. All-point envelope: precision 1 up to recall 1/3, 2/3 up to 2/3:
    # AP = 1/3 * 1 + 1/3 * 2/3 = 5/9.
    # square: 2 ground-truth boxes. By score: a box with IoU 0.4 on the first (100 / 250: FP,
    # under 0.5), then the first exactly (TP), then the second exactly (TP). Recall/precision:
    # 0 @ 0, 1/2 @ 1/2, 1 @ 2/3. The envelope lifts precision at recall 1/2 to the 2/3 found
    # later: AP = 1/2 * 2/3 + 1/2 * 2/3 = 2/3 (without it, 1/4 + 1/3 = 7/12).
    # mAP = (5/9 + 2/3) / 2 = 11/18.
    circles = image([(1, 10, 10, 50, 50), (1, 60, 60, 90, 90), (1, 10, 60, 40, 90)],
                    [(1, 0.9, 10, 10, 50, 50), (1, 0.8, 0, 0, 5, 5), (1, 0.7, 60, 60, 90, 90)],
                    image_id="circles")
    squares = image([(2, 0, 0, 10, 10), (2, 50, 50, 80, 80)],
                    [(2, 0.95, 0, 0, 10, 25), (2, 0.6, 0, 0, 10, 10), (2, 0.5, 50, 50, 80, 80)],
                    image_id="squares")
    metrics = pascal_metrics([circles, squares], CATS)
    assert metrics["PascalBoxes_PerformanceByCategory/AP@0.5IOU/circle"] == \
        pytest.approx(5 / 9, abs=1e-12)
    assert metrics["PascalBoxes_PerformanceByCategory/AP@0.5IOU/square"] == \
        pytest.approx(2 / 3, abs=1e-12)
    assert metrics["PascalBoxes_Precision/mAP@0.5IOU"] == pytest.approx(11 / 18, abs=1e-12)


def test_coco_map_known_answer():
    # One class, two ground-truth boxes on a 200 x 200 image (y, x corners): G1 (0,0)-(100,100)
    # and G2 (150,100)-(190,180), 40 rows by 80 columns (not square, so x and y cannot swap
    # unnoticed). D1 (score 0.9) is G1 exactly (IoU 1); D2 (0.8) covers G2's 40 rows and 57.6
    # of its 80 columns: IoU 2304 / 3200 = 0.72.
    # COCO averages AP over the IoU thresholds 0.50, 0.55, ..., 0.95:
    # - 0.50 to 0.70 (5 thresholds): both match, precision 1 at every recall: AP 1.
    # - 0.75 to 0.95 (5 thresholds): D1 matches, D2 is a false positive: recall reaches only
    #   1/2, precision 1 up to it. Of COCO's 101 recall points 0, 0.01, ..., 1 the 51 up to 0.50
    #   get precision 1, the rest 0: AP 51/101.
    # mAP = (5 * 1 + 5 * 51/101) / 10 = 76/101; AP@.50 = 1; AP@.75 = 51/101.
    # Recall at each threshold: 1 (5 times), 1/2 (5 times): AR@100 = 3/4; AR@1 (one detection
    # per image, D1): 1/2 at every threshold.
    result = image([(1, 0, 0, 100, 100), (1, 150, 100, 190, 180)],
                   [(1, 0.9, 0, 0, 100, 100), (1, 0.8, 150, 100, 190, 157.6)], size=200)
    metrics = coco_metrics([result], {1: "circle"})
    assert metrics["DetectionBoxes_Precision/mAP"] == pytest.approx(76 / 101, abs=1e-9)
    assert metrics["DetectionBoxes_Precision/mAP@.50IOU"] == pytest.approx(1.0, abs=1e-9)
    assert metrics["DetectionBoxes_Precision/mAP@.75IOU"] == pytest.approx(51 / 101, abs=1e-9)
    assert metrics["DetectionBoxes_Recall/AR@100"] == pytest.approx(3 / 4, abs=1e-9)
    assert metrics["DetectionBoxes_Recall/AR@1"] == pytest.approx(1 / 2, abs=1e-9)
