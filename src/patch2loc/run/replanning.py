"""One pending re-plan in Snakemake's scheduler, instead of one more for every finished job.

Snakemake 9's scheduler (snakemake/scheduling/job_scheduler.py) ends each planning round by asking,
for its job rate limit, to plan again a timespan later (1 s by default), on a timer thread of its
own. A round started by a finished job starts one more such chain, so after k finished jobs it
plans about k times a second and holds k timer threads: the Snakemake process's CPU grows with the
run (docs/measurements.md; snakemake/snakemake#2967 reports the threads and the CPU growing). Here a
scheduler keeps one pending timer, the earliest asked for: it plans again within the timespan
whenever something waits on the rate limit, as before, and no more often.

Applied by rules/common.smk inside the Snakemake process. A Snakemake whose scheduler lacks the
method is left as it is (the workflow then runs as Snakemake ships it).
"""

from __future__ import annotations

import threading
import time

_LOCK = threading.Lock()


def _schedule_once(scheduler, delay: float) -> None:
    """JobScheduler._schedule_reevalutation(delay) with at most one timer pending: a request due no
    sooner than the pending timer is already served by it."""
    due = time.monotonic() + delay
    with _LOCK:
        pending = getattr(scheduler, "_p2l_replan_due", None)
        if pending is not None and pending <= due:
            return
        scheduler._p2l_replan_due = due

    def fire() -> None:
        with _LOCK:  # cleared before the round it starts asks again: that round schedules the next
            if getattr(scheduler, "_p2l_replan_due", None) == due:
                scheduler._p2l_replan_due = None
        scheduler._open_jobs.release()

    threading.Timer(delay, fire).start()


def coalesce_replanning() -> bool:
    """Patch Snakemake's JobScheduler in this process; True if it was (or already is) patched."""
    try:
        from snakemake.scheduling.job_scheduler import JobScheduler
    except ImportError:
        return False
    if JobScheduler.__dict__.get("_schedule_reevalutation") is _schedule_once:
        return True
    if not callable(JobScheduler.__dict__.get("_schedule_reevalutation")):
        return False
    JobScheduler._schedule_reevalutation = _schedule_once
    return True
