"""`--time-budget`: the step count chosen from the warm-up's step rate, the hard stop, the file
written into the model dir, and the sidecar's stop rule that reads it. Times are given, never
measured: the decisions are checked against hand-computed numbers."""

from __future__ import annotations

import json

import pytest

from tfrconv.trainer import budget as tb


def feed(budget, chunks, *, steps=10, start=0, start_seconds=0.0):
    """Run `chunks` (seconds each) of `steps` through the budget; returns (step, seconds,
    the step at which the choice was last made or revised)."""
    step, seconds, chosen_at = start, start_seconds, None
    for elapsed in chunks:
        step += steps
        seconds += elapsed
        if budget.observe(step, steps, elapsed, seconds):
            chosen_at = step
    return step, seconds, chosen_at


def test_the_rate_is_measured_after_the_tracing_chunk():
    budget = tb.TimeBudget(100.0, schedule_steps=1500)
    # First chunk 20 s (tracing), then three chunks of 1 s (10 steps/s); 5% of 100 s = 5 s of
    # warm-up is needed, so two more: the choice comes after 5 measured chunks (60 steps).
    step, seconds, chosen_at = feed(budget, [20.0, 1, 1, 1, 1, 1])
    assert chosen_at == 60 and seconds == 25.0
    choice = budget.choice
    assert choice.steps_per_sec == 10.0
    # 75 s left at 10 steps/s, planned with 3% to spare: 60 + int(727.5) = 787 steps.
    assert choice.num_train_steps == 787
    assert choice.warmup_steps == 60 and choice.schedule_steps == 1500
    assert budget.stretch() == pytest.approx(1500 / 787)


def test_a_slower_machine_lowers_the_count_so_the_schedule_still_ends():
    budget = tb.TimeBudget(100.0, schedule_steps=1500)
    step, seconds, _ = feed(budget, [20.0, 1, 1, 1, 1, 1])           # 787 steps planned
    # Other jobs start: 10 steps now take 2 s. After three such chunks (step 90, 31 s), 697
    # steps at 0.2 s would end at 170 s: lowered to 90 + int(69 / 0.2 * 0.97) = 424.
    step, seconds, revised_at = feed(budget, [2.0, 2.0, 2.0], start=step,
                                     start_seconds=seconds)
    assert revised_at == 90 and budget.choice.num_train_steps == 424
    assert budget.choice.revisions == 1 and budget.stretch() == pytest.approx(1500 / 424)
    # Faster again: the count is never raised.
    feed(budget, [0.5, 0.5, 0.5], start=step, start_seconds=seconds)
    assert budget.choice.num_train_steps == 424


def test_no_choice_before_three_measured_chunks():
    budget = tb.TimeBudget(10.0, schedule_steps=100)
    feed(budget, [5.0, 2.0, 2.0])
    assert budget.choice is None and budget.stretch() == 1.0
    assert budget.observe(40, 10, 2.0, 11.0)
    assert budget.choice.num_train_steps == 40          # no time left: stop where it is


def test_the_hard_stop_looks_one_chunk_ahead():
    budget = tb.TimeBudget(10.0, schedule_steps=100)
    assert not budget.out_of_time(9.9, 10)               # nothing measured yet
    budget.observe(10, 10, 3.0, 8.0)                     # 0.3 s a step
    assert not budget.out_of_time(7.0, 10)               # 7 + 3 = 10: still fits
    assert budget.out_of_time(7.5, 10)
    assert not budget.out_of_time(7.5, 1)                # a short last chunk still fits


def test_schedule_length_is_the_cosine_total_or_num_steps():
    from types import SimpleNamespace

    from tfrconv.trainer.config import LearningRate

    def settings(kind, params, num_steps):
        return SimpleNamespace(num_steps=num_steps, optimizer=SimpleNamespace(
            learning_rate=LearningRate(kind, params)))

    assert tb.schedule_length(settings("cosine_decay", {"total_steps": 3000}, 1500)) == 3000
    assert tb.schedule_length(settings("manual_step", {}, 1500)) == 1500
    assert tb.schedule_length(settings("constant", {}, 0)) == 1


def test_the_choice_round_trips_through_the_model_dir(tmp_path):
    choice = tb.BudgetChoice(budget_seconds=300.0, num_train_steps=2900, steps_per_sec=9.8,
                             warmup_steps=60, schedule_steps=1500)
    path = tb.write_choice(str(tmp_path), choice)
    with open(path) as fileobj:
        assert json.load(fileobj)["num_train_steps"] == 2900
    assert tb.read_choice(str(tmp_path)) == choice
    (tmp_path / tb.FILE_NAME).write_text("{not json")
    assert tb.read_choice(str(tmp_path)) is None
    assert tb.read_choice(str(tmp_path / "missing")) is None


def test_the_sidecar_stops_at_the_budgeted_run_s_last_step(tmp_path):
    from types import SimpleNamespace

    from tfrconv.trainer.sidecar import last_step

    settings = SimpleNamespace(num_steps=1500)
    assert last_step(settings, str(tmp_path), None) == 1500            # the config's
    assert last_step(settings, str(tmp_path), 200) == 200              # --num_train_steps
    choice = tb.BudgetChoice(300.0, 2900, 9.8, 60, 1500)
    tb.write_choice(str(tmp_path), choice)
    assert last_step(settings, str(tmp_path), None) == 2900
    choice.stopped_early_at = 2500
    tb.write_choice(str(tmp_path), choice)
    assert last_step(settings, str(tmp_path), None) == 2500
