# Figures (KDEs, heatmap panels, Gaussian ellipses, loss curves) and one self-contained HTML report.


def all_heatmap_dirs():
    dirs = [f"{score_dir(*c)}/heatmaps" for c in evaluated_combinations() if c[0] == "Patch2Loc"]
    dirs += [f"{score_dir('Patch2Loc', m, f'fold{FOLDS[0]}', 'IXI')}/heatmaps" for m in MODEL_MODALITIES]
    return dirs


rule figures:
    input:
        patches=all_patches(),
        heatmaps=all_heatmap_dirs(),
        losses=expand(f"{OUT}/models/{{modality}}/fold{{fold}}/loss.csv", modality=MODEL_MODALITIES, fold=FOLDS),
    output:
        done=f"{OUT}/figures/figures.json",
    params:
        figure_subjects=config["report"]["figure_subjects"],
        out_dir=f"{OUT}/figures",
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
