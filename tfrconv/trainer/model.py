"""The compact CenterNet detector (Keras 3): backbone → neck → class heatmap and box heads.

"Objects as points": every object is the peak of a per-class heatmap at its box centre, with the
box height/width and the sub-pixel offset of the centre regressed at that peak. The output grid
has stride 4. The parts are separate sub-models so that fine-tuning can restore them by role, as
the OD API does: `backbone` (classification), everything but `class_head` (detection), all
(full).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ARCHITECTURE = "tfrconv-centernet"
ARCHITECTURE_VERSION = 1
OUTPUT_STRIDE = 4
INPUT_MULTIPLE = 16         # the backbone halves the size four times
BOX_CHANNELS = 4            # height, width, y offset, x offset (output-grid units)


@dataclass(frozen=True)
class ModelSpec:
    """What defines the network's variables, plus its decoding settings."""

    num_classes: int
    width: int = 32
    depthwise: bool = False
    heatmap_bias: float = -2.19
    max_detections: int = 100
    peak_kernel: int = 3
    flip_test: bool = False     # inference also looks at the mirror image (see `with_mirror`)

    def identity(self) -> dict:
        """The fields a checkpoint must share with a model to be restored into it."""
        return {"architecture": ARCHITECTURE, "version": ARCHITECTURE_VERSION,
                "num_classes": self.num_classes, "width": self.width,
                "depthwise": self.depthwise}

    def as_dict(self) -> dict:
        return asdict(self)


def build_detector(spec: ModelSpec):
    import keras

    class CenterNetDetector(keras.Model):
        def __init__(self, spec: ModelSpec) -> None:
            super().__init__(name="centernet")
            self.spec = spec
            self.backbone = _backbone(spec)
            self.neck = _neck(spec)
            self.class_head = _head(spec, spec.num_classes, "class_head",
                                    bias=spec.heatmap_bias)
            self.box_head = _head(spec, BOX_CHANNELS, "box_head", bias=0.0)

        def call(self, images, training=False):
            """images: float [B, H, W, 3] in 0..255 → (heatmap logits, box regressions)."""
            x = images * (1.0 / 127.5) - 1.0
            features = self.neck(self.backbone(x, training=training), training=training)
            return (self.class_head(features, training=training),
                    self.box_head(features, training=training))

    model = CenterNetDetector(spec)
    return model


def _conv(x, filters, stride, name, depthwise):
    import keras
    from keras import layers

    if depthwise and stride == 1:
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False,
                                   name=name + "_sepconv")(x)
    else:
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                          kernel_initializer=keras.initializers.HeNormal(), name=name + "_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=name + "_bn")(x)
    return layers.ReLU(name=name + "_relu")(x)


def _backbone(spec: ModelSpec):
    """Strided convolutions to stride 16; returns the stride 4, 8 and 16 features."""
    import keras

    w, dw = spec.width, spec.depthwise
    inputs = keras.Input((None, None, 3), name="image")
    x = _conv(inputs, w // 2, 2, "stem", dw)
    x = _conv(x, w, 2, "s4_down", dw)
    c4 = _conv(x, w, 1, "s4", dw)
    x = _conv(c4, 2 * w, 2, "s8_down", dw)
    c8 = _conv(x, 2 * w, 1, "s8", dw)
    x = _conv(c8, 4 * w, 2, "s16_down", dw)
    c16 = _conv(x, 4 * w, 1, "s16", dw)
    return keras.Model(inputs, [c4, c8, c16], name="backbone")


def _neck(spec: ModelSpec):
    """Top-down path back to stride 4: upsample, add the lateral feature, convolve."""
    import keras
    from keras import layers

    w, dw = spec.width, spec.depthwise
    c4 = keras.Input((None, None, w), name="c4")
    c8 = keras.Input((None, None, 2 * w), name="c8")
    c16 = keras.Input((None, None, 4 * w), name="c16")
    x = layers.Conv2D(2 * w, 1, name="top_lateral")(c16)
    x = layers.UpSampling2D(2, name="up8")(x)
    x = layers.Add(name="merge8")([x, layers.Conv2D(2 * w, 1, name="lateral8")(c8)])
    x = _conv(x, 2 * w, 1, "p8", dw)
    x = layers.Conv2D(w, 1, name="reduce4")(x)
    x = layers.UpSampling2D(2, name="up4")(x)
    x = layers.Add(name="merge4")([x, layers.Conv2D(w, 1, name="lateral4")(c4)])
    x = _conv(x, w, 1, "p4", dw)
    return keras.Model([c4, c8, c16], x, name="neck")


def _head(spec: ModelSpec, channels: int, name: str, *, bias: float):
    import keras
    from keras import layers

    inputs = keras.Input((None, None, spec.width), name=name + "_features")
    x = layers.Conv2D(spec.width, 3, padding="same", activation="relu", name=name + "_conv")(
        inputs)
    x = layers.Conv2D(channels, 1, bias_initializer=keras.initializers.Constant(bias),
                      name=name + "_out")(x)
    return keras.Model(inputs, x, name=name)


def with_mirror(model, images, heatmap_logits, box):
    """Test-time flip: the heatmap and box maps of `images` merged with those of their mirror
    images, mapped back (probabilities and box values averaged; a mirrored x offset `o` from
    cell `x'` is `1 - o` from cell `x`). For models trained with random horizontal flips, where
    it costs a second forward pass and gained 0.024 Pascal mAP@0.5 and 0.040 COCO mAP on the
    shapes benchmark (docs/performance.md)."""
    import tensorflow as tf

    mirror_heat, mirror_box = model(images[:, :, ::-1], training=False)
    mirror_heat, mirror_box = mirror_heat[:, :, ::-1], mirror_box[:, :, ::-1]
    p = (tf.sigmoid(heatmap_logits) + tf.sigmoid(mirror_heat)) * 0.5
    mirror_box = tf.concat([mirror_box[..., :3], 1.0 - mirror_box[..., 3:]], axis=-1)
    return tf.math.log(p) - tf.math.log1p(-p), (box + mirror_box) * 0.5


def predict(model, images, spec: ModelSpec):
    """Inference: the heatmap logits and box maps (test-time flip merged when the spec asks)."""
    heat, box = model(images, training=False)
    return with_mirror(model, images, heat, box) if spec.flip_test else (heat, box)


def decode(heatmap_logits, box, spec: ModelSpec):
    """Peaks of the heatmap → the top `max_detections` boxes of each image.

    Returns normalised [ymin, xmin, ymax, xmax] boxes [B, K, 4], scores [B, K] and 0-based
    classes [B, K] (int32), best first.
    """
    import tensorflow as tf

    heat = tf.sigmoid(heatmap_logits)
    shape = tf.shape(heat)
    batch, height, width = shape[0], shape[1], shape[2]
    classes = spec.num_classes
    pooled = tf.nn.max_pool2d(heat, spec.peak_kernel, 1, "SAME")
    peaks = tf.where(tf.equal(heat, pooled), heat, tf.zeros_like(heat))
    flat = tf.reshape(peaks, [batch, -1])
    k = tf.minimum(spec.max_detections, tf.shape(flat)[1])
    scores, index = tf.math.top_k(flat, k=k)
    cls = index % classes
    cell = index // classes
    y = tf.cast(cell // width, tf.float32)
    x = tf.cast(cell % width, tf.float32)
    values = tf.gather(tf.reshape(box, [batch, -1, BOX_CHANNELS]), cell, batch_dims=1)
    size_h = tf.nn.relu(values[..., 0])
    size_w = tf.nn.relu(values[..., 1])
    cy = y + values[..., 2]
    cx = x + values[..., 3]
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    boxes = tf.stack([(cy - size_h / 2) / h, (cx - size_w / 2) / w,
                      (cy + size_h / 2) / h, (cx + size_w / 2) / w], axis=-1)
    return tf.clip_by_value(boxes, 0.0, 1.0), scores, cls
