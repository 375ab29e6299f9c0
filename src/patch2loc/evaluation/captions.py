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
CAPTIONS = {
    "table1": (
        "Table 1: best Dice and AUPRC (%), mean ± std over folds; voxels scored: {region}. {space} " + PUBLISHED_NOTE
    ),
    "table1_supplementary": (
        "Table 1 (supplementary): AUROC and Dice at the unsupervised threshold "
        "({percentile:g}th percentile of in-brain scores on healthy IXI test volumes), %, "
        "every method of this harness. {space}"
    ),
    "table2": (
        "Table 2: Spearman correlation (%) of a patch's lesion fraction with each method's outputs, "
        "patches with 10-90% lesion, mean ± std over folds. " + PUBLISHED_NOTE
    ),
    "table3": (
        "Table 3: the challenges' metrics " + AT_THRESHOLD + ", inside the brain mask: Dice, HD95 (larger "
        "directed 95th percentile of boundary-voxel distances, mm), AVD (the absolute difference of "
        "predicted and lesion volume over lesion volume), lesion-wise recall and F1 per volume, "
        "false-positive components per volume. {lesion_rule}. "
        "Per fold the mean over volumes, then mean ± std over folds. {space}"
    ),
    "table3_size": (
        "Lesion-wise recall (%) by lesion volume " + AT_THRESHOLD + ": per fold the lesions found over the "
        "lesions in the bin, then mean ± std over folds; (n) lesions per bin and fold. {lesion_rule}. {space}"
    ),
    "table3_load": (
        "AUPRC (%) by tertile of total lesion volume (each set's volumes in three groups; range in mL): "
        "per fold the mean over the group's volumes, then mean ± std over folds. {space}"
    ),
    "bias": (
        "Bias table: the fraction (%) of in-brain voxels above the unsupervised threshold (the {quantile:g} "
        "quantile of the same healthy IXI test volumes' pooled in-brain scores, so about {above:g} % overall) "
        "by IXI site (from the subject id), sex and age band (edges {age_edges} years; {demographics}); per "
        "fold the mean over a group's volumes, then mean ± std over folds; (n) volumes per fold."
    ),
}


def table_caption(table: str, config: dict, **given: str) -> str:
    """The caption of `table` for a run of the workflow config `config`; `given`: what the config
    does not hold (the bias table: `demographics`, the file its rule reads)."""
    evaluate = config["evaluate"]
    quantile = evaluate["unsupervised_quantile"]
    age_edges = evaluate.get("bias", {}).get("age_edges", [40, 60])
    return CAPTIONS[table].format(
        region=evaluate["region"],
        space=SPACES[evaluate.get("space", "native")],  # the schema's default
        percentile=100 * quantile,
        quantile=quantile,
        above=100 * (1 - quantile),
        lesion_rule=LesionRule.from_config(evaluate.get("lesionwise")).describe(),
        age_edges=", ".join(f"{e:g}" for e in age_edges),
        **given,
    )
