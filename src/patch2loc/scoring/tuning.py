"""Dice at a threshold tuned on labelled validation volumes, when the volumes are scored in separate jobs.

A scoring shard cannot know the tuned threshold: it is chosen on other volumes, which other shards
score. So each volume leaves a compact histogram of its graded map (lesion and other voxels per
score code), and the threshold is tuned and applied when the shards are merged
(evaluation/dataset/tuned_dice.py). A code is the score's float32 value floored to its top 16 bits in an
order-preserving key (sign, exponent and 7 mantissa bits, i.e. a bfloat16 floor): "code >= c" holds
exactly when "score >= threshold_of(c)", so the Dice a histogram gives at a code is the exact Dice of
that threshold; thresholds are searched on that grid (steps of 2^-7 relative, under 0.8 %). A volume
keeps at most a few thousand codes (128 per octave of its scores) where float16 would keep tens of
thousands: 1,251 BraTS volumes fit in tens of MB.
"""

from __future__ import annotations

import numpy as np

CodeHistogram = tuple[np.ndarray, np.ndarray, np.ndarray]  # (codes ascending uint16, lesion counts, other counts)
CODES = 1 << 16


def codes_of(values: np.ndarray) -> np.ndarray:
    """Order-preserving uint16 code of each float32 value (its floor on the bfloat16 grid)."""
    values = np.asarray(values, dtype=np.float32) + np.float32(0.0)  # -0.0 -> 0.0: equal values, one code
    bits = np.ascontiguousarray(values).view(np.uint32)
    negative = (bits >> 31).astype(bool)
    key = np.where(negative, ~bits, bits | np.uint32(0x80000000))  # ascending in the value
    return (key >> 16).astype(np.uint16)


def threshold_of(code: int) -> float:
    """The smallest float32 whose code is `code`: "score >= threshold_of(c)" is "code >= c"."""
    key = np.uint32(int(code) << 16)  # the smallest key with this code
    bits = key & np.uint32(0x7FFFFFFF) if key & np.uint32(0x80000000) else ~key
    value = float(np.array([bits], np.uint32).view(np.float32)[0])
    return -np.inf if np.isnan(value) else value  # the code of -inf starts among NaN bit patterns


def code_histogram(score: np.ndarray, truth: np.ndarray, keep: np.ndarray | None = None) -> CodeHistogram:
    """Lesion and other voxel counts per code of the graded map (in `keep`, or the whole volume)."""
    s, y = np.asarray(score, np.float32), np.asarray(truth) > 0
    if keep is not None:
        s, y = s[keep], y[keep]
    codes = codes_of(np.nan_to_num(s.ravel(), nan=-np.inf))
    lesion = np.bincount(codes, weights=y.ravel(), minlength=CODES).astype(np.int64)
    total = np.bincount(codes, minlength=CODES).astype(np.int64)
    seen = np.flatnonzero(total).astype(np.uint16)
    return seen, lesion[seen], (total - lesion)[seen]


def _dense(hists: list[CodeHistogram]) -> tuple[np.ndarray, np.ndarray]:
    lesion, other = np.zeros(CODES, np.int64), np.zeros(CODES, np.int64)
    for codes, les, oth in hists:
        np.add.at(lesion, codes.astype(np.int64), les)
        np.add.at(other, codes.astype(np.int64), oth)
    return lesion, other


def tune_code(hists: list[CodeHistogram]) -> int | None:
    """The code of the highest Dice over the pooled voxels of the given (validation) volumes; None when
    they hold no lesion voxel. Dice is flat between two codes the volumes hold, so the best is a step of
    codes: its middle is taken (a margin on both sides, as a bisection between the two scores would
    settle), not an edge that fits these volumes' scores exactly."""
    lesion, other = _dense(hists)
    positives = int(lesion.sum())
    if positives == 0:
        return None
    tp = np.cumsum(lesion[::-1])[::-1]  # voxels at or above each code
    predicted = tp + np.cumsum(other[::-1])[::-1]
    dice = 2.0 * tp / (predicted + positives)
    low = int(np.argmax(dice))  # the lowest code of the best step
    seen = np.flatnonzero(lesion + other)
    high = int(seen[np.searchsorted(seen, low)])  # the code that starts it: the step is low..high
    return (low + high) // 2


def dice_at_code(hist: CodeHistogram, code: int | None) -> float:
    """One volume's Dice of "score >= threshold_of(code)" (scoring.metrics.dice_at's); NaN without a
    code or without lesion voxels."""
    codes, lesion, other = hist
    positives = int(lesion.sum())
    if code is None or positives == 0:
        return float("nan")
    above = codes >= code
    tp, predicted = int(lesion[above].sum()), int((lesion + other)[above].sum())
    return float(2.0 * tp / (predicted + positives))
