"""Trainings longer than one job (training/joblimit.py): when the next checkpoint fits before a job's
limit, and how many jobs and attempts a training gets (the stop and resume itself:
tests/methods/test_train.py)."""

from __future__ import annotations


import pytest
from patch2loc.training import joblimit
from patch2loc.training.joblimit import DEADLINE_ENV


def test_the_interval_decides_whether_a_next_checkpoint_fits(monkeypatch):
    clock = iter([100.0, 110.0, 125.0])  # start, then checkpoints 10 s and 15 s apart
    monkeypatch.setattr(joblimit.time, "time", lambda: next(clock))
    deadline = joblimit.Deadline({DEADLINE_ENV: "140"})
    assert deadline.leaves_room()  # 110 + 1.5 * 10 = 125 < 140
    assert not deadline.leaves_room()  # 125 + 1.5 * 15 = 147.5 > 140


@pytest.mark.parametrize(
    "minutes,job,jobs,retries",
    [(60, 60, 1, None), (1440, 1440, 1, None), (1441, 1440, 2, 2), (4000, 1440, 3, 3), (12000, 1440, 9, 9)],
)
def test_job_limits_and_attempts(minutes, job, jobs, retries):
    assert joblimit.job_minutes(minutes) == job
    assert joblimit.jobs_needed(minutes) == jobs
    assert joblimit.retries(minutes) == retries
    assert jobs * (joblimit.job_minutes(minutes) - (joblimit.SETUP_MINUTES if jobs > 1 else 0)) >= minutes
