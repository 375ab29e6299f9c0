"""One pending re-plan in Snakemake's scheduler (src/patch2loc/run/replanning.py): the workflow's
Snakemake plans again within the rate limit's timespan, and does not start one more chain of
re-plans for every finished job."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from patch2loc.run import replanning
from tests.helpers.workflow import REPO

PATCHED = f"""import sys
sys.path.insert(0, {str(REPO / "src")!r})
from patch2loc.run.replanning import coalesce_replanning
assert coalesce_replanning()

"""
SPACED = """rule all:
    input: expand("out/{i}.txt", i=range(6))

rule quick:
    output: "out/{i}.txt"
    shell: "python -c 'import time; print(time.time())' > {output}"
"""


class _Timers:
    """threading.Timer's stand-in: records each timer instead of starting a thread."""

    def __init__(self):
        self.started = []

    def __call__(self, delay, fn):
        timers = self

        class Timer:
            def start(self):
                timers.started.append((delay, fn))

        return Timer()


def test_one_timer_is_pending_at_a_time_the_earliest(monkeypatch):
    timers = _Timers()
    monkeypatch.setattr(replanning.threading, "Timer", timers)
    scheduler = type("Scheduler", (), {})()
    scheduler._open_jobs = threading.Semaphore(0)
    for _ in range(5):  # five rounds, as after five finished jobs: one timer
        replanning._schedule_once(scheduler, 1.0)
    assert [d for d, _ in timers.started] == [1.0]
    replanning._schedule_once(scheduler, 0.01)  # due sooner than the pending one: started too
    assert [d for d, _ in timers.started] == [1.0, 0.01]
    timers.started[-1][1]()  # it fires: the round it starts asks again, and gets a timer
    assert scheduler._open_jobs.acquire(blocking=False)
    replanning._schedule_once(scheduler, 1.0)
    assert len(timers.started) == 3


def test_snakemake_has_the_method_the_patch_replaces():
    from snakemake.scheduling.job_scheduler import JobScheduler

    assert callable(JobScheduler.__dict__.get("_schedule_reevalutation")), "Snakemake renamed its re-plan"


@pytest.mark.slow
def test_a_rate_limited_run_still_starts_every_job_in_its_turn(tmp_path):
    """2 jobs a second (--max-jobs-per-timespan 2/1s), 6 ready at once: the rate limit's re-plans
    must still come, or the run would stall (the timeout) after the first two jobs."""
    (tmp_path / "Snakefile").write_text(PATCHED + SPACED, encoding="utf-8")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "6", "--max-jobs-per-timespan", "2/1s"]
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    starts = sorted(float((tmp_path / "out" / f"{i}.txt").read_text()) for i in range(6))
    assert starts[-1] - starts[0] >= 1.5  # three pairs, a second apart
