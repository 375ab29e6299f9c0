"""PLACEHOLDER (branch `native` only): the lesion sets' own challenge metrics are written by another
helper in parallel, with this interface; the lead merges the real module over this one.

    challenge_metrics(challenge, pred_bool, truth_bool, spacing_xyz, ignore=None) -> dict[str, float]
    columns(challenge) -> list[str]

challenge: "wmh", "isles22", "brats23" or "mslub" (config/datasets.yaml, key `challenge`).
"""

from __future__ import annotations

CHALLENGES = ("wmh", "isles22", "brats23", "mslub")


def challenge_metrics(challenge, pred_bool, truth_bool, spacing_xyz, ignore=None) -> dict[str, float]:
    raise NotImplementedError("patch2loc.evaluation.challenges is a placeholder in this branch")


def columns(challenge) -> list[str]:
    raise NotImplementedError("patch2loc.evaluation.challenges is a placeholder in this branch")
