"""Resume state of the training harness: what last.pt must hold, how it is restored, the loss curve.

`last.pt` is untrusted input like any checkpoint (another tool's file, a truncated copy, one from
another run or method): it is read with `read_checkpoint` (no code runs), then every key the resume
needs is checked before anything is restored, so a foreign file is one line naming it, not a
KeyError. The loss curve rows up to the checkpoint's step are stored in last.pt itself
(`loss_rows`), so `loss.csv` is only a view of them: it is never read, and a damaged or stale
loss.csv never blocks a resume.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import torch

from patch2loc.errors import InputError
from patch2loc.files.staging import atomic_output
from patch2loc.run.checkpoint import numpy_rng_from_plain, numpy_rng_to_plain, read_checkpoint

_NEEDED = {
    "model": dict,
    "optimizer": dict,
    "rng": dict,
    "config": dict,
    "subjects": dict,
    "step": int,
    "best_val_loss": (int, float),
    "loss_rows": list,
}
_START_OVER = "Delete it (or move it away) to start over, or use another --out."


def rng_state(generator: torch.Generator) -> dict:
    return {
        "torch_cpu": torch.get_rng_state(),
        "torch_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": numpy_rng_to_plain(np.random.get_state()),
        "python": random.getstate(),
        "sampler": generator.get_state(),
    }


def set_rng_state(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch_cpu"])
    if state["torch_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])
    np.random.set_state(numpy_rng_from_plain(state["numpy"]))
    random.setstate(state["python"])
    generator.set_state(state["sampler"])


def write_loss_csv(path: Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _row(raw: dict, columns: tuple[str, ...]) -> dict:
    return {k: (int(raw[k]) if k == "step" else float(raw[k])) for k in columns}


def _check_fits(ckpt: dict, last_path: Path, config: dict, must_match: tuple[str, ...], subjects: dict) -> None:
    wrong = [k for k, kind in _NEEDED.items() if not isinstance(ckpt.get(k), kind)]
    if wrong:
        raise InputError(
            f"{last_path}: not a resume state written by patch2loc train (missing or wrong: "
            f"{', '.join(wrong)}). {_START_OVER}"
        )
    changed = [k for k in must_match if ckpt["config"].get(k) != config[k]]
    if changed or ckpt["subjects"] != subjects:
        raise InputError(
            f"{last_path}: written by a run with different {changed or ['subjects']}. Delete "
            f"{last_path.parent} to start over, or use another output folder."
        )


def restore(
    task, last_path: Path, config: dict, must_match: tuple[str, ...], subjects: dict
) -> tuple[int, float, list[dict]]:
    """Load last.pt into the task's model, optimiser, extra state and random generators; returns
    (step, best validation loss, loss rows up to that step)."""
    ckpt = read_checkpoint(
        last_path, "resume state", fix="Delete it to start over (or restore it).", method=task.method
    )
    _check_fits(ckpt, last_path, config, must_match, subjects)
    try:
        rows = [_row(r, task.columns) for r in ckpt["loss_rows"]]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:100]
        raise InputError(
            f"{last_path}: its loss_rows are not this method's loss curve ({detail}). {_START_OVER}"
        ) from None
    try:
        # RNG states stay CPU tensors; load_state_dict moves weights and optimiser state to the device.
        task.model.load_state_dict(ckpt["model"])
        task.optimizer.load_state_dict(ckpt["optimizer"])
        task.load_extra_state(ckpt)
        set_rng_state(ckpt["rng"], task.generator)
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:100]
        raise InputError(
            f"{last_path}: its weights, optimizer or random state do not fit this model ({detail}). {_START_OVER}"
        ) from None
    step = ckpt["step"]
    return step, float(ckpt["best_val_loss"]), [r for r in rows if r["step"] <= step]


class NothingExtra:
    """For a task whose model, optimiser and generator are all there is to resume: no checkpoint
    entries of its own (`TrainingTask.extra_state`, `load_extra_state`)."""

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, ckpt: dict) -> None:
        pass
