"""Trainings longer than one job (methods/joblimit.py): a training stops after a checkpoint before its
job's time limit and the next job resumes it to the same weights as an uninterrupted run; no
training rule asks for more than 24 hours, and each gets the attempts its length needs."""

from __future__ import annotations

import time

import pytest
import torch

from patch2loc.methods import joblimit
from patch2loc.methods.joblimit import DEADLINE_ENV, JobTimeLimit
from tests.methods.test_train import _assert_same_weights, _csv, _run, _weights


def test_a_training_stops_at_a_checkpoint_before_its_deadline_and_the_next_job_resumes_it(tmp_path, monkeypatch):
    reference = tmp_path / "ref"
    _run(reference)  # steps 6, a checkpoint every 2
    job = tmp_path / "job"
    monkeypatch.setenv(DEADLINE_ENV, str(time.time()))  # the limit is here: stop at the first checkpoint
    with pytest.raises(JobTimeLimit, match=r"stopped at step 2 of 6 .*resumes from this checkpoint"):
        _run(job)
    assert torch.load(job / "last.pt", weights_only=False)["step"] == 2
    assert not (job / "best.pt").exists() or torch.load(job / "best.pt", weights_only=False)["step"] <= 2
    monkeypatch.setenv(DEADLINE_ENV, str(time.time() + 3600))  # the next job: time enough
    assert _run(job)["step"] == 6
    for name in ("last.pt", "best.pt"):
        _assert_same_weights(_weights(reference / name), _weights(job / name))
    assert _csv(reference / "loss.csv") == _csv(job / "loss.csv")


def test_without_a_deadline_a_training_runs_to_its_end(tmp_path, monkeypatch):
    monkeypatch.delenv(DEADLINE_ENV, raising=False)
    assert _run(tmp_path)["step"] == 6


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
