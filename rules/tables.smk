# Aggregation of per-volume metrics and patch statistics into the paper's tables (every method of
# the run: rows "this harness" above the published ones), the tables beyond the paper (Table 3:
# the challenges' metrics at the unsupervised threshold; the bias table: false positives on healthy
# brains by site, sex and age; docs/evaluation.md), and of the benchmark files into compute time
# per stage and method. Every cell carries a subject-level bootstrap interval (config
# evaluate.bootstrap; patch2loc.evaluation.tables.uncertainty); the paired tests and Table 4 compare methods
# volume by volume and healthy against lesion volumes.

BOOTSTRAP = config["evaluate"].get("bootstrap", {})
# The method the paired tests compare every other one with: the registry's first, when the run has it.
REFERENCE_METHOD = DEFAULT_METHOD if DEFAULT_METHOD in RUN_METHODS else RUN_METHODS[0]


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
        intervals=LAYOUT.table("table1_intervals.csv"),
        spaces=report_csv(
            multiext(LAYOUT.table("table1_spaces"), ".csv", ".md", ".tex"),
            caption="../workflow/report/table1_spaces.rst",
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
        captions={t: table_caption(t, config) for t in ("table1", "table1_supplementary", "table1_spaces")},
        bootstrap=BOOTSTRAP,
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


rule table3:
    input:
        metrics=all_metrics(),
        lesions=all_lesions(),
    output:
        table=report_csv(
            multiext(LAYOUT.table("table3"), ".csv", ".md", ".tex"),
            caption="../workflow/report/table3.rst",
            category="1 Tables",
            subcategory="Table 3",
        ),
        size=report_csv(
            multiext(LAYOUT.table("table3_size"), ".csv", ".md", ".tex"),
            caption="../workflow/report/table3_size.rst",
            category="1 Tables",
            subcategory="Table 3",
        ),
        load=report_csv(
            multiext(LAYOUT.table("table3_load"), ".csv", ".md", ".tex"),
            caption="../workflow/report/table3_load.rst",
            category="1 Tables",
            subcategory="Table 3",
        ),
        challenges=report_csv(
            multiext(LAYOUT.table("table3_challenges"), ".csv", ".md", ".tex"),
            caption="../workflow/report/table3_challenges.rst",
            category="1 Tables",
            subcategory="Table 3",
        ),
        per_fold=LAYOUT.table("recall_by_size_per_fold.csv"),
        intervals=LAYOUT.table("table3_intervals.csv"),
        figures=report(
            figures_of("recall_size", LESION_SETS),
            caption="../workflow/report/recall_size.rst",
            category="1 Tables",
            subcategory="Table 3",
        ),
    log:
        LAYOUT.log("table3"),
    benchmark:
        LAYOUT.benchmark("table3", "table3")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,  # one row per volume and per lesion
    params:
        lesionwise=config["evaluate"].get("lesionwise", {}),
        captions={t: table_caption(t, config) for t in ("table3", "table3_challenges", "table3_size", "table3_load")},
        bootstrap=BOOTSTRAP,
        challenges=CHALLENGES,  # dataset -> its challenge (config/datasets.yaml)
    script:
        "../workflow/scripts/make_table3.py"


rule bias:
    input:
        healthy=all_healthy_metrics(),
        demographics=DEMOGRAPHICS_INPUT,
    output:
        table=report_csv(
            multiext(LAYOUT.table("bias"), ".csv", ".md", ".tex"),
            caption="../workflow/report/bias.rst",
            category="1 Tables",
            subcategory="bias",
        ),
    log:
        LAYOUT.log("bias"),
    benchmark:
        LAYOUT.benchmark("bias", "bias")
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=1000,
    params:
        demographics=demographics_file,
        age_edges=config["evaluate"].get("bias", {}).get("age_edges", [40, 60]),  # the default's one home
        quantile=config["evaluate"]["unsupervised_quantile"],
        bootstrap=BOOTSTRAP,
        caption=bias_caption,
    script:
        "../workflow/scripts/make_bias_table.py"


# Paired tests of the registry's first method against every other one (per-volume AUPRC and Dice)
# and Table 4 (volume-level detection: healthy IXI test volumes against each lesion set).
rule paired_tests:
    input:
        metrics=all_metrics(),
    output:
        table=report_csv(
            multiext(LAYOUT.table("paired_tests"), ".csv", ".md", ".tex"),
            caption="../workflow/report/paired_tests.rst",
            category="1 Tables",
            subcategory="paired tests",
        ),
    log:
        LAYOUT.log("paired_tests"),
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,  # one row per volume
    params:
        reference=REFERENCE_METHOD,
        bootstrap=BOOTSTRAP,
        caption=table_caption("paired_tests", config, reference=REFERENCE_METHOD),
    script:
        "../workflow/scripts/make_paired_tests.py"


rule table4:
    input:
        metrics=all_metrics(),
        healthy=all_healthy_metrics(),
    output:
        table=report_csv(
            multiext(LAYOUT.table("table4"), ".csv", ".md", ".tex"),
            caption="../workflow/report/table4.rst",
            category="1 Tables",
            subcategory="Table 4",
        ),
    log:
        LAYOUT.log("table4"),
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,
    params:
        volume_score=config["evaluate"]["volume_score"],
        bootstrap=BOOTSTRAP,
        caption=table_caption("table4", config),
    script:
        "../workflow/scripts/make_table4.py"


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


rule protocols:
    input:
        metrics=all_metrics(),
        pooled=all_pooled(),
        published="config/published/paper_table1.csv",
    output:
        table=multiext(LAYOUT.table("protocols"), ".csv", ".md", ".tex"),
    log:
        LAYOUT.log("protocols"),
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,  # one row per volume
    script:
        "../workflow/scripts/make_protocols_table.py"
