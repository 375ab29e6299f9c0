# Figures (KDEs, heatmap panels, Gaussian ellipses, loss curves) and one self-contained HTML report.


# Provenance: the resolved config and package versions beside the results.
rule run_info:
    output:
        config=f"{OUT}/config.resolved.yaml",
        versions=f"{OUT}/versions.txt",
    params:
        config=config,
    log:
        f"{LOGS}/run_info.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/run_info.py"


rule figures:
    input:
        patches=all_patches(),
        heatmaps=all_heatmap_dirs(),
        losses=expand(f"{OUT}/models/{{modality}}/fold{{fold}}/loss.csv", modality=MODEL_MODALITIES, fold=FOLDS),
    output:
        done=f"{OUT}/figures/figures.json",
    resources:
        mem_mb=16000,  # KDEs pool every patch row of a dataset over the folds
    params:
        figure_subjects=config["report"]["figure_subjects"],
        out_dir=lambda wc, output: Path(output.done).parent,
        run_root=lambda wc, output: Path(output.done).parents[1],
    log:
        f"{LOGS}/figures.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/make_figures.py"


rule report:
    input:
        table1=rules.table1.output.table,
        supplementary=rules.table1.output.supplementary,
        table2=rules.table2.output.table,
        compute=rules.compute_table.output.table,
        figures=rules.figures.output.done,
        config=rules.run_info.output.config,
        versions=rules.run_info.output.versions,
    output:
        html=f"{OUT}/report.html",
    params:
        run_name=RUN,
    log:
        f"{LOGS}/report.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/make_report.py"
