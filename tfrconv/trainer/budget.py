"""`tfrconv train --time-budget SECONDS`: size the run to the time it may take.

The first chunk of steps pays for tracing the graph, so the step rate is measured after it,
during a short warm-up (at least `WARMUP_CHUNKS` chunks and `WARMUP_FRACTION` of the budget).
Then the total step count is set so that the remaining steps fit in what is left of the budget,
with `MARGIN` to spare for noise, and the learning-rate schedule is stretched (or squeezed) to end
exactly at that step. The choice is written to `model_dir/time_budget.json` and the log, and a
re-run of the same command resumes towards the same step count. If the machine slows down later
(other jobs), the count is lowered to what the recent speed allows, so that the schedule still
ends in time (never raised: no oscillation); should even that fail, the hard stop ends training
on time (the schedule is then cut short; the JSON says so).

Only training time counts: evaluations and checkpoint writes are not charged to the budget, as in
the benchmark's figures.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

FILE_NAME = "time_budget.json"
WARMUP_CHUNKS = 3           # chunks measured after the first (tracing) one
WARMUP_FRACTION = 0.05      # ... and at least this share of the budget
MARGIN = 0.97               # plan for this share of the remaining time
REPLAN_CHUNKS = 3           # after the choice, the recent speed is judged over this many chunks


@dataclass
class BudgetChoice:
    budget_seconds: float
    num_train_steps: int            # the step the schedule ends at
    steps_per_sec: float            # measured during the warm-up
    warmup_steps: int               # steps run before the choice
    schedule_steps: int             # the config's schedule length, stretched to num_train_steps
    revisions: int = 0              # times the machine slowed and the count was lowered
    stopped_early_at: int | None = None   # the hard stop cut the schedule short here


class TimeBudget:
    """Decides the step count once the rate is known; says when time is up."""

    def __init__(self, seconds: float, *, schedule_steps: int, start_step: int = 0,
                 choice: BudgetChoice | None = None) -> None:
        if seconds <= 0:
            raise ValueError("the time budget must be positive")
        self.seconds = float(seconds)
        self.schedule_steps = max(1, int(schedule_steps))
        self.choice = choice
        self._first_chunk_done = False
        self._measured_steps = 0
        self._measured_seconds = 0.0
        self._chunks = 0
        self._seconds_per_step = 0.0
        self._recent: list[tuple[int, float]] = []
        self.start_step = start_step

    @property
    def total_steps(self) -> int | None:
        return self.choice.num_train_steps if self.choice else None

    def stretch(self) -> float:
        """Factor from a training step to the config schedule's step (1 until chosen)."""
        if self.choice is None:
            return 1.0
        return self.schedule_steps / max(1, self.choice.num_train_steps)

    def observe(self, step: int, steps: int, seconds: float, train_seconds: float) -> bool:
        """Record a chunk of `steps` that took `seconds`; True when this chunk made or revised
        the choice."""
        self._seconds_per_step = seconds / max(steps, 1)
        if self.choice is not None:
            return self._replan(step, steps, seconds, train_seconds)
        if not self._first_chunk_done:          # graph tracing: not a step rate
            self._first_chunk_done = True
            return False
        self._chunks += 1
        self._measured_steps += steps
        self._measured_seconds += seconds
        if self._chunks < WARMUP_CHUNKS or self._measured_seconds < WARMUP_FRACTION * self.seconds:
            return False
        rate = self._measured_steps / max(self._measured_seconds, 1e-9)
        left = max(0.0, self.seconds - train_seconds)
        total = step + int(rate * left * MARGIN)
        self.choice = BudgetChoice(budget_seconds=self.seconds, num_train_steps=max(step, total),
                                   steps_per_sec=round(rate, 3),
                                   warmup_steps=step - self.start_step,
                                   schedule_steps=self.schedule_steps)
        return True

    def _replan(self, step: int, steps: int, seconds: float, train_seconds: float) -> bool:
        self._recent.append((steps, seconds))
        if len(self._recent) < REPLAN_CHUNKS:
            return False
        per_step = sum(s for _, s in self._recent) / max(1, sum(n for n, _ in self._recent))
        self._recent.clear()
        left = self.seconds - train_seconds
        if train_seconds + (self.choice.num_train_steps - step) * per_step <= self.seconds:
            return False
        lowered = max(step, step + int(max(0.0, left) / per_step * MARGIN))
        if lowered >= self.choice.num_train_steps:
            return False
        self.choice.num_train_steps = lowered
        self.choice.revisions += 1
        return True

    def out_of_time(self, train_seconds: float, next_steps: int) -> bool:
        """The hard stop: `next_steps` more, at the last chunk's speed, would overrun."""
        return train_seconds + next_steps * self._seconds_per_step > self.seconds


def schedule_length(settings) -> int:
    """The config schedule's own length in steps: what a budgeted run stretches."""
    rate = settings.optimizer.learning_rate
    if rate.kind == "cosine_decay" and rate.params.get("total_steps"):
        return int(rate.params["total_steps"])
    return max(1, int(settings.num_steps))


def read_choice(model_dir: str) -> BudgetChoice | None:
    path = os.path.join(model_dir, FILE_NAME)
    try:
        with open(path, encoding="utf-8") as fileobj:
            data = json.load(fileobj)
        return BudgetChoice(**{key: data[key] for key in BudgetChoice.__dataclass_fields__
                               if key in data})
    except (OSError, ValueError, TypeError):
        return None


def write_choice(model_dir: str, choice: BudgetChoice) -> str:
    path = os.path.join(model_dir, FILE_NAME)
    temporary = path + ".partial"
    with open(temporary, "w", encoding="utf-8") as fileobj:
        json.dump(asdict(choice), fileobj, indent=2)
        fileobj.write("\n")
    os.replace(temporary, path)
    return path
