"""Grading one scored volume of a lesion set: its metrics row (voxel-wise, lesion-wise at the
unsupervised threshold, the set's challenge metrics, the atlas-grid columns, the reference
protocol's) in `evaluate.space`, and its lesion rows. Runs on the scoring job's grading threads
(evaluation/dataset/pipeline.py), so it writes nothing shared: what the merge needs comes back in
a `Collected` of its own, which the job joins in the volumes' order."""

from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np

from patch2loc.evaluation.dataset.volume_scores import volume_columns
from patch2loc.scoring import ScoredScan


def graded(scan, vol: ScoredScan, case, cfg, dataset: str):
    """(score, truth, brain, spacing, labels) a volume's lesion metrics are computed on: its own
    grid (space native: labels are the raw label values) or the atlas grid (labels None)."""
    if cfg.space == "atlas":
        spacing = np.linalg.norm(case.image.affine[:3, :3], axis=0)
        return vol.score, case.seg, case.mask, spacing, None
    if scan.native is None:
        raise ValueError(f"{scan.subject}: evaluate.space native needs the scan's native files (Scan.native)")
    from patch2loc.data.layouts import binarize_seg
    from patch2loc.evaluation.dataset.scan_grid import load_native

    nv = load_native(scan.native, vol.score, case.mask, case.image.affine)
    truth = binarize_seg(dataset, nv.labels, wmh_other_pathology=cfg.wmh_other_pathology)
    return nv.score, truth, nv.brain, nv.spacing, nv.labels


def _challenge(challenge: str, pred: np.ndarray, labels: np.ndarray, spacing) -> dict:
    """The lesion set's own challenge metrics (evaluation/challenges), on the native grid: the
    prediction inside the scored region, every ground-truth voxel (the challenges count lesions
    outside any brain mask as missed), the labels read as the challenge reads them (WMH's label 2
    left out, BraTS' three tumour regions)."""
    from patch2loc.evaluation import challenges

    return challenges.label_metrics(challenge, pred, labels, tuple(float(s) for s in spacing))


# Scored natively, a volume is also graded on the atlas grid (the authors' protocol) for the table
# that puts the two side by side (tables/table1_spaces.*): a few tenths of a second per volume.
ATLAS_COLUMNS = ("atlas_auprc", "atlas_best_dice", "atlas_dice_unsup", "atlas_lesion_voxels")


def _atlas_too(vol: ScoredScan, case, cfg, threshold: float, evaluate_volume) -> dict:
    if cfg.space == "atlas":
        return {}
    m = evaluate_volume(vol.score, case.seg, case.mask, region=cfg.region, threshold=threshold)
    values = (m["auprc"], m["best_dice"], m["dice_at_threshold"], m["lesion_voxels"])
    return dict(zip(ATLAS_COLUMNS, values))


def _reference(method: str, vol: ScoredScan, case, cfg, pooled: list | None, entry: dict) -> dict:
    """evaluate.protocol reference: the volume's metrics under its method's own protocol (on the
    atlas grid, from the raw map; scoring/protocol.py), as ref_* columns, its histogram added to
    `pooled` where that protocol pools AUPRC and to `entry` where it tunes Dice on validation volumes;
    shared: none."""
    if cfg.protocol != "reference":
        return {}
    from patch2loc.scoring.protocol import in_plane_spacing, reference_columns

    spacing = in_plane_spacing(case.image.affine)  # an erosion in mm (Baur's) in voxels of this grid
    return reference_columns(method, vol.raw["score"], case.seg, case.mask, pooled, entry, spacing)


@dataclass
class Collected:
    """What score_lesions gathers for the merge: pooled-AUPRC histograms and, per volume, the code
    histograms of its validation-tuned Dice (evaluation/dataset/tuned_dice.py)."""

    pooled: list = field(default_factory=list)
    tuning: list = field(default_factory=list)


def grade_volume(method, scan, vol: ScoredScan, case, cfg, meta, threshold, challenge, out):
    """The volume's metrics row and its lesion rows, graded in `cfg.space`; its tuning entry into `out`."""
    from patch2loc.evaluation.lesionwise.volume import lesion_metrics
    from patch2loc.scoring.metrics import evaluate_volume
    from patch2loc.scoring.tuning import code_histogram

    score, truth, brain, spacing, labels = graded(scan, vol, case, cfg, meta.get("dataset", ""))
    m = evaluate_volume(score, truth, brain, region=cfg.region, threshold=threshold)
    # Lesion-wise, at the same threshold and in the same region as dice_unsup.
    region = brain if cfg.region == "brain" else np.ones(brain.shape, bool)
    pred = (score >= threshold) & region
    lesionwise, lesions = lesion_metrics(pred, truth & region, spacing, cfg.lesion_rule)
    own = _challenge(challenge, pred, labels, spacing) if challenge and labels is not None else {}
    entry = {"subject": scan.subject, "shared": code_histogram(score, truth, region), "ref": None}
    row = {
        **meta,
        "subject": scan.subject,
        "region": cfg.region,
        "space": cfg.space,
        "auprc": m["auprc"],
        "auroc": m["auroc"],
        "best_dice": m["best_dice"],
        "best_threshold": m["best_threshold"],
        "dice_unsup": m["dice_at_threshold"],
        "unsup_threshold": threshold,
        "lesion_voxels": m["lesion_voxels"],
        **lesionwise,
        **own,
        **_atlas_too(vol, case, cfg, threshold, evaluate_volume),
        **_reference(method, vol, case, cfg, out.pooled, entry),
        # Table 4: one score per volume, in atlas space like the healthy volumes' it is ranked against
        **volume_columns(vol.score[case.mask], threshold),
    }
    out.tuning.append(entry)
    return row, [{**meta, "subject": scan.subject, **lesion} for lesion in lesions], m
