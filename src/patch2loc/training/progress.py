"""Progress of a long loop (training steps, scoring batches): a bar on a terminal, lines in a log.

tqdm redraws its bar with carriage returns; written to a file (Snakemake's `log:`, a SLURM job's
output) that is one endless line that neither `grep`, `less` nor `tail -f` can read. Where stderr
is not a terminal, progress is instead one plain line every `every` steps and one per event
(a validation), each with the step, the values given, the rate and the time left:

    train Patch2Loc: step 250/900 (28%) val_loss=1.234 train_loss=1.5 | 2.31 step/s, ETA 4m41s
"""

from __future__ import annotations

import sys
import time


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _values(values: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


class LineProgress:
    """tqdm's small interface (update, set_postfix, close) as plain lines to a stream."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = "step", every: int = 100, file=None):
        self.total, self.n, self.desc, self.unit, self.every = total, initial, desc, unit, max(int(every), 1)
        self.file = file or sys.stderr
        self._start_n, self._start = initial, time.perf_counter()
        self._values: dict = {}

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n % self.every == 0 and self.n < self.total:
            self.line()

    def set_postfix(self, values: dict | None = None, **kwargs) -> None:
        """Values shown on the following lines; a dict with 'val_loss' is an event: its own line,
        and only that one (so that `grep val_loss` gives one line per validation)."""
        values = {**(values or {}), **kwargs}
        if "val_loss" in values:
            self._values, kept = values, self._values
            self.line()
            self._values = kept
        else:
            self._values = values

    def line(self) -> None:
        elapsed = time.perf_counter() - self._start
        done = self.n - self._start_n
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else float("nan")
        share = f" ({100 * self.n // self.total}%)" if self.total else ""
        values = f" {_values(self._values)}" if self._values else ""
        timing = f"{rate:.3g} {self.unit}/s, ETA {_duration(eta) if eta == eta else '?'}"
        print(f"{self.desc}: {self.unit} {self.n}/{self.total}{share}{values} | {timing}", file=self.file, flush=True)

    def close(self) -> None:
        pass


class _Off:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, values: dict | None = None, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def progress(total: int, *, initial: int = 0, desc: str = "", unit: str = "step", enabled: bool = True, every=100):
    """A tqdm bar where stderr is a terminal, else a `LineProgress` (one line per `every` units and
    per validation); nothing when not `enabled`."""
    if not enabled:
        return _Off()
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit=unit)
    return LineProgress(total, initial, desc, unit, every)
