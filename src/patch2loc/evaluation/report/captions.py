"""The tables' captions, written once: the rules pass them to the table scripts (written above
each table's .md and .tex, and shown by the HTML report) and to Snakemake's report (the
workflow/report/table*.rst captions show `snakemake.params.caption`). Light: the workflow reads
it to build its DAG."""

from __future__ import annotations

from patch2loc.evaluation.lesionwise.rule import LesionRule

PUBLISHED_NOTE = (
    "Rows 'this harness': every method run by this pipeline under one protocol (same "
    "preprocessing, splits, brain masks, post-processing and metric code). Rows 'published': "
    "the paper's table, computed by another harness on other test subsets (BraTS21: 1,151 test "
    "volumes there; MSLUB: 20; ours are the lists in splits/) and other preprocessing: not "
    "directly comparable with the rows above them."
)
# Table 3 and its strata: the prediction they count.
AT_THRESHOLD = (
    "at the unsupervised threshold (the {quantile:g} quantile of in-brain scores of the healthy IXI "
    "test volumes, per model)"
)
# Where the lesion sets were scored (evaluate.space; docs/evaluation.md, "Native and atlas space").
SPACES = {
    "native": (
        "Lesion sets scored on each scan's own grid: the map taken back through the inverse of the "
        "scan's registration, the dataset's labels as delivered, the native brain mask."
    ),
    "atlas": (
        "Lesion sets scored in atlas space: labels registered by nearest neighbour, the atlas-space "
        "brain mask (the authors' protocol)."
    ),
}
# Every interval of the tables (evaluation/tables/uncertainty.py; docs/evaluation.md, "Uncertainty").
INTERVAL = (
    "mean [{level_pct:g} % {boot_method} bootstrap interval over test subjects, each subject's mean over folds; "
    "{resamples} resamples, seed {seed}; it does not cover training variation]"
)
ORACLE = "oracle Dice (an upper bound: the threshold chosen per volume with its own labels; the paper's best Dice)"
CAPTIONS = {
    "table1": (
        "Table 1: " + ORACLE + ", and AUPRC (%), " + INTERVAL + "; voxels scored: {region}. Published rows: "
        "mean ± std over folds. {space} " + PUBLISHED_NOTE
    ),
    "table1_supplementary": (
        "Table 1 (supplementary): AUROC and Dice three ways: at the unsupervised threshold "
        "({percentile:g}th percentile of in-brain scores on healthy IXI test volumes), at a threshold tuned on "
        "labelled volumes (each volume's threshold tuned on the volumes of the set's other tuning fold, "
        "splits/<set>_val.csv: a 2-fold cross-fit, since the authors test on every volume; empty where the run's "
        "splits have no such file) and "
        + ORACLE
        + "; %, "
        + INTERVAL
        + "; the threshold: mean ± std over folds. {space}"
    ),
    "table1_spaces": (
        "Native against atlas space, once, side by side: the same maps graded on each scan's own grid (the "
        "map taken back through the inverse of its registration, the labels as delivered, the native brain "
        "mask: what every table here uses when evaluate.space is native) and on the atlas grid (the labels "
        "moved there by nearest neighbour after an affine registration, lesion voxels outside the atlas-space "
        "brain mask dropped: the authors' protocol). The two differ in which voxels are counted (the grids' "
        "voxel sizes and brain masks differ) and in the labels (resampled or not), not in the method. "
        + INTERVAL
        + "; native - atlas: the paired difference per subject. Empty for a run scored in atlas space only."
    ),
    "paired_tests": (
        "Paired tests: {reference} against every other method on the same test subjects (each subject's "
        "mean over folds): median paired difference ({reference} minus the other, percentage points) with its "
        "{level_pct:g} % bootstrap interval, Wilcoxon signed-rank statistic W and two-sided p-value, and p "
        "adjusted by Holm over every row of the table. Dice (unsup. thr.) at the unsupervised threshold; "
        + ORACLE
        + "."
    ),
    "table4": (
        "Table 4: volume-level detection. Each volume's score is the {volume_score} of its in-brain anomaly "
        "scores (evaluate.volume_score); healthy IXI test volumes (negatives) against each lesion set's "
        "volumes (positives): AUROC and AUPRC (%), per fold then averaged over folds, with a {level_pct:g} % "
        "bootstrap interval resampling healthy and lesion subjects separately ({resamples} resamples, seed "
        "{seed}). AUPRC's chance level is the share of lesion volumes."
    ),
    "table2": (
        "Table 2: Spearman correlation (%) of a patch's lesion fraction with each method's outputs, "
        "patches with 10-90% lesion, mean ± std over folds. " + PUBLISHED_NOTE
    ),
    "table3": (
        "Table 3: the challenges' metrics " + AT_THRESHOLD + ", inside the brain mask: Dice, HD95 (larger "
        "directed 95th percentile of boundary-voxel distances, mm), AVD (the absolute difference of "
        "predicted and lesion volume over lesion volume), lesion-wise recall and F1 per volume, "
        "false-positive components per volume. {lesion_rule}. Each cell: " + INTERVAL + ". {space}"
    ),
    "table3_challenges": (
        "Table 3, each set's own challenge: the metrics its challenge's evaluation code defines, of the map "
        "thresholded at the unsupervised threshold (score >= threshold), every ground-truth voxel counted: WMH "
        "(hjkuijf/wmhchallenge evaluation.py: in-plane HD95 boundary, label 2 ignored), ISLES'22 for ATLAS_v2 "
        "(F1 = TP / (TP + (FP + FN) / 2), volumes in mL), BraTS 2023 lesion-wise for BraTS21 (dilation-based "
        "matching, lesions of <= 50 mm3 left out, 374 mm per missed or spurious lesion; the whole tumour, labels "
        "1, 2, 4, the tumour core, 1 and 4, and the enhancing tumour, 4 (Baid et al. 2021), each against the one "
        "thresholded map, which does not tell them apart), MSLUB: Dice and "
        "lesion-wise TPR and FPR (docs/evaluation.md). Each cell: " + INTERVAL + "; volumes: those with a value "
        "(a challenge leaves some undefined). {space}"
    ),
    "table3_size": (
        "Lesion-wise recall (%) by lesion volume " + AT_THRESHOLD + ": per fold the lesions found over the "
        "lesions in the bin, then mean ± std over folds; (n) lesions per bin and fold. {lesion_rule}. {space}"
    ),
    "table3_load": (
        "AUPRC (%) by tertile of total lesion volume (each set's volumes in three groups; range in mL): "
        + INTERVAL
        + ". {space}"
    ),
    "bias": (
        "Bias table: the fraction (%) of in-brain voxels above a threshold fitted without the volume: the "
        "IXI test subjects are split in two halves by subject (seed {seed}); each model's threshold (the "
        "{quantile:g} quantile of pooled in-brain scores, as the unsupervised threshold) is refitted on one "
        "half and applied to the other, and the other way round (cross-fitting; about {above:g} % expected "
        "overall). By IXI site (from the subject id), sex and age band (edges {age_edges} years; "
        "{demographics}): " + INTERVAL + " (n subjects). 'permutation p': a permutation test ({resamples} "
        "permutations) of no difference between a factor's groups (subjects of unknown group left out). "
        "Site and age are confounded in IXI (its sites recruited different age ranges): a site difference "
        "may be an age difference and the other way round; these marginal tests cannot tell them apart."
    ),
}


def table_caption(table: str, config: dict, **given: str) -> str:
    """The caption of `table` for a run of the workflow config `config`; `given`: what the config
    does not hold (the bias table: `demographics`, the file its rule reads)."""
    evaluate = config["evaluate"]
    quantile = evaluate["unsupervised_quantile"]
    boot = {"resamples": 2000, "seed": 0, "level": 0.95, "method": "percentile", **evaluate.get("bootstrap", {})}
    volume_score = {"p99": "99th percentile", "p999": "99.9th percentile", "flagged": "fraction above the threshold"}
    age_edges = evaluate.get("bias", {}).get("age_edges", [40, 60])
    return CAPTIONS[table].format(
        region=evaluate["region"],
        space=SPACES[evaluate.get("space", "native")],  # the schema's default
        percentile=100 * quantile,
        quantile=quantile,
        above=100 * (1 - quantile),
        lesion_rule=LesionRule.from_config(evaluate.get("lesionwise")).describe(),
        age_edges=", ".join(f"{e:g}" for e in age_edges),
        level_pct=100 * boot["level"],
        boot_method=boot["method"],
        resamples=boot["resamples"],
        seed=boot["seed"],
        volume_score=volume_score[evaluate.get("volume_score", "p99")],
        **{"reference": "", **given},
    )
