"""The config's optimizer and learning-rate schedule as a Keras 3 optimizer."""

from __future__ import annotations

from .config import LearningRate, Optimizer


def schedule_tensor(rate: LearningRate, step):
    """The schedule at `step` (a tensor) with TensorFlow ops; mirrors `LearningRate.__call__`."""
    import math

    import tensorflow as tf

    p = rate.params
    step = tf.cast(step, tf.float32)
    if rate.kind == "constant":
        return tf.constant(p["learning_rate"], tf.float32)
    if rate.kind == "exponential_decay":
        exponent = (step - p["burnin_steps"]) / float(max(p["decay_steps"], 1))
        if p["staircase"]:
            exponent = tf.floor(exponent)
        decayed = tf.maximum(p["initial_learning_rate"] * tf.pow(p["decay_factor"], exponent),
                             p["min_learning_rate"])
        return tf.where(step < p["burnin_steps"], p["burnin_learning_rate"], decayed)
    if rate.kind == "manual_step":
        boundaries = [float(s) for s, _ in p["schedule"]]
        rates = [p["initial_learning_rate"]] + [r for _, r in p["schedule"]]
        index = tf.reduce_sum(tf.cast(step >= tf.constant(boundaries or [math.inf]), tf.int32))
        value = tf.gather(tf.constant(rates, tf.float32), index)
        if p["warmup"] and boundaries:
            ramp = rates[0] + (rates[1] - rates[0]) * step / boundaries[0]
            value = tf.where(step < boundaries[0], ramp, value)
        return value
    base, total = p["learning_rate_base"], float(p["total_steps"])
    warmup, hold = float(p["warmup_steps"]), float(p["hold_base_rate_steps"])
    span = max(total - warmup - hold, 1.0)
    value = 0.5 * base * (1.0 + tf.cos(math.pi * (step - warmup - hold) / span))
    value = tf.where(step < warmup + hold, base, value)
    if warmup > 0:
        ramp = p["warmup_learning_rate"] + (base - p["warmup_learning_rate"]) * step / warmup
        value = tf.where(step < warmup, ramp, value)
    return tf.where(step > total, 0.0, value)


def build_optimizer(spec: Optimizer, *, clip_norm: float = 0.0, stretch=None):
    """`stretch` (a float variable, optional) maps a training step to the config schedule's
    step, so that a time-budgeted run ends its schedule at the step count it chose."""
    import keras
    import tensorflow as tf

    class ConfigSchedule(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            if stretch is not None:
                step = tf.cast(step, tf.float32) * stretch
            return schedule_tensor(spec.learning_rate, step)

        def get_config(self):
            return {"kind": spec.learning_rate.kind}

    extra = {"global_clipnorm": clip_norm} if clip_norm > 0 else {}
    schedule = ConfigSchedule()
    if spec.kind == "adam":
        return keras.optimizers.Adam(schedule, epsilon=spec.epsilon, **extra)
    if spec.kind == "momentum":
        return keras.optimizers.SGD(schedule, momentum=spec.momentum, **extra)
    return keras.optimizers.RMSprop(schedule, rho=spec.decay, momentum=spec.momentum,
                                    epsilon=spec.epsilon, **extra)
