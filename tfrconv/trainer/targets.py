"""CenterNet training targets for one image, built inside the tf.data pipeline.

For every box: a Gaussian bump on its class's heatmap at the grid cell holding its centre (peak
exactly 1, spread from the box size so that a detection within the bump still overlaps the box
by `min_overlap` IoU), and at that cell the box's height and width plus the centre's sub-cell
offset (also at the neighbouring cells). The box values are kept sparse: the flat cell index,
four numbers and a mask per slot.
"""

from __future__ import annotations


def overlap_radius(height, width, min_overlap):
    """The largest corner displacement (grid cells) that keeps IoU ≥ min_overlap, for tensors.

    Three ways a detection can be off: both corners shifted outwards/inwards together, shrunk
    inside the box, or grown around it. Each gives a quadratic in the displacement r; the
    smallest of the three admissible roots is the bound.
    """
    import tensorflow as tf

    m = min_overlap
    hw = height * width
    # shifted: r^2 - (h+w) r + hw (1-m)/(1+m) = 0, smaller root
    b1 = height + width
    r1 = (b1 - tf.sqrt(tf.maximum(b1 * b1 - 4.0 * hw * (1 - m) / (1 + m), 0.0))) / 2.0
    # shrunk: 4 r^2 - 2 (h+w) r + (1-m) hw = 0, smaller root
    b2 = 2.0 * (height + width)
    r2 = (b2 - tf.sqrt(tf.maximum(b2 * b2 - 16.0 * (1 - m) * hw, 0.0))) / 8.0
    # grown: 4m r^2 + 2m (h+w) r - (1-m) hw = 0, positive root
    b3 = 2.0 * m * (height + width)
    r3 = (-b3 + tf.sqrt(b3 * b3 + 16.0 * m * (1 - m) * hw)) / (8.0 * m)
    return tf.minimum(tf.minimum(r1, r2), r3)


def centernet_targets(boxes, classes, *, grid_height: int, grid_width: int, num_classes: int,
                      max_boxes: int, min_overlap: float = 0.7, spread: int = 1):
    """boxes: normalised [N, 4] ymin, xmin, ymax, xmax; classes: 0-based int32 [N], -1 = drop.

    Returns a dict: heatmap [H, W, C] float32, indices [M] int32, box_targets [M, 4] float32
    (height, width and the centre's offset from the cell, in grid cells) and box_mask [M]
    float32, with M = max_boxes * (2 * spread + 1)^2 slots.
    """
    import tensorflow as tf

    boxes = tf.convert_to_tensor(boxes, tf.float32)
    classes = tf.cast(classes, tf.int32)
    valid = ((classes >= 0) & (classes < num_classes) & (boxes[:, 2] > boxes[:, 0]) &
             (boxes[:, 3] > boxes[:, 1]))
    boxes = tf.boolean_mask(boxes, valid)[:max_boxes]
    classes = tf.boolean_mask(classes, valid)[:max_boxes]

    gh, gw = float(grid_height), float(grid_width)
    height = (boxes[:, 2] - boxes[:, 0]) * gh
    width = (boxes[:, 3] - boxes[:, 1]) * gw
    cy = tf.clip_by_value((boxes[:, 0] + boxes[:, 2]) * 0.5 * gh, 0.0, gh - 1e-3)
    cx = tf.clip_by_value((boxes[:, 1] + boxes[:, 3]) * 0.5 * gw, 0.0, gw - 1e-3)
    py, px = tf.floor(cy), tf.floor(cx)

    radius = tf.maximum(tf.floor(overlap_radius(height, width, min_overlap)), 0.0)
    sigma = (2.0 * radius + 1.0) / 6.0
    ys = tf.range(grid_height, dtype=tf.float32)
    xs = tf.range(grid_width, dtype=tf.float32)
    denom = 2.0 * sigma * sigma
    gy = tf.exp(-tf.square(ys[None, :] - py[:, None]) / denom[:, None])   # [N, H]
    gx = tf.exp(-tf.square(xs[None, :] - px[:, None]) / denom[:, None])   # [N, W]
    bumps = gy[:, :, None] * gx[:, None, :]                                 # [N, H, W]
    per_class = tf.math.unsorted_segment_max(bumps, classes, num_classes)  # [C, H, W]
    heatmap = tf.transpose(tf.maximum(per_class, 0.0), [1, 2, 0])

    # Box values at the centre cell and its neighbours within `spread` cells: a peak found one
    # cell off still reads a trained box, and the box head gets more examples per object.
    offsets = tf.range(-spread, spread + 1, dtype=tf.float32)
    dy, dx = tf.meshgrid(offsets, offsets, indexing="ij")
    dy, dx = tf.reshape(dy, [-1]), tf.reshape(dx, [-1])
    ny = tf.clip_by_value(py[:, None] + dy[None, :], 0.0, gh - 1)          # [N, K]
    nx = tf.clip_by_value(px[:, None] + dx[None, :], 0.0, gw - 1)
    size = tf.shape(dy)[0]
    values = tf.stack([tf.tile(height[:, None], [1, size]), tf.tile(width[:, None], [1, size]),
                       cy[:, None] - ny, cx[:, None] - nx], axis=-1)
    indices = tf.reshape(tf.cast(ny, tf.int32) * grid_width + tf.cast(nx, tf.int32), [-1])
    values = tf.reshape(values, [-1, 4])
    slots = max_boxes * (2 * spread + 1) ** 2
    pad = slots - tf.shape(indices)[0]
    return {
        "heatmap": tf.ensure_shape(heatmap, [grid_height, grid_width, num_classes]),
        "indices": tf.ensure_shape(tf.pad(indices, [[0, pad]]), [slots]),
        "box_targets": tf.ensure_shape(tf.pad(values, [[0, pad], [0, 0]]), [slots, 4]),
        "box_mask": tf.ensure_shape(tf.pad(tf.ones_like(indices, tf.float32), [[0, pad]]),
                                    [slots]),
    }
