# Aggregation of per-volume metrics and patch statistics into the paper's tables.


rule table1:
    input:
        metrics=all_metrics(),
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
