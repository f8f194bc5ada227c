"""The trainer's commands: `tfrconv config | train | evaluate | export | infer`.

Their arguments and what they run live here, beside the trainer; the builtin plugin
`tfrconv_plugins.trainer` only registers `COMMANDS` through the public `register_commands` hook.
Flags follow the OD API's binaries (model_main_tf2.py, exporter_main_v2.py); each is accepted
with dashes or, as the OD API spells it, with underscores. TensorFlow is imported only when a
command runs, so `tfrconv --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..api import Command, UsageError


def _flag(parser, name: str, **kwargs) -> None:
    """--some-flag, also spelled --some_flag as in the OD API."""
    dashed = "--" + name.replace("_", "-")
    under = "--" + name.replace("-", "_")
    flags = [dashed] if dashed == under else [dashed, under]
    parser.add_argument(*flags, dest=name.replace("-", "_"), **kwargs)


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _load_settings(path: str):
    from .config import load_settings

    return load_settings(path)


# -- config ----------------------------------------------------------------------------------
def config_arguments(parser: argparse.ArgumentParser) -> None:
    from .templates import FINE_TUNE_TYPES, TEMPLATES

    _flag(parser, "train-records", action="append", required=True, metavar="GLOB",
          help="training records: a record path, shard glob or the base name of sharded "
          "output (repeatable)")
    _flag(parser, "eval-records", action="append", default=[], metavar="GLOB",
          help="evaluation records (repeatable)")
    parser.add_argument("--template", choices=TEMPLATES, default="centernet",
                        help="centernet (what `tfrconv train` trains), ssd_mobilenet_v2 or "
                        "faster_rcnn_resnet101 (for the OD API) (default: centernet)")
    parser.add_argument("--out", required=True, metavar="PATH",
                        help="the pipeline config to write")
    _flag(parser, "label-map", metavar="PATH",
          help="label map (default: the one written beside the records)")
    _flag(parser, "num-classes", type=int, metavar="N",
          help="number of classes (default: from the manifest / label map)")
    parser.add_argument("--metrics", default="pascal,coco", metavar="SETS",
                        help="pascal, coco or pascal,coco (default: pascal,coco)")
    _flag(parser, "batch-size", type=int, metavar="N", help="default: per template")
    _flag(parser, "num-steps", type=int, metavar="N", help="default: per template")
    _flag(parser, "image-size", metavar="PX|HxW",
          help="input size (default: 128 centernet, 320 ssd, 600-1024 faster_rcnn)")
    _flag(parser, "learning-rate", type=float, metavar="LR", help="default: per template")
    _flag(parser, "fine-tune-checkpoint", metavar="PATH",
          help="a TF2 checkpoint to start from: a prefix (models/train/ckpt-3) or a model dir, "
          "written as its latest checkpoint's prefix, as the OD API needs")
    _flag(parser, "fine-tune-checkpoint-type", choices=FINE_TUNE_TYPES,
          help="what to restore from it (default: detection)")


def _image_size(text: str | None, template: str) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        parts = [int(p) for p in text.lower().replace("x", " ").split()]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 16:
        raise UsageError(f"--image-size {text!r}: give PX or HxW, at least 16")
    return (parts[0], parts[-1])


def config_run(args: argparse.Namespace) -> int:
    from .configure import build_request, checkpoint_prefix, write_config
    from .templates import METRIC_SETS

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    bad = [m for m in metrics if m not in METRIC_SETS]
    if bad or not metrics:
        raise UsageError(f"--metrics {args.metrics!r}: use pascal, coco or pascal,coco")
    for name in ("batch_size", "num_steps", "num_classes"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.fine_tune_checkpoint_type and not args.fine_tune_checkpoint:
        raise UsageError("--fine-tune-checkpoint-type needs --fine-tune-checkpoint")
    fine_tune = args.fine_tune_checkpoint and checkpoint_prefix(args.fine_tune_checkpoint)
    request, messages = build_request(
        template=args.template, train=args.train_records, evaluate=args.eval_records,
        label_map=args.label_map, num_classes=args.num_classes, metrics=metrics,
        batch_size=args.batch_size, num_steps=args.num_steps,
        image_size=_image_size(args.image_size, args.template),
        learning_rate=args.learning_rate, fine_tune_checkpoint=fine_tune or None,
        fine_tune_checkpoint_type=args.fine_tune_checkpoint_type,
        header=[f"OD API pipeline config ({args.template}) written by tfrconv config.",
                "Relative paths are read from the folder the trainer runs in."])
    write_config(request, args.out)
    for line in messages:
        print(f"  {line}")
    print(f"wrote {args.out} ({args.template}, {request.num_classes} classes, "
          f"batch {request.value('batch_size')}, {request.value('num_steps')} steps)")
    return 0


# -- train -----------------------------------------------------------------------------------
def _boolean(text: str) -> bool:
    """An absl-style boolean flag value: --use_tpu, --use_tpu=true, --use_tpu=false."""
    lowered = text.lower()
    if lowered in ("1", "true", "t", "yes"):
        return True
    if lowered in ("0", "false", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def train_arguments(parser: argparse.ArgumentParser) -> None:
    _flag(parser, "pipeline-config-path", required=True, metavar="PATH")
    _flag(parser, "model-dir", required=True, metavar="DIR",
          help="checkpoints and TensorBoard logs (train/, eval/)")
    _flag(parser, "num-train-steps", type=int, metavar="N",
          help="overrides train_config.num_steps (0: until interrupted)")
    _flag(parser, "time-budget", type=float, metavar="SECONDS",
          help="train for this long: the step rate measured during a short warm-up sets the "
          "number of steps, the learning-rate schedule is fitted to it (written to "
          "MODEL_DIR/time_budget.json), and training stops on time")
    _flag(parser, "checkpoint-every-n", type=int, default=1000, metavar="N",
          help="checkpoint every N steps (default: 1000; the last 7 are kept)")
    _flag(parser, "eval-every-n", type=int, metavar="N",
          help="evaluate the model every N steps and at the end, in this process: metrics "
          "and side-by-side images to MODEL_DIR/eval for TensorBoard (not training time)")
    _flag(parser, "checkpoint-dir", metavar="DIR",
          help="evaluate instead of training: each new checkpoint of DIR, as it appears "
          "(the OD API's sidecar evaluator); summaries go to MODEL_DIR/eval")
    _flag(parser, "eval-timeout", type=int, default=3600, metavar="SECONDS",
          help="with --checkpoint-dir: stop after waiting this long for a new checkpoint")
    _flag(parser, "sample-1-of-n-eval-examples", type=int, metavar="N",
          help="evaluate every N-th example only")
    _flag(parser, "eval-on-checkpoint", action="store_true",
          help="also evaluate each checkpoint as it is written (in this process)")
    _flag(parser, "eval-on-train-data", type=_boolean, nargs="?", const=True, default=False,
          metavar="BOOL", help="with --checkpoint-dir: evaluate on the training records "
          "(as the OD API's flag)")
    _flag(parser, "use-tpu", type=_boolean, nargs="?", const=True, default=False,
          metavar="BOOL", help="accepted for the OD API's command lines; no effect (CPU)")
    _flag(parser, "num-workers", type=int, default=1, metavar="N",
          help="accepted for the OD API's command lines; no effect (one process)")
    _flag(parser, "record-summaries", type=_boolean, nargs="?", const=True, default=True,
          metavar="BOOL", help="accepted for the OD API's command lines; no effect (the "
          "loss summaries, which the OD API always records, are the only ones written)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse a config that asks for a model the built-in trainer "
                        "does not implement, instead of training CenterNet in its place")
    parser.add_argument("--seed", type=int, default=0,
                        help="fixes the data order, augmentation and initialisation "
                        "(default: 0)")
    parser.add_argument("--deterministic", action="store_true",
                        help="also use TensorFlow's deterministic kernels, so that two runs "
                        "with one seed give the same checkpoints (slower; docs/performance.md)")
    parser.add_argument("--no-progress", action="store_true", help="no progress line")
    _flag(parser, "num-eval-steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--alsologtostderr", action="store_true", help=argparse.SUPPRESS)


def odapi_flag_notes(args: argparse.Namespace) -> list[str]:
    """What the accepted model_main_tf2.py flags do here, when they are given."""
    notes = []
    if args.num_eval_steps is not None:
        notes.append("--num_eval_steps was removed from the OD API in 2018 (evaluation covers "
                     "the whole eval set); ignored")
    if args.use_tpu:
        notes.append("--use_tpu has no effect: the built-in trainer trains on the CPU")
    if args.num_workers != 1:
        notes.append(f"--num_workers {args.num_workers} has no effect: the built-in trainer "
                     "trains in one process (the OD API would use a multi-worker strategy)")
    if not args.record_summaries:
        notes.append("--record_summaries false has no effect: the built-in trainer writes only "
                     "the loss, learning-rate and speed summaries, which the OD API records "
                     "regardless of this flag")
    if args.eval_on_train_data and not args.checkpoint_dir:
        notes.append("--eval_on_train_data is used only with --checkpoint_dir (as in the OD "
                     "API); ignored")
    return notes


def train_run(args: argparse.Namespace) -> int:
    _quiet_tensorflow()
    settings = _load_settings(args.pipeline_config_path)
    for note in odapi_flag_notes(args):
        print(f"tfrconv train: note: {note}", file=sys.stderr)
    if args.checkpoint_dir:
        return _sidecar(args, settings)
    from .train import TrainOptions, train

    result = train(settings, TrainOptions(
        model_dir=args.model_dir, num_train_steps=args.num_train_steps,
        checkpoint_every_n=args.checkpoint_every_n, strict=args.strict,
        eval_on_checkpoint=args.eval_on_checkpoint, eval_every_n=args.eval_every_n,
        time_budget=args.time_budget, seed=args.seed, deterministic=args.deterministic,
        progress=not args.no_progress))
    print(train_summary(result))
    return 130 if result.interrupted else 0


def train_summary(result) -> str:
    """The last line of `tfrconv train`: what was trained, and the checkpoint to use."""
    latest = result.latest_checkpoint or "none"
    if result.interrupted:
        return (f"stopped by Ctrl-C at step {result.step}; saved {latest} (run the same command "
                "to resume)")
    steps = result.step - result.start_step
    if steps == 0:
        return (f"nothing to train: {result.model_dir} is already at step {result.step}; "
                f"latest checkpoint {latest}")
    speed = steps / result.train_seconds if result.train_seconds else 0.0
    loss = result.last_losses.get("Loss/total_loss")
    planned = ""
    if result.budget:
        planned = f" (time budget {result.budget['budget_seconds']:g} s)"
    return (f"trained {steps} steps (to step {result.step}) in "
            f"{_duration(result.train_seconds)} ({speed:.1f} steps/s){planned}" +
            (f", final loss {loss:.3f}" if loss is not None else "") +
            f"; latest checkpoint {latest}")


def _sidecar(args, settings) -> int:
    from .sidecar import evaluate_continuously

    if args.eval_on_train_data:
        import dataclasses

        settings = dataclasses.replace(settings, eval_input=settings.train_input)
    evaluate_continuously(settings, checkpoint_dir=args.checkpoint_dir,
                          model_dir=args.model_dir, timeout=args.eval_timeout,
                          num_train_steps=args.num_train_steps,
                          sample_1_of_n=args.sample_1_of_n_eval_examples)
    return 0


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"


# -- evaluate --------------------------------------------------------------------------------
def evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    _flag(parser, "pipeline-config-path", required=True, metavar="PATH")
    _flag(parser, "model-dir", required=True, metavar="DIR",
          help="where the checkpoints are; results go to DIR/eval for TensorBoard")
    parser.add_argument("--checkpoint", metavar="PREFIX",
                        help="a checkpoint to evaluate, e.g. DIR/ckpt-3 (default: the latest)")
    _flag(parser, "sample-1-of-n-eval-examples", type=int, metavar="N")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument("--no-summaries", action="store_true",
                        help="do not write TensorBoard summaries")
    parser.add_argument("--watch", action="store_true",
                        help="evaluate each new checkpoint of --model-dir as it appears, until "
                        "the run's last step is evaluated or --eval-timeout passes without one "
                        "(the OD API's sidecar evaluator)")
    _flag(parser, "eval-timeout", type=int, default=3600, metavar="SECONDS",
          help="with --watch: stop after waiting this long for a new checkpoint")


def evaluate_run(args: argparse.Namespace) -> int:
    _quiet_tensorflow()
    import tensorflow as tf

    from .checkpoints import resolve_checkpoint, restore_model
    from .evaluate import Evaluator, eval_summary_dir, headline
    from .model import build_detector

    settings = _load_settings(args.pipeline_config_path)
    if args.watch:
        from .sidecar import evaluate_continuously

        evaluate_continuously(settings, checkpoint_dir=args.model_dir, model_dir=args.model_dir,
                              timeout=args.eval_timeout,
                              sample_1_of_n=args.sample_1_of_n_eval_examples)
        return 0
    prefix = resolve_checkpoint(args.checkpoint or args.model_dir, what="--model-dir" if not
                                args.checkpoint else "--checkpoint")
    evaluator = Evaluator(settings, summary_dir=None if args.no_summaries else
                          eval_summary_dir(args.model_dir, settings),
                          sample_1_of_n=args.sample_1_of_n_eval_examples)
    spec = settings.model_spec()
    model = build_detector(spec)
    model(tf.zeros([1, settings.resize.height, settings.resize.width, 3]))
    step = restore_model(model, prefix, spec.identity(), what="checkpoint")
    metrics = evaluator.evaluate(model, step)
    if args.json:
        print(json.dumps({"checkpoint": prefix, "step": step, "images": evaluator.last_images,
                          "metrics": {k: (None if v != v else v) for k, v in metrics.items()}},
                         indent=2))
        return 0
    for note in evaluator.notes:
        print(f"tfrconv evaluate: warning: {note}", file=sys.stderr)
    print(f"{prefix} (step {step}), {evaluator.last_images} images: {headline(metrics)}")
    for key, value in metrics.items():
        print(f"  {key}: {value:.4f}")
    return 0


# -- export ----------------------------------------------------------------------------------
def export_arguments(parser: argparse.ArgumentParser) -> None:
    _flag(parser, "pipeline-config-path", required=True, metavar="PATH")
    _flag(parser, "trained-checkpoint-dir", required=True, metavar="DIR",
          help="a model dir (its latest checkpoint) or a checkpoint prefix")
    _flag(parser, "output-directory", required=True, metavar="DIR")
    _flag(parser, "input-type", default="image_tensor",
          help="image_tensor: uint8 [1, H, W, 3] (the only one written)")


def export_run(args: argparse.Namespace) -> int:
    _quiet_tensorflow()
    from .export import check_input_type, export

    check_input_type(args.input_type)
    settings = _load_settings(args.pipeline_config_path)
    written = export(settings, args.trained_checkpoint_dir, args.output_directory)
    print(f"exported {written['source']} (step {written['step']}) to "
          f"{written['saved_model']} (serving_default: input_tensor uint8 [1,H,W,3] -> "
          "detection_boxes, detection_scores, detection_classes, num_detections)")
    return 0


# -- infer -----------------------------------------------------------------------------------
def infer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="an exported SavedModel (DIR/saved_model or the export folder)")
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="image files, folders or quoted globs")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="where to write <image>.png and detections.json")
    _flag(parser, "label-map", metavar="PATH",
          help="class names (default: the label map exported beside the model)")
    _flag(parser, "min-score", type=float, default=0.3, metavar="S",
          help="lowest score drawn and listed (default: 0.3)")
    _flag(parser, "max-boxes", type=int, default=20, metavar="N",
          help="most boxes per image (default: 20)")


def infer_run(args: argparse.Namespace) -> int:
    _quiet_tensorflow()
    from .infer import run

    if not 0 <= args.min_score <= 1:
        raise UsageError("--min-score must be between 0 and 1")
    result = run(args.model, args.images, args.out, label_map=args.label_map,
                 min_score=args.min_score, max_boxes=args.max_boxes, stream=sys.stderr)
    boxes = sum(len(image["detections"]) for image in result.images)
    print(f"{len(result.images)} images, {boxes} detections (score >= {args.min_score}): "
          f"pictures in {os.path.join(args.out, '')}, detections in {result.json_path}")
    if result.failures:
        print(f"{len(result.failures)} images could not be read", file=sys.stderr)
        return 1
    return 0


COMMANDS = (
    Command("config", "write an OD API pipeline config for converted records", config_arguments,
            config_run),
    Command("train", "train the built-in CenterNet detector on a pipeline config (CPU)",
            train_arguments, train_run),
    Command("evaluate", "Pascal VOC / COCO metrics of a trained checkpoint", evaluate_arguments,
            evaluate_run),
    Command("export", "export a checkpoint as a SavedModel with the OD API's signature",
            export_arguments, export_run),
    Command("infer", "run an exported model on images: PNGs with boxes and a JSON",
            infer_arguments, infer_run),
)

