"""Moving averages of the weights (the OD API's `optimizer.use_moving_average`).

A shadow copy of every trainable variable follows the training weights after each step,
`shadow = d * shadow + (1 - d) * weight` with `d = min(decay, (1 + n) / (10 + n))` at update n
(as `tf.train.ExponentialMovingAverage` with `num_updates`, so a short run is not held back by
its random start). The averaged weights are what gets evaluated and saved as the model: a
checkpoint holds them under `model`, and the training weights under `unaveraged_model` so that a
resumed run goes on from where training was. Evaluation, export and inference read `model` and
need to know nothing of this.
"""

from __future__ import annotations

import contextlib

CHECKPOINT_KEY = "unaveraged_model"


class WeightAverage:
    def __init__(self, variables, decay: float) -> None:
        import tensorflow as tf

        self.variables = list(variables)
        self.decay = float(decay)
        self.shadows = [tf.Variable(v, trainable=False, name="average") for v in self.variables]

    def update(self, step) -> None:
        """After the optimizer's step `step` (1-based, a tensor); inside tf.function too."""
        import tensorflow as tf

        n = tf.cast(step, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + n) / (10.0 + n))
        for shadow, variable in zip(self.shadows, self.variables):
            shadow.assign(decay * shadow + (1.0 - decay) * variable)

    def reset(self) -> None:
        """The average starts again from the current weights (after a fine-tune restore)."""
        for shadow, variable in zip(self.shadows, self.variables):
            shadow.assign(variable)

    def swap(self) -> None:
        import tensorflow as tf

        for shadow, variable in zip(self.shadows, self.variables):
            held = tf.convert_to_tensor(variable)
            variable.assign(shadow)
            shadow.assign(held)

    @contextlib.contextmanager
    def applied(self):
        """The model holds the averaged weights inside (to evaluate or save them)."""
        self.swap()
        try:
            yield
        finally:
            self.swap()

    def checkpoint_parts(self) -> dict:
        """What a checkpoint tracks besides the model: the shadows, saved while swapped in,
        hold the training weights then."""
        import tensorflow as tf

        return {CHECKPOINT_KEY: tf.train.Checkpoint(weights=self.shadows)}

    def after_restore(self, names) -> None:
        """A resumed checkpoint (its variable `names`) put the averages in the model: swap the
        training weights back, or, from a checkpoint without them, start the average from the
        restored weights."""
        if any(name.startswith(CHECKPOINT_KEY + "/") for name in names):
            self.swap()
        else:
            self.reset()
