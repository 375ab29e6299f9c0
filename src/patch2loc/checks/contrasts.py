"""The channels of a model of several contrasts checked, one rule for predict, the BIDS App and the
workflow's stacking (docs/multimodal.md, docs/input-safety.md).

Before any registration (`check_distinct`): no file, nor the same bytes, in two channels, and files
whose BIDS names spell two subjects never stacked; with given brain masks (`check_brain_volumes`),
each holds at least MIN_COVERAGE of the largest one's brain in mL (a slab does not). After each contrast's registration to the atlas
(`check_channels`, on the stack's grid): each contrast's brain mask covers at least MIN_COVERAGE of
the reference's; no channel is a monotone copy of another (the same scan normalised twice); and
each channel has its contrast's tissue order. The tissue order is read without a segmentation: the
brain's rim (cortex and sulcal CSF) is darker than its white-matter core on T1 and brighter on T2
(`rim_contrast`; measured on the demo's scans: -0.38 to -0.54 on T1, +0.20 to +0.41 on T2).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np

from patch2loc.errors import InputError

MIN_COVERAGE = 0.6  # of the reference's brain voxels each other contrast's mask must hold (demo pairs: 0.80-0.86)
SAME_SCAN_RANK = 0.98  # a Spearman correlation at least this high: one scan in two channels
TISSUE_MARGIN = 0.05  # a rim contrast of the wrong sign beyond this margin is the wrong tissue order
RIM_DARKER = {"T1": True, "T2": False}  # on T1 CSF and grey matter are darker than white matter
SKIP_FLAG = "--skip-tissue-order"


class ChannelProblem(InputError):
    """A channel that is not its contrast of the reference's subject (its message is the line)."""


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _subject(path: Path) -> str | None:
    found = re.search(r"(?:^|_)sub-([A-Za-z0-9]+)(?:_|$)", Path(path).name.split(".")[0])
    return found.group(1) if found else None


def check_distinct(named: dict[str, Path]) -> None:
    """{flag: scan} of every channel: one line when two name one file (a link, a hard link), hold the
    same bytes, or carry BIDS names of two subjects."""
    seen: dict[object, str] = {}
    for flag, path in named.items():
        path = Path(path)
        stat = os.stat(path)
        for key in (("inode", stat.st_dev, stat.st_ino), ("bytes", stat.st_size, _digest(path))):
            if key in seen:
                raise ChannelProblem(
                    f"{path}: {flag} is the same {'file' if key[0] == 'inode' else 'scan (the same bytes)'} as "
                    f"{seen[key]}; each contrast needs its own scan of the subject. Pass the right file to {flag}."
                )
            seen[key] = f"{flag} {path}"
    subjects = {flag: _subject(p) for flag, p in named.items()}
    named_ones = {s for s in subjects.values() if s is not None}
    if len(named_ones) > 1:
        listed = ", ".join(f"{flag} sub-{s}" for flag, s in subjects.items() if s is not None)
        raise ChannelProblem(
            f"{next(iter(named.values()))}: the scans' BIDS names are of different subjects ({listed}); the "
            "contrasts of one stack must be one subject's. Pass that subject's scans."
        )


def brain_ml(mask: Path) -> float:
    """The brain a mask holds, in mL (its voxels times their volume)."""
    import nibabel as nib

    from patch2loc.checks.claims import quiet_nibabel

    with quiet_nibabel():
        img = nib.load(str(mask))
    voxels = np.count_nonzero(np.asarray(img.dataobj))
    return float(voxels * abs(np.linalg.det(img.affine[:3, :3])) / 1000.0)


def check_brain_volumes(named: dict[str, Path]) -> None:
    """{flag: brain mask} of every channel, the reference first: one line when one holds less than
    MIN_COVERAGE of another's brain (a slab, another region). Read before any registration, where an
    affine registration would stretch a slab over the whole atlas."""
    volumes = {flag: brain_ml(path) for flag, path in named.items()}
    small = min(volumes, key=volumes.get)
    large = max(volumes, key=volumes.get)
    if volumes[small] < MIN_COVERAGE * volumes[large]:
        raise ChannelProblem(
            f"{named[small]}: {small}'s brain mask holds {volumes[small]:,.0f} mL, {large}'s "
            f"{volumes[large]:,.0f} mL ({volumes[small] / volumes[large]:.0%}, at least {MIN_COVERAGE:.0%} needed): "
            "a partial scan (a slab) or another region. Pass whole-brain scans of the same subject and session."
        )


def rim_contrast(image: np.ndarray, brain: np.ndarray) -> float:
    """(median of the brain's outer fifth - median of its inner two fifths, by depth) / the in-brain
    5-95 % spread: below 0 when the rim is darker than the core (T1), above 0 when brighter (T2)."""
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(brain)
    inside, values = depth[brain], image[brain]
    rim, core = values[inside <= np.quantile(inside, 0.2)], values[inside >= np.quantile(inside, 0.6)]
    low, high = np.percentile(values, [5, 95])
    if rim.size == 0 or core.size == 0 or high <= low:
        return 0.0
    return float((np.median(rim) - np.median(core)) / (high - low))


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values)


def _coverage(mask: np.ndarray, reference: np.ndarray) -> float:
    return float(np.count_nonzero(mask & reference) / max(np.count_nonzero(reference), 1))


def check_channels(
    images: list[np.ndarray], masks: list[np.ndarray], contrasts: list[str], labels: list[str], tissue_order=True
) -> dict:
    """The stack's channels (each contrast's normalised image and brain mask on the atlas grid, the
    reference first) checked; `labels` name each channel in a refusal (the flag and file). Returns what
    the summary records: {contrasts, coverage, rim_contrast, tissue_order_checked}. tissue_order=False
    (SKIP_FLAG): a wrong order is returned, not refused, for unusual sequences."""
    reference = masks[0]
    coverage = [_coverage(m, reference) for m in masks]
    for c in range(1, len(masks)):
        if coverage[c] < MIN_COVERAGE:
            raise ChannelProblem(
                f"{labels[c]}: after registration its brain mask covers {coverage[c]:.1%} of the reference scan's "
                f"brain (at least {MIN_COVERAGE:.0%} needed): a partial scan (a slab) or another region. Pass a "
                "whole-brain scan of the same subject and session."
            )
    common = np.logical_and.reduce(masks)
    ranks = [_ranks(image[common]) for image in images]
    for c in range(1, len(images)):
        for d in range(c):
            rho = float(np.corrcoef(ranks[c], ranks[d])[0, 1]) if ranks[c].size > 1 else 1.0
            if rho >= SAME_SCAN_RANK:
                raise ChannelProblem(
                    f"{labels[c]}: its voxels follow {labels[d]}'s one for one (rank correlation {rho:.3f}): the same "
                    f"scan in two channels. Pass the subject's {contrasts[c]} scan."
                )
    rims = [rim_contrast(image, common) for image in images]
    for c, name in enumerate(contrasts):
        check_tissue_order(rims[c], name, labels[c], refuse=tissue_order)
    return {
        "contrasts": list(contrasts),
        "coverage": [round(v, 4) for v in coverage],
        "rim_contrast": [round(v, 4) for v in rims],
        "tissue_order_checked": bool(tissue_order),
    }


def tissue_order_problem(rim: float, contrast: str) -> str | None:
    """Why a channel's rim contrast is not its contrast's tissue order (None when it is, or unknown)."""
    darker = RIM_DARKER.get(contrast)
    if darker is None:
        return None
    wrong = rim > TISSUE_MARGIN if darker else rim < -TISSUE_MARGIN
    if not wrong:
        return None
    seen, expected = ("brighter", "darker") if darker else ("darker", "brighter")
    return (
        f"its tissue order is not a {contrast}'s: the brain's rim (CSF, cortex) is {seen} than its white-matter "
        f"core (rim contrast {rim:+.2f}), on {contrast} it is {expected}"
    )


def check_tissue_order(rim: float, contrast: str, label: str, refuse: bool = True) -> None:
    """One line when a channel's order is not its contrast's: a refusal, or (refuse=False) a warning."""
    problem = tissue_order_problem(rim, contrast)
    if problem is not None and not refuse:
        from patch2loc.checks.intensities import warn_once

        warn_once(f"{label}: {problem} ({SKIP_FLAG}: scored as given).")
    elif problem is not None:
        raise ChannelProblem(
            f"{label}: {problem}: swapped contrasts or another sequence. Pass the {contrast} scan in this "
            f"channel, or {SKIP_FLAG} for an unusual sequence."
        )
