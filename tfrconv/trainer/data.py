"""The tf.data input pipeline over OD-API records.

Records are parsed by the core's public input parsing (`tfrconv.tfdata`, also behind
`tfrconv.tf_dataset`, taken through `tfrconv.api`): the OD API decoder's feature spec, and
class ids from the class text through the label map, as the OD API decoder does (name or
display_name, falling back to `image/object/class/label` when a record has no class text);
unknown classes become -1 and are dropped. Then: decode, resize, augment, targets, pad, batch,
prefetch. Files are found with the same globbing as the OD API (each `input_path` a pattern);
GZIP-compressed records are detected and read too.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from ..api import UsageError, class_table, is_gzip, parse_example

RESIZE_METHODS = ("bilinear", "nearest", "bicubic", "area")   # the OD API's ResizeType order


@dataclass(frozen=True)
class Resize:
    height: int
    width: int
    keep_aspect: bool = False      # keep_aspect_ratio_resizer: scale to fit, pad bottom/right
    method: str = "bilinear"


@dataclass(frozen=True)
class Augmentation:
    name: str                       # the PreprocessingStep field name
    params: dict = field(default_factory=dict)


SUPPORTED_AUGMENTATIONS = ("random_horizontal_flip", "random_vertical_flip",
                           "random_adjust_brightness", "random_adjust_contrast",
                           "random_adjust_hue", "random_adjust_saturation",
                           "random_scale_crop_and_pad_to_square")


def match_files(patterns: list[str], *, what: str, config: str | None = None) -> list[str]:
    """Every file matched by the patterns, sorted; a clear error when one matches nothing."""
    if not patterns:
        raise UsageError(f"{what}: no input_path in the config", file=config)
    files: list[str] = []
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if not found:
            where = "" if os.path.isabs(pattern) else \
                f" (relative paths are read from the current folder, {os.getcwd()})"
            raise UsageError(f"{what}: input_path {pattern!r} matches no files{where}",
                             file=config)
        files.extend(f for f in found if os.path.isfile(f))
    return list(dict.fromkeys(files))


def compression_of(path: str) -> str:
    """The `compression_type` tf.data needs for a record file."""
    return "GZIP" if is_gzip(path) else ""


def decode_and_resize(encoded, resize: Resize):
    """Image bytes → float32 [H, W, 3] of the model's input size, plus the part of it that holds
    the image (1, 1 unless keep_aspect padded it)."""
    import tensorflow as tf

    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    return resize_image(image, resize)


def resize_image(image, resize: Resize):
    import tensorflow as tf

    method = {"bilinear": "bilinear", "nearest": "nearest", "bicubic": "bicubic",
              "area": "area"}[resize.method]
    image = tf.cast(image, tf.float32)
    if not resize.keep_aspect:
        out = tf.image.resize(image, [resize.height, resize.width], method=method)
        return tf.clip_by_value(out, 0.0, 255.0), tf.ones([2])
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.minimum(resize.height / shape[0], resize.width / shape[1])
    new = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), 1)
    out = tf.image.resize(image, new, method=method)
    out = tf.image.pad_to_bounding_box(out, 0, 0, resize.height, resize.width)
    fraction = tf.cast(new, tf.float32) / tf.constant([resize.height, resize.width], tf.float32)
    return tf.clip_by_value(out, 0.0, 255.0), fraction


def augment(image, boxes, augmentations: list[Augmentation], seed):
    """The supported OD API preprocessing steps, in config order, on a 0..255 image.

    Random draws are stateless, from `seed` (int64 [2]) folded with the step's position, so an
    example's augmentation depends on the run's seed and the example's place in the stream
    only, never on which parallel worker ran it first.
    """
    import tensorflow as tf

    for position, step in enumerate(augmentations):
        p = step.params
        draw_seed = tf.random.experimental.stateless_fold_in(seed, position)

        def uniform(low, high, draw_seed=draw_seed, draw=0):
            if draw:      # a step's further draws; its first is the one it always made
                draw_seed = tf.random.experimental.stateless_fold_in(draw_seed, draw)
            return tf.random.stateless_uniform([], draw_seed, low, high)

        if step.name in ("random_horizontal_flip", "random_vertical_flip"):
            horizontal = step.name == "random_horizontal_flip"
            flip = uniform(0.0, 1.0) < p.get("probability", 0.5)
            image = tf.cond(flip, lambda im=image, h=horizontal: (
                tf.image.flip_left_right(im) if h else tf.image.flip_up_down(im)),
                lambda im=image: im)
            if horizontal:
                flipped = tf.stack([boxes[:, 0], 1.0 - boxes[:, 3], boxes[:, 2],
                                    1.0 - boxes[:, 1]], axis=1)
            else:
                flipped = tf.stack([1.0 - boxes[:, 2], boxes[:, 1], 1.0 - boxes[:, 0],
                                    boxes[:, 3]], axis=1)
            boxes = tf.where(flip, flipped, boxes)
        elif step.name == "random_adjust_brightness":
            delta = uniform(-p.get("max_delta", 0.2), p.get("max_delta", 0.2))
            image = image + delta * 255.0
        elif step.name == "random_adjust_contrast":
            factor = uniform(p.get("min_delta", 0.8), p.get("max_delta", 1.25))
            image = tf.image.adjust_contrast(image, factor)
        elif step.name == "random_adjust_hue":
            delta = uniform(-p.get("max_delta", 0.02), p.get("max_delta", 0.02))
            image = tf.image.adjust_hue(image / 255.0, delta) * 255.0
        elif step.name == "random_adjust_saturation":
            factor = uniform(p.get("min_delta", 0.8), p.get("max_delta", 1.25))
            image = tf.image.adjust_saturation(image / 255.0, factor) * 255.0
        elif step.name == "random_scale_crop_and_pad_to_square":
            image, boxes = scale_crop_and_pad(
                image, boxes, uniform(p.get("scale_min", 0.1), p.get("scale_max", 2.0)),
                uniform(0.0, 1.0, draw=1), uniform(0.0, 1.0, draw=2))
    return tf.clip_by_value(image, 0.0, 255.0), boxes


def scale_crop_and_pad(image, boxes, scale, where_y, where_x):
    """The OD API's random_scale_crop_and_pad_to_square on an image already at the model's input
    size (which stands for its output_size): resize by `scale`, crop a random window of the input
    size (`where_*` in 0..1 place it) from an enlarged image, pad a reduced one at the bottom and
    right with zeros; boxes follow and are clipped to the image (those left empty are dropped
    with the other empty boxes when the targets are built)."""
    import tensorflow as tf

    static_shape = image.shape
    size = tf.shape(image)[:2]
    scaled = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) * scale), tf.int32), 1)
    image = tf.image.resize(image, scaled)
    spare = tf.maximum(scaled - size, 0)
    offset = tf.cast(tf.round(tf.cast(spare, tf.float32) * tf.stack([where_y, where_x])),
                     tf.int32)
    kept = tf.minimum(scaled, size)
    image = tf.slice(image, tf.concat([offset, [0]], 0), tf.concat([kept, [-1]], 0))
    image = tf.image.pad_to_bounding_box(image, 0, 0, size[0], size[1])
    # The crop and pad lose the static shape; without it the model is traced for any image
    # size, and its convolutions ran at half the speed (docs/performance.md).
    image.set_shape(static_shape)
    scaled_f, size_f = tf.cast(scaled, tf.float32), tf.cast(size, tf.float32)
    shift = tf.tile(tf.cast(offset, tf.float32) / size_f, [2])
    boxes = boxes * tf.tile(scaled_f / size_f, [2]) - shift
    return tf.clip_by_value(image, 0.0, 255.0), tf.clip_by_value(boxes, 0.0, 1.0)


CACHE_LIMIT_BYTES = 1 << 30   # decoded, resized training images kept in memory up to this size


def count_records(files: list[str], *, stop_after: int) -> int | None:
    """How many records the (uncompressed) files hold, from the framing alone; None for GZIP
    files or a damaged frame. Counting stops once it passes `stop_after`."""
    import struct

    count = 0
    for path in files:
        if is_gzip(path):
            return None
        size = os.path.getsize(path)
        with open(path, "rb") as fileobj:
            offset = 0
            while offset < size:
                header = fileobj.read(12)
                if len(header) < 12:
                    return None
                (length,) = struct.unpack("<Q", header[:8])
                offset += 16 + length
                fileobj.seek(offset)
                count += 1
                if count > stop_after:
                    return count
            if offset != size:
                return None
    return count


def record_dataset(files: list[str], *, shuffle: bool, seed: int, num_readers: int = 4,
                   shuffle_buffer: int = 2048, sample_1_of_n: int = 1):
    import tensorflow as tf

    compressions = {compression_of(f) for f in files}
    compression = compressions.pop() if len(compressions) == 1 else None
    if compression is None:
        raise UsageError("the input files mix GZIP-compressed and plain records: " +
                         ", ".join(files[:4]))
    names = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        names = names.shuffle(len(files), seed=seed)
    cycle = max(1, min(num_readers, len(files)))
    parallel = {"num_parallel_calls": cycle, "deterministic": True} if cycle > 1 else {}
    records = names.interleave(lambda f: tf.data.TFRecordDataset(f, compression_type=compression),
                               cycle_length=cycle, **parallel)
    if sample_1_of_n > 1:
        records = records.shard(sample_1_of_n, 0)
    if shuffle:
        records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return records


def train_dataset(files, label_map, *, resize: Resize, batch_size: int, num_classes: int,
                  max_boxes: int, augmentations: list[Augmentation], min_overlap: float,
                  seed: int = 0, shuffle: bool = True, shuffle_buffer: int = 2048,
                  num_readers: int = 4, sample_1_of_n: int = 1):
    """An endless dataset of (images [B,H,W,3] float 0..255, CenterNet targets).

    Images are decoded and resized once into uint8; when all of them fit in `CACHE_LIMIT_BYTES`
    they are kept in memory (shuffled afresh each epoch) instead of being decoded every epoch.
    The order, the augmentation and hence every batch depend on `seed` alone.
    """
    import tensorflow as tf

    from .model import OUTPUT_STRIDE
    from .targets import centernet_targets

    table = class_table(label_map)
    grid = (resize.height // OUTPUT_STRIDE, resize.width // OUTPUT_STRIDE)
    per_image = resize.height * resize.width * 3
    count = count_records(files, stop_after=CACHE_LIMIT_BYTES // per_image)
    cache = count is not None and 0 < count * per_image <= CACHE_LIMIT_BYTES * sample_1_of_n

    def decode(serialized):
        example = parse_example(serialized, table)
        image, fraction = decode_and_resize(example["encoded"], resize)
        boxes = example["boxes"] * tf.tile(fraction, [2])[None, :]
        return tf.cast(tf.round(image), tf.uint8), boxes, example["ids"]

    def prepare(index, decoded):
        image, boxes, ids = decoded
        example_seed = tf.stack([tf.constant(seed, tf.int64), index])
        image, boxes = augment(tf.cast(image, tf.float32), boxes, augmentations, example_seed)
        targets = centernet_targets(boxes, ids - 1, grid_height=grid[0],
                                    grid_width=grid[1], num_classes=num_classes,
                                    max_boxes=max_boxes, min_overlap=min_overlap)
        return image, targets

    records = record_dataset(files, shuffle=shuffle and not cache, seed=seed,
                             num_readers=num_readers, shuffle_buffer=shuffle_buffer,
                             sample_1_of_n=sample_1_of_n)
    decoded = records.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        decoded = decoded.cache()
        if shuffle:
            decoded = decoded.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return (decoded.repeat().enumerate()
            .map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


def eval_dataset(files, label_map, *, resize: Resize, max_boxes: int, batch_size: int = 16,
                 sample_1_of_n: int = 1, num_classes: int | None = None,
                 min_overlap: float = 0.7):
    """One pass of (images, ground truth) batches; ground truth padded to max_boxes, with the
    CenterNet targets under "targets" when num_classes is given (for eval losses)."""
    import tensorflow as tf

    from .model import OUTPUT_STRIDE
    from .targets import centernet_targets

    table = class_table(label_map)

    def prepare(serialized):
        example = parse_example(serialized, table)
        raw = tf.io.decode_image(example["encoded"], channels=3, expand_animations=False)
        image, fraction = resize_image(raw, resize)
        count = tf.minimum(tf.shape(example["boxes"])[0], max_boxes)
        pad = max_boxes - count

        def padded(values, rank2=False):
            values = values[:max_boxes]
            return tf.pad(values, [[0, pad], [0, 0]] if rank2 else [[0, pad]])

        truth = {
            "boxes": tf.ensure_shape(padded(example["boxes"], True), [max_boxes, 4]),
            "ids": tf.ensure_shape(padded(example["ids"]), [max_boxes]),
            "difficult": tf.ensure_shape(padded(example["difficult"]), [max_boxes]),
            "is_crowd": tf.ensure_shape(padded(example["is_crowd"]), [max_boxes]),
            "num_boxes": count,
            "fraction": fraction,
            "source_id": example["source_id"],
            "filename": example["filename"],
            "image_shape": tf.shape(raw)[:2],
        }
        if num_classes is not None:
            boxes = example["boxes"] * tf.tile(fraction, [2])[None, :]
            truth["targets"] = centernet_targets(
                boxes, example["ids"] - 1, grid_height=resize.height // OUTPUT_STRIDE,
                grid_width=resize.width // OUTPUT_STRIDE, num_classes=num_classes,
                max_boxes=max_boxes, min_overlap=min_overlap)
        return image, truth

    records = record_dataset(files, shuffle=False, seed=0, sample_1_of_n=sample_1_of_n)
    return (records.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))
