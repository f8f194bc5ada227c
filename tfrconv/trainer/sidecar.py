"""The OD API's sidecar evaluator (`model_main_tf2.py --checkpoint_dir`, or `tfrconv evaluate
--watch`): evaluate each new checkpoint of a training run as it appears.

Stop rule, as the OD API's `eval_continuously`: stop once a checkpoint at or past the run's last
step has been evaluated, or when no new checkpoint came for `timeout` seconds. The last step is
`--num_train_steps` when given, else the step count a `--time-budget` run chose
(`time_budget.json` in the checkpoint folder, read again at each checkpoint since it is written
after the warm-up), else the config's `num_steps`. A run that the time budget's hard stop ended
early says so in that file, and its last checkpoint ends the watch too.
"""

from __future__ import annotations

import sys

from .config import PipelineSettings

POLL_SECONDS = 5


def last_step(settings: PipelineSettings, checkpoint_dir: str,
              num_train_steps: int | None) -> int | None:
    from .budget import read_choice
    from .train import total_steps

    if num_train_steps is not None:
        return total_steps(settings, num_train_steps)
    choice = read_choice(checkpoint_dir)
    if choice is not None:
        return choice.stopped_early_at or choice.num_train_steps
    return total_steps(settings, None)


def evaluate_continuously(settings: PipelineSettings, *, checkpoint_dir: str, model_dir: str,
                          timeout: int = 3600, num_train_steps: int | None = None,
                          sample_1_of_n: int | None = None, stream=None) -> list[dict]:
    import tensorflow as tf

    from .checkpoints import restore_model
    from .evaluate import Evaluator, eval_summary_dir, headline
    from .model import build_detector

    stream = stream or sys.stderr
    evaluator = Evaluator(settings, summary_dir=eval_summary_dir(model_dir, settings),
                          sample_1_of_n=sample_1_of_n)
    spec = settings.model_spec()
    model = build_detector(spec)
    model(tf.zeros([1, settings.resize.height, settings.resize.width, 3]))
    results = []
    print(f"tfrconv: waiting for checkpoints in {checkpoint_dir} (evaluation mode; stops after "
          f"the last step's checkpoint, or {timeout} s without a new one)", file=stream,
          flush=True)
    for prefix in tf.train.checkpoints_iterator(checkpoint_dir, min_interval_secs=POLL_SECONDS,
                                                timeout=timeout):
        step = restore_model(model, prefix, spec.identity(), what="checkpoint")
        metrics = evaluator.evaluate(model, step)
        print(f"{prefix} (step {step}): {headline(metrics)}", file=stream, flush=True)
        results.append({"checkpoint": prefix, "step": step, "metrics": metrics})
        end = last_step(settings, checkpoint_dir, num_train_steps)
        if end is not None and step >= end:
            break
    return results
