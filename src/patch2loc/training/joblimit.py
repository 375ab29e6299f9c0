"""Trainings longer than one job: a training stops after the last checkpoint that leaves time for
the next one before its job's time limit, and the next job resumes from that checkpoint.

Many GPU partitions end a job after 24 hours, and RA's and PHANES' trainings take longer on slower
cards. The training rules ask for at most `JOB_LIMIT_MINUTES` a job and for as many attempts as the
training needs (rules/train.smk); under SLURM the training script sets `DEADLINE_ENV` to the Unix
time the job's limit leaves for training. A kill at the limit would lose the steps since the last
checkpoint; stopping just after a checkpoint loses none, and the resumed run is the same as an
uninterrupted one (the harness's bit-identical resume).
"""

from __future__ import annotations

import math
import os
import time

from patch2loc.errors import InputError

JOB_LIMIT_MINUTES = 24 * 60  # the longest job a training rule asks for (many partitions' maximum)
SETUP_MINUTES = 15  # of each job: the env, reading the training volumes, the last checkpoint's write
DEADLINE_ENV = "PATCH2LOC_TRAIN_DEADLINE"  # Unix time by which a training stops (unset: no limit)


class JobTimeLimit(InputError):
    """The training stopped at a checkpoint before its job's time limit; the next job resumes."""


def job_minutes(train_minutes: int) -> int:
    """One job's time limit: the training's, at most JOB_LIMIT_MINUTES."""
    return min(int(train_minutes), JOB_LIMIT_MINUTES)


def jobs_needed(train_minutes: int) -> int:
    """Jobs a training of `train_minutes` needs, each of `job_minutes` less its set-up."""
    if int(train_minutes) <= JOB_LIMIT_MINUTES:
        return 1
    return math.ceil(int(train_minutes) / (JOB_LIMIT_MINUTES - SETUP_MINUTES))


def retries(train_minutes: int) -> int | None:
    """The rule's `retries:` of a training: one per further job it needs, plus one spare (a node
    failure); None for a training of one job (the profile's `retries` then applies, 0 locally)."""
    jobs = jobs_needed(train_minutes)
    return jobs if jobs > 1 else None


def deadline_for(runtime_minutes: float, now: float | None = None) -> float:
    """The Unix time a training started now stops by, in a job of `runtime_minutes`."""
    return (time.time() if now is None else now) + 60 * (float(runtime_minutes) - SETUP_MINUTES / 3)


class Deadline:
    """Whether a training may go on to its next checkpoint: the time left must hold 1.5 times the
    interval between the last two checkpoints (the first interval counted from the start)."""

    def __init__(self, environ=os.environ):
        value = environ.get(DEADLINE_ENV)
        self.at = float(value) if value else None
        self.last = time.time()

    def leaves_room(self) -> bool:
        now = time.time()
        interval, self.last = now - self.last, now
        return self.at is None or now + 1.5 * interval < self.at

    def stop(self, step: int, steps: int, last_path) -> JobTimeLimit:
        return JobTimeLimit(
            f"{last_path}: training stopped at step {step:,} of {steps:,} before the job's time limit; "
            "the next attempt of this rule (Snakemake's retries) resumes from this checkpoint."
        )
