# Aggregation of per-volume metrics and patch statistics into the paper's tables (every method of
# the run: rows "this harness" above the published ones), and of the benchmark files into
# compute time per stage and method.


rule table1:
    input:
        metrics=all_metrics(),
        published="config/published/paper_table1.csv",
    output:
        per_volume=report(
            LAYOUT.table("per_volume_metrics.csv"),
            caption="../workflow/report/per_volume.rst",
            category="1 Tables",
            subcategory="per volume",
        ),
        table=report_csv(
            multiext(LAYOUT.table("table1"), ".csv", ".md", ".tex"),
            caption="../workflow/report/table1.rst",
            category="1 Tables",
            subcategory="Table 1",
        ),
        supplementary=report_csv(
            multiext(LAYOUT.table("table1_supplementary"), ".csv", ".md", ".tex"),
            caption="../workflow/report/table1_supplementary.rst",
            category="1 Tables",
            subcategory="Table 1",
        ),
    log:
        LAYOUT.log("table1"),
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,  # one row per volume
    params:
        captions={t: table_caption(t, config) for t in ("table1", "table1_supplementary")},
    script:
        "../workflow/scripts/make_table1.py"


rule table2:
    input:
        patches=all_patches(),
        published="config/published/paper_table2.csv",
    output:
        table=report_csv(
            multiext(LAYOUT.table("table2"), ".csv", ".md", ".tex"),
            caption="../workflow/report/table2.rst",
            category="1 Tables",
            subcategory="Table 2",
        ),
        per_fold=LAYOUT.table("table2_per_fold.csv"),
    log:
        LAYOUT.log("table2"),
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=8000,  # one patches.csv.gz at a time (BraTS21 at paper scale: ~2 M rows)
        runtime=60,
    params:
        caption=table_caption("table2", config),
    script:
        "../workflow/scripts/make_table2.py"


rule compute_table:
    input:
        benchmarks=all_benchmarks(),
    output:
        table=LAYOUT.table("compute.csv"),
    log:
        LAYOUT.log("compute_table"),
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=1000,
    params:
        gpu_methods=[m for m in RUN_METHODS if METHODS[m].gpu],  # their training and scoring jobs ask for gpu=1
    script:
        "../workflow/scripts/make_compute_table.py"
