"""A scoring job's stages side by side: reading the next volumes on a thread, scoring the current
one (on the GPU, where there is one), finishing the one before it on a thread of its own (the median
filter, on a second GPU stream beside the next volume's network), grading the ones before that on
other threads.

Reading a volume, resampling maps to the scan's own grid, the metrics and the writing are the CPU's;
the job's one thread that drives the device only scores, so the GPU does not wait for them. Each
stage is bounded: at most `depth` volumes read ahead, one being finished and at most max(depth,
graders) scored volumes being graded or waiting for it, so a job holds at most depth + 2 +
max(depth, graders) volumes in memory whatever the dataset's size. Results come back in the order
of the inputs, so the outputs are the same as scoring one volume after another. A failure in any
stage (a volume that cannot be read, say) stops the job with that error, after the work under way
has finished and the work not started has been dropped: nothing is left half-written.

The graders are threads: grading is NumPy, SciPy and pandas on arrays already in memory. Forked
grading processes were measured slower on a GPU job (docs/gpu.md) and a fork of a process that
runs CUDA and OpenMP threads can hang a child, so a job never forks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

DEPTH = 2  # volumes read ahead, and scored volumes waiting for their grading
_END = object()


def pipelined(
    items: Iterable,
    read: Callable,
    score: Callable,
    grade: Callable,
    *,
    depth: int = DEPTH,
    graders: int = 1,
    finish: Callable | None = None,
) -> list:
    """[grade(item, case, finish(item, case, score(item, case))) for item in items], case =
    read(item), with `read` on a thread ahead of `score` (the caller's thread), `finish` (None: as
    scored) on a thread behind it and `grade` on `graders` threads behind that."""
    if depth < 1 or graders < 1:
        raise ValueError(f"pipelined: depth and graders must be >= 1, got {depth} and {graders}")
    return _run(list(items), read, score, finish, grade, depth, graders)


def sequential(items: Iterable, read: Callable, score: Callable, grade: Callable, *, finish=None, **_) -> list:
    """What `pipelined` returns, one volume after another on the caller's thread (its stage options
    are accepted and ignored): the reference its outputs are compared with."""
    out = []
    for item in items:
        case = read(item)
        scored = score(item, case)
        out.append(grade(item, case, scored if finish is None else finish(item, case, scored)))
    return out


def _run(items: list, read, score, finish, grade, depth: int, graders: int) -> list:
    results: list = []
    reading: deque[Future] = deque()
    finishing: deque[tuple] = deque()  # (item, case, future of the finished scores): one at a time
    grading: deque[Future] = deque()

    def to_grading(item, case, scored) -> None:
        while len(grading) >= max(depth, graders):  # bounded: wait for the oldest grading first
            results.append(grading.popleft().result())
        grading.append(pool.submit(grade, item, case, scored))

    def finished() -> None:
        item, case, future = finishing.popleft()
        to_grading(item, case, future.result())

    with (
        ThreadPoolExecutor(graders, thread_name_prefix="grade") as pool,
        ThreadPoolExecutor(1, thread_name_prefix="read") as reader,
        ThreadPoolExecutor(1, thread_name_prefix="finish") as finisher,
    ):
        try:
            ahead = iter(items)
            for item in ahead:  # the first reads
                reading.append(reader.submit(read, item))
                if len(reading) == depth:
                    break
            for item in items:
                case = reading.popleft().result()
                nxt = next(ahead, _END)
                if nxt is not _END:
                    reading.append(reader.submit(read, nxt))
                scored = score(item, case)
                if finish is None:
                    to_grading(item, case, scored)
                else:  # this volume's finishing runs beside the next one's scoring
                    if finishing:
                        finished()
                    finishing.append((item, case, finisher.submit(finish, item, case, scored)))
                del case, scored
            while finishing:
                finished()
            while grading:
                results.append(grading.popleft().result())
        except BaseException:
            # work not started is dropped; the rest ends before the error
            for future in (*reading, *(f for *_, f in finishing), *grading):
                future.cancel()
            raise
    return results
