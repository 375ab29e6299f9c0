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

Grading holds the GIL for much of its time (label components, table rows), so threads alone keep a
small network's GPU waiting. With `processes`, the graders are forked processes (the parent's
modules and the grading function come with the fork; the volumes travel pickled, a few tens of
milliseconds each), made before the reader thread starts. A forked grader never touches the GPU
(grading is NumPy, SciPy, pandas and torch on the CPU) and runs torch on one thread.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

DEPTH = 2  # volumes read ahead, and scored volumes waiting for their grading
_END = object()
_GRADE: list[Callable] = []  # the grading function a forked grader inherits (one pipeline at a time)


def _forked_grade(*args):
    return _GRADE[-1](*args)


def _one_thread() -> None:
    """A forked grader's torch runs on one thread: the parent's OpenMP pool does not survive a
    fork, and a forked child that enters it hangs (HD95 goes through torch)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


class _Graders:
    """The grading pool: threads, or processes forked at once (before the reader thread starts). If
    a forked grader dies (a crash, the memory killer), its volume and the rest are graded on
    threads, with one line saying so."""

    def __init__(self, graders: int, processes: bool, grade: Callable):
        self.grade = grade
        self.threads = ThreadPoolExecutor(graders, thread_name_prefix="grade")
        self.processes = None
        if processes:
            context = multiprocessing.get_context("fork")
            self.processes = ProcessPoolExecutor(graders, mp_context=context, initializer=_one_thread)
            self.processes.submit(int).result()  # a fork start forks every worker at the first submit

    def submit(self, *args) -> tuple[Future, tuple]:
        if self.processes is not None:
            return self.processes.submit(_forked_grade, *args), args
        return self.threads.submit(self.grade, *args), args

    def result(self, entry: tuple[Future, tuple]):
        future, args = entry
        try:
            return future.result()
        except BrokenProcessPool as err:
            if self.processes is not None:
                print(f"warning: a grading process ended abruptly ({err}); grading goes on in threads", file=sys.stderr)
                self.processes.shutdown(wait=False, cancel_futures=True)
                self.processes = None
            return self.threads.submit(self.grade, *args).result()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.processes is not None:
            self.processes.shutdown()
        self.threads.shutdown()


def pipelined(
    items: Iterable,
    read: Callable,
    score: Callable,
    grade: Callable,
    *,
    depth: int = DEPTH,
    graders: int = 1,
    processes: bool = False,
    finish: Callable | None = None,
) -> list:
    """[grade(item, case, finish(item, case, score(item, case))) for item in items], case =
    read(item), with `read` on a thread ahead of `score` (the caller's thread), `finish` (None: as
    scored) on a thread behind it and `grade` on `graders` threads (or forked processes) behind that."""
    if depth < 1 or graders < 1:
        raise ValueError(f"pipelined: depth and graders must be >= 1, got {depth} and {graders}")
    items = list(items)
    _GRADE.append(grade)
    try:
        return _run(items, read, score, finish, _Graders(graders, processes, grade), depth, graders)
    finally:
        _GRADE.pop()


def sequential(items: Iterable, read: Callable, score: Callable, grade: Callable, *, finish=None, **_) -> list:
    """What `pipelined` returns, one volume after another on the caller's thread (its stage options
    are accepted and ignored): the reference its outputs are compared with."""
    out = []
    for item in items:
        case = read(item)
        scored = score(item, case)
        out.append(grade(item, case, scored if finish is None else finish(item, case, scored)))
    return out


def _run(items: list, read, score, finish, pool: _Graders, depth: int, graders: int) -> list:
    results: list = []
    reading: deque[Future] = deque()
    finishing: deque[tuple] = deque()  # (item, case, future of the finished scores): one at a time
    grading: deque[tuple[Future, tuple]] = deque()

    def to_grading(item, case, scored) -> None:
        while len(grading) >= max(depth, graders):  # bounded: wait for the oldest grading first
            results.append(pool.result(grading.popleft()))
        grading.append(pool.submit(item, case, scored))

    def finished() -> None:
        item, case, future = finishing.popleft()
        to_grading(item, case, future.result())

    # the finishing thread starts after the pool forked its graders (a fork copies no thread)
    with (
        pool,
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
                results.append(pool.result(grading.popleft()))
        except BaseException:
            # work not started is dropped; the rest ends before the error
            for future in (*reading, *(f for *_, f in finishing), *(f for f, _ in grading)):
                future.cancel()
            raise
    return results
