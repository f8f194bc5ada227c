"""Tiny training runs (a few steps on 64-px images): one seed gives the same checkpoints, a time
budget sizes the run and fits the schedule to it, evaluation while training writes the OD API's
tags, Ctrl-C reports the step saved, and a finished run says so when run again."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from trainer_support import small_config  # noqa: E402

tf = pytest.importorskip("tensorflow")

from tfrconv.trainer.budget import FILE_NAME, read_choice  # noqa: E402
from tfrconv.trainer.commands import train_summary  # noqa: E402
from tfrconv.trainer.config import load_settings  # noqa: E402
from tfrconv.trainer.train import TrainOptions, train  # noqa: E402

SCHEDULE = 100          # the config's num_steps (and cosine total_steps)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return small_config(tmp_path_factory.mktemp("runs"), num_images=40, num_steps=SCHEDULE)


def weights(prefix: str) -> dict:
    """Every saved tensor (the trainable weights are saved under the optimizer's path)."""
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def run(config, model_dir, **options):
    return train(load_settings(config), TrainOptions(model_dir=str(model_dir), progress=False,
                                                     **options))


def test_one_seed_gives_the_same_checkpoint(config, tmp_path):
    first = run(config, tmp_path / "a", num_train_steps=6, seed=3)
    second = run(config, tmp_path / "b", num_train_steps=6, seed=3)
    other = run(config, tmp_path / "c", num_train_steps=6, seed=4)
    a, b, c = (weights(r.latest_checkpoint) for r in (first, second, other))
    assert len(a) > 100 and a.keys() == b.keys()
    assert all(np.array_equal(a[name], b[name]) for name in a)
    assert not all(np.array_equal(a[name], c[name]) for name in a)


class FakeClock:
    """Each chunk of training 'takes' `chunk` seconds (it is read before and after each chunk;
    only the time between those two readings counts as training)."""

    def __init__(self, chunk: float, interrupt_at_reading: int | None = None) -> None:
        self.now, self.readings, self.chunk = 0.0, 0, chunk
        self.interrupt_at = interrupt_at_reading

    def __call__(self) -> float:
        self.readings += 1
        if self.readings == self.interrupt_at:
            raise KeyboardInterrupt
        self.now += self.chunk
        return self.now


def learning_rates(model_dir) -> dict[int, float]:
    rates = {}
    for name in os.listdir(os.path.join(model_dir, "train")):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(model_dir, "train", name)):
            for value in event.summary.value:
                if value.tag == "learning_rate":
                    rates[event.step] = float(tf.make_ndarray(value.tensor))
    return rates


def test_a_time_budget_sizes_the_run_and_ends_the_schedule(config, tmp_path):
    # Chunks of 10 steps 'take' 1 s: the first (tracing) is skipped, three more give 10 steps/s
    # at 4 s; 4 s are left of 8, so 40 + int(10 * 4 * 0.97) = 78 steps in all.
    model_dir = tmp_path / "budget"
    result = run(config, model_dir, time_budget=8.0, clock=FakeClock(1.0))
    assert result.step == 78 and result.train_seconds == pytest.approx(8.0)
    choice = read_choice(str(model_dir))
    assert (choice.num_train_steps, choice.steps_per_sec, choice.schedule_steps) == \
        (78, 10.0, SCHEDULE)
    assert choice.stopped_early_at is None and result.budget["num_train_steps"] == 78
    rates = learning_rates(model_dir)
    base = max(rates.values())
    assert rates[78] == pytest.approx(0.0, abs=1e-9)     # the cosine ends at the chosen step
    assert rates[70] > 0.01 * base
    # Run again: the chosen count stands, nothing left to do.
    again = run(config, model_dir, time_budget=8.0, clock=FakeClock(1.0))
    assert again.step == 78 and again.start_step == 78


def test_the_hard_stop_ends_a_run_that_slows_down(config, tmp_path):
    model_dir = tmp_path / "slow"

    class Slowing(FakeClock):
        def __call__(self):
            if self.readings >= 10:          # after the choice, chunks take 3 s
                self.chunk = 3.0
            return super().__call__()

    result = run(config, model_dir, time_budget=8.0, clock=Slowing(1.0))
    choice = read_choice(str(model_dir))
    assert choice.num_train_steps == 78 and result.step < 78
    assert choice.stopped_early_at == result.step
    assert result.train_seconds <= 8.0


def event_tags_and_steps(folder):
    found: dict[str, set[int]] = {}
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    found.setdefault(value.tag, set()).add(event.step)
    return found


def test_eval_every_n_writes_the_odapi_tags(config, tmp_path):
    model_dir = tmp_path / "evals"
    result = run(config, model_dir, num_train_steps=20, eval_every_n=10)
    assert [e["step"] for e in result.evaluations] == [0, 10, 20]
    tags = event_tags_and_steps(str(model_dir / "eval"))
    for tag in ("DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU",
                "DetectionBoxes_Precision/mAP@.75IOU", "DetectionBoxes_Recall/AR@100",
                "PascalBoxes_Precision/mAP@0.5IOU", "Loss/total_loss",
                "eval_side_by_side_0_0"):
        assert tags.get(tag) == {0, 10, 20}, tag


def test_ctrl_c_reports_the_step_saved(config, tmp_path):
    # The interrupt lands while reading the clock after the second chunk: the step counter has
    # already moved on to 20 there, and that is what must be saved and reported.
    model_dir = tmp_path / "stopped"
    result = run(config, model_dir, num_train_steps=50, clock=FakeClock(1.0, 4))
    assert result.interrupted and result.step == 20
    assert result.latest_checkpoint.endswith("ckpt-2")
    from tfrconv.trainer.checkpoints import restore_model
    from tfrconv.trainer.model import build_detector

    settings = load_settings(config)
    model = build_detector(settings.model_spec())
    model(tf.zeros([1, 64, 64, 3]))
    assert restore_model(model, result.latest_checkpoint, settings.model_spec().identity(),
                         what="checkpoint") == 20
    line = train_summary(result)
    assert "step 20" in line and result.latest_checkpoint in line
    assert "error" not in line


def test_a_finished_run_names_its_checkpoint(config, tmp_path):
    model_dir = tmp_path / "done"
    first = run(config, model_dir, num_train_steps=10)
    again = run(config, model_dir, num_train_steps=10)
    assert again.step == again.start_step == 10 and not again.checkpoints
    assert again.latest_checkpoint == first.latest_checkpoint
    line = train_summary(again)
    assert line.startswith("nothing to train") and first.latest_checkpoint in line
    assert "none" not in line
    assert FILE_NAME not in os.listdir(model_dir)        # no budget, no budget file
