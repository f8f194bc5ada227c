"""The training loop, shaped like the OD API's `model_lib_v2.train_loop`.

Checkpoint `ckpt-1` at step 0, then every `checkpoint_every_n` steps and at the end (the last 7
kept); a re-run resumes from the latest. Steps run in `tf.function` chunks; after each chunk the
losses, `learning_rate` and `steps_per_sec` go to `model_dir/train` and the progress line. With
`eval_on_checkpoint`, each checkpoint is also evaluated, with `eval_every_n` the model every N
steps and at the end (time not counted as training time). `time_budget` sizes the run to a
number of seconds (budget.py). Ctrl-C saves the step actually reached and returns normally, with
`interrupted` set. `ckpt-1` is the untrained model at step 0, as in the OD API: the sidecar
evaluator's first point.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from ..api import TfrconvError, UsageError
from .config import PipelineSettings

CHUNK = 10                 # steps per tf.function call
LOSS_KEYS = ("Loss/object_center", "Loss/box/scale", "Loss/box/offset",
             "Loss/classification_loss", "Loss/localization_loss", "Loss/total_loss")


@dataclass
class TrainOptions:
    model_dir: str
    num_train_steps: int | None = None
    checkpoint_every_n: int = 1000
    strict: bool = False
    eval_on_checkpoint: bool = False
    eval_every_n: int | None = None      # evaluate the model every N steps (and at the end)
    time_budget: float | None = None     # seconds of training: sizes the run (budget.py)
    seed: int = 0
    deterministic: bool = False          # TensorFlow's op determinism (see docs/performance.md)
    progress: bool = True
    log_every_n: int = 100
    stream: object = None
    clock: Callable[[], float] = time.perf_counter   # what training time is measured with


@dataclass
class TrainResult:
    model_dir: str
    start_step: int
    step: int
    train_seconds: float
    last_losses: dict[str, float]
    checkpoints: list[str] = field(default_factory=list)
    evaluations: list[dict] = field(default_factory=list)   # step, train_seconds, metrics
    latest_checkpoint: str | None = None     # the model dir's latest, new or not
    interrupted: bool = False                # Ctrl-C: stopped and saved at `step`
    budget: dict | None = None               # the time budget's choice (time_budget.json)


def announce(settings: PipelineSettings, strict: bool, stream) -> None:
    """Say what the trainer will do differently from the config; --strict refuses."""
    if settings.substitutions and strict:
        raise UsageError("--strict: " + "; ".join(settings.substitutions), file=settings.path)
    for line in settings.substitutions:
        print(f"tfrconv train: instead: {line}", file=stream)
    for line in settings.notes:
        print(f"tfrconv train: note: {line}", file=stream)


def total_steps(settings: PipelineSettings, override: int | None) -> int | None:
    steps = settings.num_steps if override is None else override
    if steps < 0:
        raise UsageError("--num-train-steps must be at least 0")
    return steps or None       # 0: like the OD API, train until stopped


def check_options(options: TrainOptions) -> None:
    if options.checkpoint_every_n < 1:
        raise UsageError("--checkpoint-every-n must be at least 1")
    if options.eval_every_n is not None and options.eval_every_n < 1:
        raise UsageError("--eval-every-n must be at least 1")
    if options.time_budget is not None:
        if options.time_budget <= 0:
            raise UsageError("--time-budget must be a positive number of seconds")
        if options.num_train_steps is not None:
            raise UsageError("give --time-budget or --num-train-steps, not both: the budget "
                             "chooses the number of steps")


def seed_everything(seed: int, deterministic: bool) -> None:
    """Initialisation from `seed`; with `deterministic`, TensorFlow's deterministic kernels too
    (process-wide, as TensorFlow offers it)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def train(settings: PipelineSettings, options: TrainOptions, *, on_checkpoint=None) -> TrainResult:
    import tensorflow as tf

    from ..api import read_label_map_file
    from .budget import TimeBudget, read_choice, schedule_length, write_choice
    from .checkpoints import (
        MAX_TO_KEEP,
        check_model_dir,
        list_variables,
        new_checkpoint,
        restore_fine_tune,
    )
    from .checks import check_inputs
    from .data import match_files, train_dataset
    from .losses import centernet_losses
    from .model import build_detector
    from .optim import build_optimizer, schedule_tensor

    stream = options.stream or sys.stderr
    check_options(options)
    announce(settings, options.strict, stream)
    reader = settings.train_input
    files = match_files(reader.paths, what="train_input_reader", config=settings.path)
    label_map = read_label_map_file(reader.label_map_path)
    for note in check_inputs(patterns=reader.paths, files=files, label_map=label_map,
                             num_classes=settings.num_classes, what="train_input_reader",
                             config=settings.path):
        print(f"tfrconv train: warning: {note}", file=stream)
    steps = total_steps(settings, options.num_train_steps)

    spec = settings.model_spec()
    identity = spec.identity()
    model_dir = options.model_dir
    resume = check_model_dir(model_dir, identity)
    evaluator = None
    if options.eval_on_checkpoint or options.eval_every_n:
        from .evaluate import Evaluator, eval_summary_dir

        evaluator = Evaluator(settings, summary_dir=eval_summary_dir(model_dir, settings))

    seed_everything(options.seed, options.deterministic)
    model = build_detector(spec)
    height, width = settings.resize.height, settings.resize.width
    model(tf.zeros([1, height, width, 3]))
    budget = None
    stretch = tf.Variable(1.0, dtype=tf.float32, trainable=False, name="schedule_stretch")
    if options.time_budget is not None:
        budget = TimeBudget(options.time_budget, schedule_steps=schedule_length(settings),
                            choice=read_choice(model_dir) if resume else None)
        stretch.assign(budget.stretch())
    optimizer = build_optimizer(settings.optimizer, clip_norm=settings.gradient_clip,
                                stretch=stretch)
    optimizer.build(model.trainable_variables)
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    average = None
    if settings.optimizer.moving_average_decay is not None:
        from .average import WeightAverage

        average = WeightAverage(model.trainable_variables, settings.optimizer.moving_average_decay)
    checkpoint = new_checkpoint(model=model, identity=identity, step=global_step,
                                optimizer=optimizer,
                                extra=average.checkpoint_parts() if average else None)
    manager = tf.train.CheckpointManager(checkpoint, model_dir, max_to_keep=MAX_TO_KEEP)

    def averaged():
        """The model holds the averaged weights inside, if the config keeps an average."""
        return average.applied() if average is not None else contextlib.nullcontext()

    if resume:
        checkpoint.restore(resume).expect_partial()
        if average is not None:
            average.after_restore(list_variables(resume))
        print(f"tfrconv train: resuming from {resume} (step {int(global_step.numpy())})",
              file=stream)
    elif settings.fine_tune_checkpoint:
        prefix = restore_fine_tune(model, settings.fine_tune_checkpoint,
                                   settings.fine_tune_checkpoint_type, identity,
                                   model_dir=model_dir)
        print(f"tfrconv train: fine-tuning from {prefix} "
              f"({settings.fine_tune_checkpoint_type})", file=stream)
        if average is not None:
            average.reset()
    os.makedirs(model_dir, exist_ok=True)          # only once everything checked out
    _copy_config(settings.path, model_dir)

    dataset = train_dataset(
        files, label_map, resize=settings.resize, batch_size=settings.batch_size,
        num_classes=settings.num_classes, max_boxes=reader.max_boxes,
        augmentations=settings.augmentations, min_overlap=settings.min_overlap,
        seed=options.seed, shuffle=reader.shuffle, shuffle_buffer=reader.shuffle_buffer_size,
        num_readers=reader.num_readers, sample_1_of_n=reader.sample_1_of_n)
    iterator = iter(dataset)
    weights = settings.loss_weights()
    variables = model.trainable_variables

    @tf.function
    def run_chunk(iterator, count):
        sums = {key: tf.zeros([]) for key in LOSS_KEYS}
        for _ in tf.range(count):
            images, targets = next(iterator)
            with tf.GradientTape() as tape:
                heat, box = model(images, training=True)
                losses = centernet_losses(heat, box, targets, weights)
            gradients = tape.gradient(losses["Loss/total_loss"], variables)
            optimizer.apply_gradients(zip(gradients, variables))
            global_step.assign_add(1)
            if average is not None:
                average.update(global_step)
            sums = {key: sums[key] + losses[key] for key in LOSS_KEYS}
        return {key: value / tf.cast(count, tf.float32) for key, value in sums.items()}

    writer = tf.summary.create_file_writer(os.path.join(model_dir, "train"))
    start_step = step = int(global_step.numpy())
    result = TrainResult(model_dir, start_step, step, 0.0, {}, latest_checkpoint=resume)
    if budget is not None:
        budget.start_step = start_step
        steps = budget.total_steps
    progress = TrainProgress(stream, steps, start_step, enabled=options.progress,
                             every=options.log_every_n)

    def evaluate(at: int, train_seconds: float, name: str) -> None:
        from .evaluate import headline

        with averaged():
            metrics = evaluator.evaluate(model, at)
        progress.message(f"evaluated {name} (step {at}): {headline(metrics)}")
        result.evaluations.append({"step": at, "train_seconds": round(train_seconds, 2),
                                   "metrics": metrics})

    def evaluated_at(at: int) -> bool:
        return bool(result.evaluations) and result.evaluations[-1]["step"] == at

    def save(train_seconds: float, *, last: bool = False) -> None:
        with averaged():
            path = manager.save()
        result.checkpoints.append(path)
        result.latest_checkpoint = path
        at = int(global_step.numpy())
        if evaluator is not None and not evaluated_at(at) and (
                options.eval_on_checkpoint or last or at % options.eval_every_n == 0):
            evaluate(at, train_seconds, os.path.basename(path))
        if on_checkpoint is not None:
            on_checkpoint(path, at, train_seconds)

    train_seconds = 0.0
    saved_step = step
    if step == 0:
        save(0.0)
    try:
        while steps is None or step < steps:
            count = CHUNK if steps is None else min(CHUNK, steps - step)
            count = min(count, options.checkpoint_every_n - (step - saved_step))
            if options.eval_every_n:
                count = min(count, options.eval_every_n - step % options.eval_every_n)
            if budget is not None and budget.out_of_time(train_seconds, count):
                progress.message(f"time budget {budget.seconds:g} s reached at step {step} "
                                 f"(planned {steps or '?'}): stopping")
                if budget.choice is not None:
                    budget.choice.stopped_early_at = step
                    result.budget = asdict(budget.choice)
                    write_choice(model_dir, budget.choice)
                break
            began = options.clock()
            losses = run_chunk(iterator, tf.constant(count, tf.int32))
            values = {key: float(value) for key, value in losses.items()}
            elapsed = options.clock() - began
            train_seconds += elapsed
            step = int(global_step.numpy())
            if values["Loss/total_loss"] != values["Loss/total_loss"]:
                raise TfrconvError(f"training diverged: the loss is NaN at step {step}; lower "
                                   "the learning rate (the last good checkpoint is kept)")
            if budget is not None and budget.observe(step, count, elapsed, train_seconds):
                steps = progress.total = budget.total_steps
                stretch.assign(budget.stretch())
                result.budget = asdict(budget.choice)
                where = write_choice(model_dir, budget.choice)
                if budget.choice.revisions:
                    progress.message(f"time budget {budget.seconds:g} s: the machine slowed "
                                     f"down, so {steps} steps in all now ({where})")
                else:
                    progress.message(
                        f"time budget {budget.seconds:g} s: {budget.choice.steps_per_sec:.2f} "
                        f"steps/s measured over the warm-up, so {steps} steps in all (the "
                        f"schedule's {budget.schedule_steps} stretched to fit; {where})")
            rate = float(schedule_tensor(settings.optimizer.learning_rate,
                                         step * float(stretch.numpy())))
            with writer.as_default(step=step):
                for key, value in values.items():
                    tf.summary.scalar(key, value)
                tf.summary.scalar("learning_rate", rate)
                tf.summary.scalar("steps_per_sec", count / max(elapsed, 1e-9))
            result.last_losses = values
            progress.update(step, values, rate, count / max(elapsed, 1e-9))
            if step - saved_step >= options.checkpoint_every_n:
                progress.clear()
                save(train_seconds)
                saved_step = step
            elif options.eval_every_n and step % options.eval_every_n == 0 and \
                    not evaluated_at(step):
                progress.clear()
                evaluate(step, train_seconds, "the model")
    except KeyboardInterrupt:
        progress.clear()
        step = int(global_step.numpy())      # the chunk that was running may have finished
        if step != saved_step:
            with averaged():
                result.checkpoints.append(manager.save())
            result.latest_checkpoint = result.checkpoints[-1]
        writer.flush()
        result.interrupted = True
        result.step = step
        result.train_seconds = train_seconds
        return result
    finally:
        progress.close()
    if step != saved_step:
        save(train_seconds, last=True)
    writer.flush()
    result.step = step
    result.train_seconds = train_seconds
    return result


def _copy_config(path: str | None, model_dir: str) -> None:
    if not path:
        return
    target = os.path.join(model_dir, "pipeline.config")
    if os.path.abspath(path) != os.path.abspath(target):
        shutil.copyfile(path, target)


class TrainProgress:
    """`step 120/1500 loss 1.23 (classification 0.81, localization 0.42) lr 0.004 3.1 steps/s
    eta 7m` — redrawn in place on a terminal, one line every `every` steps otherwise."""

    def __init__(self, stream, total: int | None, start: int, *, enabled: bool,
                 every: int) -> None:
        self.stream = stream
        self.total = total
        self.enabled = enabled
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.every = max(1, every)
        self.last_logged = start
        self.started = time.perf_counter()
        self.start = start
        self.shown = False

    def line(self, step: int, losses: dict[str, float], rate: float, speed: float) -> str:
        total = f"/{self.total}" if self.total else ""
        text = (f"step {step}{total}  loss {losses['Loss/total_loss']:.3f} "
                f"(classification {losses['Loss/classification_loss']:.3f}, localization "
                f"{losses['Loss/localization_loss']:.3f})  lr {rate:.3g}  {speed:.1f} steps/s")
        if self.total and speed > 0:
            remaining = (self.total - step) / speed
            text += f"  eta {int(remaining // 60)}m{int(remaining % 60):02d}s"
        return text

    def update(self, step: int, losses: dict[str, float], rate: float, speed: float) -> None:
        if not self.enabled:
            return
        text = self.line(step, losses, rate, speed)
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
            self.stream.flush()
            self.shown = True
        elif step - self.last_logged >= self.every or step == self.total:
            print(text, file=self.stream, flush=True)
            self.last_logged = step

    def message(self, text: str) -> None:
        self.clear()
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def clear(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False
