"""CenterNet losses: penalty-reduced focal loss on the heatmap, L1 on the box values.

Both are normalised by the number of boxes in the batch, as the OD API's CenterNet does. The
keys follow the OD API: `Loss/object_center`, `Loss/box/scale`, `Loss/box/offset`, summed into
`Loss/classification_loss` and `Loss/localization_loss`, and `Loss/total_loss`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LossWeights:
    object_center: float = 1.0
    scale: float = 0.1
    offset: float = 1.0
    focal_alpha: float = 2.0
    focal_beta: float = 4.0


def centernet_losses(heatmap_logits, box_pred, targets, weights: LossWeights):
    """A dict of scalar losses for a batch (see the module docstring for the keys)."""
    import tensorflow as tf

    heat_target = targets["heatmap"]
    mask = targets["box_mask"]
    num_boxes = tf.maximum(tf.reduce_sum(mask), 1.0)
    num_objects = tf.maximum(tf.reduce_sum(tf.cast(tf.equal(heat_target, 1.0), tf.float32)), 1.0)

    positive = tf.cast(tf.equal(heat_target, 1.0), tf.float32)
    log_p = tf.math.log_sigmoid(heatmap_logits)
    log_not_p = tf.math.log_sigmoid(-heatmap_logits)
    p = tf.exp(log_p)
    pos_term = -log_p * tf.pow(1.0 - p, weights.focal_alpha) * positive
    neg_term = (-log_not_p * tf.pow(p, weights.focal_alpha) *
                tf.pow(1.0 - heat_target, weights.focal_beta) * (1.0 - positive))
    center = tf.reduce_sum(pos_term + neg_term) / num_objects

    batch = tf.shape(box_pred)[0]
    flat = tf.reshape(box_pred, [batch, -1, tf.shape(box_pred)[-1]])
    picked = tf.gather(flat, targets["indices"], batch_dims=1)         # [B, M, 4]
    error = tf.abs(picked - targets["box_targets"]) * mask[..., None]
    scale = tf.reduce_sum(error[..., :2]) / num_boxes
    offset = tf.reduce_sum(error[..., 2:]) / num_boxes

    classification = weights.object_center * center
    localization = weights.scale * scale + weights.offset * offset
    return {
        "Loss/object_center": center,
        "Loss/box/scale": scale,
        "Loss/box/offset": offset,
        "Loss/classification_loss": classification,
        "Loss/localization_loss": localization,
        "Loss/total_loss": classification + localization,
    }
