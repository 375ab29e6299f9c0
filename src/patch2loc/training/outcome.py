"""Why a training ended without its best.pt, in one line: the harness's ending (training/harness.py)."""

from __future__ import annotations

import math
from pathlib import Path

from patch2loc.errors import InputError


def no_best(best_path: Path, rows: list, steps: int, resumed: bool, made: tuple[Path, ...]) -> None:
    """A training that ended without its best.pt: one line saying why (no validation step, or every
    validation loss not finite: diverged); a run that started here removes what it wrote."""
    if not resumed:
        for path in made:
            path.unlink(missing_ok=True)
    if not rows:
        why = f"no validation step ran (steps={steps})"
        fix = "raise steps"
    elif any(math.isfinite(r["val_loss"]) for r in rows):  # resumed at its last step, best.pt gone since
        why = f"no step ran: the resume state {made[0].name} is already at step {steps} and best.pt is missing"
        fix = f"restore best.pt, or delete {made[0].name}"
    else:
        losses = ", ".join(f"{r['val_loss']:.3g}" for r in rows[-3:])
        why = f"training diverged: no validation loss was finite (the last: {losses})"
        fix = "lower lr (or use amp none)"
    raise InputError(f"{best_path}: not written, {why}; {fix} and train again.")
