"""Where the trainer's commands meet the OD API word for word: model_main_tf2.py's flags,
fine_tune_checkpoint as a checkpoint prefix, and what `infer` draws and writes."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from tfrconv.errors import UsageError
from tfrconv.trainer.commands import odapi_flag_notes, train_arguments
from tfrconv.trainer.configure import checkpoint_prefix


def parse_train(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_arguments(parser)
    return parser.parse_args(["--pipeline_config_path", "p.config", "--model_dir", "m", *argv])


def test_model_main_tf2_flags_are_accepted_with_a_note():
    args = parse_train("--use_tpu", "--num_workers", "2", "--record_summaries=false",
                       "--eval_on_train_data")
    assert (args.use_tpu, args.num_workers, args.record_summaries, args.eval_on_train_data) \
        == (True, 2, False, True)
    notes = " | ".join(odapi_flag_notes(args))
    for flag in ("--use_tpu", "--num_workers", "--record_summaries", "--eval_on_train_data"):
        assert flag in notes
    assert "no effect" in notes and "only with --checkpoint_dir" in notes


def test_default_flags_need_no_note():
    args = parse_train()
    assert odapi_flag_notes(args) == []
    assert odapi_flag_notes(parse_train("--use_tpu=false", "--record_summaries",
                                        "--num_workers=1")) == []
    evaluating = parse_train("--checkpoint_dir", "m", "--eval_on_train_data=true")
    assert odapi_flag_notes(evaluating) == []           # it has an effect there


def test_a_bad_boolean_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        parse_train("--use_tpu=maybe")
    assert info.value.code == 2 and "true or false" in capsys.readouterr().err


def test_time_budget_and_steps_exclude_each_other():
    from tfrconv.trainer.train import TrainOptions, check_options

    with pytest.raises(UsageError) as info:
        check_options(TrainOptions(model_dir="m", time_budget=60, num_train_steps=10))
    assert "not both" in str(info.value)
    for bad in (dict(time_budget=0), dict(eval_every_n=0), dict(checkpoint_every_n=0)):
        with pytest.raises(UsageError):
            check_options(TrainOptions(model_dir="m", **bad))


def fake_model_dir(folder, latest="ckpt-3"):
    folder.mkdir()
    for n in (2, 3):
        (folder / f"ckpt-{n}.index").write_bytes(b"")
        (folder / f"ckpt-{n}.data-00000-of-00001").write_bytes(b"")
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "{latest}"\n'
                                       'all_model_checkpoint_paths: "ckpt-2"\n'
                                       f'all_model_checkpoint_paths: "{latest}"\n')
    return folder


def test_fine_tune_checkpoint_is_written_as_a_prefix(tmp_path):
    folder = fake_model_dir(tmp_path / "train")
    assert checkpoint_prefix(str(folder)) == str(folder / "ckpt-3")
    assert checkpoint_prefix(str(folder / "ckpt-2")) == str(folder / "ckpt-2")
    assert checkpoint_prefix(str(folder / "ckpt-2.index")) == str(folder / "ckpt-2")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError) as info:
        checkpoint_prefix(str(empty))
    assert "holds no checkpoint" in str(info.value)
    later = str(tmp_path / "nowhere" / "ckpt-1")          # a checkpoint still to be made
    assert checkpoint_prefix(later) == later


def test_config_command_writes_the_prefix(tmp_path):
    pytest.importorskip("google.protobuf")
    import os
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from trainer_support import make_records

    from tfrconv.cli import main
    from tfrconv.trainer.config import load_settings

    records = make_records(tmp_path / "d", num_images=8, image_size=32, shards=1)
    folder = fake_model_dir(tmp_path / "train")
    out = str(tmp_path / "f.config")
    assert main(["config", "--train-records", records["train_glob"], "--out", out,
                 "--fine-tune-checkpoint", str(folder)]) == 0
    settings = load_settings(out)
    assert settings.fine_tune_checkpoint == str(folder / "ckpt-3")
    assert settings.fine_tune_checkpoint_type == "detection"


def test_the_best_label_is_drawn_on_top():
    from tfrconv.trainer.visualize import colour, draw_boxes

    image = np.full((80, 80, 3), 255, np.uint8)
    boxes = [[0.5, 0.1, 0.9, 0.9]] * 3                 # one box, three guesses
    classes, scores = [1, 2, 3], [0.5, 0.9, 0.7]
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
        picture = np.asarray(draw_boxes(image, [boxes[i] for i in order],
                                        [classes[i] for i in order],
                                        [scores[i] for i in order]))
        # The label band sits just above the box's left corner: the 0.9 class's colour.
        top = int(0.5 * 80) - 3
        assert tuple(picture[top, int(0.1 * 80) + 1]) == colour(2), order


def test_min_score_and_max_boxes_choose_the_best():
    from tfrconv.trainer.visualize import colour, draw_boxes

    image = np.full((60, 60, 3), 255, np.uint8)
    boxes = [[0.2, 0.1, 0.4, 0.3], [0.6, 0.1, 0.8, 0.3], [0.2, 0.6, 0.4, 0.8]]
    picture = np.asarray(draw_boxes(image, boxes, [1, 2, 3], [0.9, 0.2, 0.8],
                                    min_score=0.3, max_boxes=1))
    drawn = {cid for cid in (1, 2, 3) if (picture == colour(cid)).all(axis=-1).any()}
    assert drawn == {1}
