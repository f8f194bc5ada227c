"""Checkpoints in the OD API's layout, and what is in them.

A model dir holds `ckpt-N.index`, `ckpt-N.data-*` and `checkpoint` (tf.train.CheckpointManager,
the last 7 kept). Besides the step, model and optimizer, every checkpoint stores the model's
identity (architecture, version, classes, width) as a string variable `tfrconv_model`, so that
resuming, fine-tuning, evaluating and exporting can say exactly what does not match instead of
failing on a shape deep inside TensorFlow.
"""

from __future__ import annotations

import json
import os

from ..api import UsageError

IDENTITY_KEY = "tfrconv_model/.ATTRIBUTES/VARIABLE_VALUE"
MAX_TO_KEEP = 7
# As the OD API 2.8.0's `restore_from_objects`: classification the backbone, detection the
# feature extractor (here backbone + neck, the neck being the OD API extractors' FPN), full all.
FINE_TUNE_PARTS = {
    "classification": ("backbone",),
    "detection": ("backbone", "neck"),
    "full": ("backbone", "neck", "box_head", "class_head"),
}


def resolve_checkpoint(path: str, *, what: str) -> str:
    """A checkpoint prefix from a prefix (models/x/ckpt-3) or a folder (its latest)."""
    import tensorflow as tf

    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise UsageError(f"{what} {path}: the folder holds no checkpoint (no 'checkpoint' "
                             "file with ckpt-N entries)")
        return latest
    if os.path.isfile(path + ".index"):
        return path
    if path.endswith(".index") and os.path.isfile(path):
        return path[: -len(".index")]
    raise UsageError(f"{what} {path}: no such checkpoint (expected {path}.index, or a folder "
                     "of checkpoints)")


def list_variables(prefix: str) -> dict[str, list[int]]:
    import tensorflow as tf

    try:
        return tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as exc:
        raise UsageError(f"{prefix}: cannot read the checkpoint: "
                         f"{getattr(exc, 'message', exc)}") from None


def read_identity(prefix: str) -> dict | None:
    """The identity stored in a checkpoint, or None for a checkpoint not written by us."""
    import tensorflow as tf

    if IDENTITY_KEY not in list_variables(prefix):
        return None
    value = tf.train.load_checkpoint(prefix).get_tensor(IDENTITY_KEY)
    try:
        return json.loads(value.decode("utf-8") if isinstance(value, bytes) else value)
    except ValueError:
        return None


def describe_foreign(prefix: str) -> str:
    names = sorted(n for n in list_variables(prefix) if n != "_CHECKPOINTABLE_OBJECT_GRAPH")
    sample = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
    object_based = "_CHECKPOINTABLE_OBJECT_GRAPH" in list_variables(prefix)
    kind = "an object-based TF2 checkpoint" if object_based else \
        "a name-based (TF1 or Keras) checkpoint"
    return f"{kind} with {len(names)} variables ({sample})"


# What makes two checkpoints the same model (a fine-tune may change num_classes).
MODEL_KEYS = ("architecture", "version", "num_classes", "width", "depthwise")


def mismatch(found: dict, expected: dict, keys) -> list[str]:
    return [f"{key} {found.get(key)!r} (expected {expected.get(key)!r})" for key in keys
            if found.get(key) != expected.get(key)]


def check_model_dir(model_dir: str, identity: dict) -> str | None:
    """The latest checkpoint of a model dir to resume from, after checking it is this model's."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(model_dir) if os.path.isdir(model_dir) else None
    if latest is None:
        return None
    found = read_identity(latest)
    if found is None:
        raise UsageError(f"--model-dir {model_dir} holds checkpoints that tfrconv's trainer did "
                         f"not write ({describe_foreign(latest)}): use a new --model-dir")
    problems = mismatch(found, identity, MODEL_KEYS)
    if problems:
        raise UsageError(f"--model-dir {model_dir} holds checkpoints of another model: "
                         f"{'; '.join(problems)}. Use a new --model-dir, or start from it with "
                         "fine_tune_checkpoint")
    return latest


def new_checkpoint(*, model, identity: dict, step=None, optimizer=None, extra=None):
    import tensorflow as tf

    parts = {"model": model,
             "tfrconv_model": tf.Variable(json.dumps(identity, sort_keys=True), trainable=False),
             **(extra or {})}
    if step is not None:
        parts["step"] = step
    if optimizer is not None:
        parts["optimizer"] = optimizer
    return tf.train.Checkpoint(**parts)


def restore_model(model, prefix: str, identity: dict, *, what: str) -> int:
    """Load a model's weights (for evaluation and export); returns the checkpoint's step."""
    import tensorflow as tf

    found = read_identity(prefix)
    if found is None:
        raise UsageError(f"{what} {prefix}: not a checkpoint of tfrconv's trainer "
                         f"({describe_foreign(prefix)})")
    problems = mismatch(found, identity, MODEL_KEYS)
    if problems:
        raise UsageError(f"{what} {prefix} does not match the pipeline config: "
                         f"{'; '.join(problems)}")
    step = tf.Variable(0, dtype=tf.int64)
    try:
        status = tf.train.Checkpoint(model=model, step=step).read(prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as exc:
        raise UsageError(f"{what} {prefix}: the checkpoint does not fit the model: "
                         f"{str(exc).splitlines()[0]}") from None
    return int(step.numpy())


def restore_fine_tune(model, path: str, kind: str, identity: dict, *, model_dir: str) -> str:
    """Initialise parts of a built model from another run's checkpoint, by role."""
    import tensorflow as tf

    prefix = resolve_checkpoint(path, what="fine_tune_checkpoint")
    if os.path.abspath(os.path.dirname(prefix)) == os.path.abspath(model_dir):
        raise UsageError(f"fine_tune_checkpoint {path} is inside --model-dir {model_dir}: "
                         "training resumes from there by itself; fine-tune into a new "
                         "--model-dir")
    found = read_identity(prefix)
    if found is None:
        raise UsageError(f"fine_tune_checkpoint {prefix}: not a checkpoint of tfrconv's "
                         f"trainer ({describe_foreign(prefix)}); the built-in trainer can "
                         "fine-tune only from its own checkpoints")
    keys = [key for key in MODEL_KEYS if key != "num_classes"]
    if kind == "full":
        keys.append("num_classes")
    problems = mismatch(found, identity, keys)
    if problems:
        hint = (" (fine_tune_checkpoint_type: detection restores the feature extractor only, "
                "so the number of classes may change)" if problems and kind == "full" and
                all(p.startswith("num_classes") for p in problems) else "")
        raise UsageError(f"fine_tune_checkpoint {prefix} ({kind}) does not match the model: "
                         f"{'; '.join(problems)}{hint}")
    parts = {name: getattr(model, name) for name in FINE_TUNE_PARTS[kind]}
    try:
        status = tf.train.Checkpoint(model=tf.train.Checkpoint(**parts)).read(prefix)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as exc:
        raise UsageError(f"fine_tune_checkpoint {prefix}: {str(exc).splitlines()[0]}") from None
    return prefix
