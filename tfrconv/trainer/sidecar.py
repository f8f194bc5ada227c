"""The OD API's sidecar evaluator (`model_main_tf2.py --checkpoint_dir`): evaluate each new
checkpoint of a training run as it appears; stop when the run's last step has been evaluated or
no new checkpoint came for `timeout` seconds."""

from __future__ import annotations

import sys

from .config import PipelineSettings

POLL_SECONDS = 5


def evaluate_continuously(settings: PipelineSettings, *, checkpoint_dir: str, model_dir: str,
                          timeout: int = 3600, num_train_steps: int | None = None,
                          sample_1_of_n: int | None = None, stream=None) -> list[dict]:
    import tensorflow as tf

    from .checkpoints import restore_model
    from .evaluate import Evaluator, eval_summary_dir, headline
    from .model import build_detector
    from .train import total_steps

    stream = stream or sys.stderr
    last_step = total_steps(settings, num_train_steps)
    evaluator = Evaluator(settings, summary_dir=eval_summary_dir(model_dir, settings),
                          sample_1_of_n=sample_1_of_n)
    spec = settings.model_spec()
    model = build_detector(spec)
    model(tf.zeros([1, settings.resize.height, settings.resize.width, 3]))
    results = []
    print(f"tfrconv train: waiting for checkpoints in {checkpoint_dir} (evaluation mode; "
          f"stops after {timeout} s without a new one)", file=stream, flush=True)
    for prefix in tf.train.checkpoints_iterator(checkpoint_dir, min_interval_secs=POLL_SECONDS,
                                                timeout=timeout):
        step = restore_model(model, prefix, spec.identity(), what="checkpoint")
        metrics = evaluator.evaluate(model, step)
        print(f"{prefix} (step {step}): {headline(metrics)}", file=stream, flush=True)
        results.append({"checkpoint": prefix, "step": step, "metrics": metrics})
        if last_step is not None and step >= last_step:
            break
    return results
