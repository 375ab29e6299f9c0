# Aggregation of per-volume metrics and patch statistics into the paper's tables.


def all_metrics():
    return [f"{score_dir(*c)}/metrics.csv" for c in evaluated_combinations()]


def all_patches(method="Patch2Loc"):
    return [f"{score_dir(*c)}/patches.csv.gz" for c in evaluated_combinations() if c[0] == method]


def all_thresholds():
    return [
        f"{score_dir(method, modality, fold, 'IXI')}/threshold.json"
        for method in ("Patch2Loc", "Thresh")
        for modality in MODEL_MODALITIES
        for fold in method_folds(method)
    ]


rule table1:
    input:
        metrics=all_metrics(),
        thresholds=all_thresholds(),
        published="config/published/paper_table1.csv",
    output:
        per_volume=f"{OUT}/tables/per_volume_metrics.csv",
        table=multiext(f"{OUT}/tables/table1", ".csv", ".md", ".tex"),
        supplementary=multiext(f"{OUT}/tables/table1_supplementary", ".csv", ".md", ".tex"),
    log:
        f"{LOGS}/table1.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/make_table1.py"


rule table2:
    input:
        patches=all_patches(),
        published="config/published/paper_table2.csv",
    output:
        table=multiext(f"{OUT}/tables/table2", ".csv", ".md", ".tex"),
        per_fold=f"{OUT}/tables/table2_per_fold.csv",
    log:
        f"{LOGS}/table2.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/make_table2.py"
