"""The tables' captions, written once: the rules pass them to the table scripts (written above
each table's .md and .tex, and shown by the HTML report) and to Snakemake's report (the
workflow/report/table*.rst captions show `snakemake.params.caption`). Light: the workflow reads
it to build its DAG."""
from __future__ import annotations

PUBLISHED_NOTE = ("Rows 'this harness': every method run by this pipeline under one protocol (same "
                  "preprocessing, splits, brain masks, post-processing and metric code). Rows 'published': "
                  "the paper's table, computed by another harness on other test subsets (BraTS21: 1,151 test "
                  "volumes there; MSLUB: 20; ours are the lists in splits/) and other preprocessing: not "
                  "directly comparable with the rows above them.")
CAPTIONS = {
    "table1": ("Table 1: best Dice and AUPRC (%), mean ± std over folds; voxels scored: {region}. "
               + PUBLISHED_NOTE),
    "table1_supplementary": ("Table 1 (supplementary): AUROC and Dice at the unsupervised threshold "
                             "({percentile:g}th percentile of in-brain scores on healthy IXI test volumes), %, "
                             "every method of this harness."),
    "table2": ("Table 2: Spearman correlation (%) of a patch's lesion fraction with each method's outputs, "
               "patches with 10-90% lesion, mean ± std over folds. " + PUBLISHED_NOTE),
}


def table_caption(table: str, config: dict) -> str:
    """The caption of `table` for a run of the workflow config `config`."""
    evaluate = config["evaluate"]
    return CAPTIONS[table].format(region=evaluate["region"], percentile=100 * evaluate["unsupervised_quantile"])
