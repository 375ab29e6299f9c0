# Figures (KDEs, heatmap panels, Gaussian ellipses, loss curves), heatmap viewers and one HTML report.
# Tables and figures are also marked with report() for Snakemake's own report
# (snakemake --report report.zip; captions in workflow/report/).


# Provenance: the resolved config and package versions beside the results.
rule run_info:
    output:
        config=LAYOUT.config,
        versions=LAYOUT.versions,
    log:
        LAYOUT.log("run_info"),
    conda:
        "../envs/analysis.yaml"
    params:
        config=config,
    script:
        "../workflow/scripts/run_info.py"


# Every PNG is a declared output marked for Snakemake's report (snakemake --report report.zip);
# a figure that cannot be drawn (e.g. no abnormal patch) is a small PNG saying why. The figures of
# the method that predicts positions (KDEs of its two terms, ellipses) and the paper's heatmap
# panels (the registry's first method) come from their first fold; the method comparisons
# (side-by-side panels, score densities) and loss curves cover every method.
rule figures:
    input:
        patches=all_patches(),
        heatmaps=all_heatmap_dirs(),
        method_heatmaps=[d for m in RUN_METHODS for d in all_heatmap_dirs(m)],
        healthy=healthy_metrics(),
        losses=loss_curves(),
    output:
        loss=report(
            figures_of("loss_curves", [m.name for m in TRAINED_METHODS]),
            caption="../workflow/report/loss_curves.rst",
            category="4 Training",
        ),
        heatmaps=report(heatmap_figures(), caption="../workflow/report/heatmaps.rst", category="2 Heatmaps"),
        methods=report(
            figures_of("methods", LESION_SETS),
            caption="../workflow/report/methods.rst",
            category="2 Heatmaps",
            subcategory="methods",
        ),
        kde=report(
            figures_of("kde", LESION_SETS if POSITION_METHODS else []),
            caption="../workflow/report/kde.rst",
            category="3 Patch analysis",
            subcategory="densities",
        ),
        kde_methods=report(
            figures_of("kde_methods", LESION_SETS),
            caption="../workflow/report/kde_methods.rst",
            category="3 Patch analysis",
            subcategory="densities",
        ),
        ellipses=report(
            figures_of("ellipses", LESION_SETS if POSITION_METHODS else []),
            caption="../workflow/report/ellipses.rst",
            category="3 Patch analysis",
            subcategory="predicted Gaussians",
        ),
        done=LAYOUT.figures_manifest,
    log:
        LAYOUT.log("figures"),
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=4000,  # patch tables are read in chunks (patches.stream): bounded whatever the dataset size
    params:
        figure_subjects=config["report"]["figure_subjects"],
        patches=config["evaluate"].get("patches"),  # the patch analysis's definition (None: the paper's)
        methods=RUN_METHODS,
        position_method=POSITION_METHODS[0] if POSITION_METHODS else None,
        run_root=lambda wc: LAYOUT.root,
    script:
        "../workflow/scripts/make_figures.py"


# ---------------------------------------------------------------- heatmap viewers
# One standalone HTML viewer (NiiVue) per kept heatmap: scan, score overlay with a threshold
# slider starting at the run's unsupervised threshold, ground-truth outline. The pages load
# NiiVue from one copy at viewers/niivue.umd.js and open from file:// (no server). Paths:
# viewer_dirs() in rules/inputs.smk, kept_subjects() in rules/common.smk.
rule viewer_library:
    output:
        LAYOUT.viewer_library,
    log:
        LAYOUT.log("viewers", "library"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/copy_viewer_library.py"


rule viewers:
    input:
        # images, masks, segs (none for IXI) of the kept volumes
        unpack(lambda wc: scan_files(wc.dataset, wc.modality, kept_subjects(wc.dataset, wc.modality))),
        heatmaps=LAYOUT.scores("heatmaps"),
        threshold=LAYOUT.threshold("{method}", "{modality}", "{fold}"),
    output:
        directory(LAYOUT.viewer_dir()),
    log:
        LAYOUT.log("viewers", "{method}", "{modality}", "{fold}", "{dataset}"),
    conda:
        "../envs/analysis.yaml"
    resources:
        mem_mb=2000,  # one volume at a time
    params:
        library=lambda wc: LAYOUT.viewer_library,  # linked from each page, relative to it
    script:
        "../workflow/scripts/make_viewers.py"


rule report:
    input:
        per_volume=rules.table1.output.per_volume,
        viewers=viewer_dirs(),
        library=rules.viewer_library.output,
        losses=loss_curves(),
        table1=rules.table1.output.table,
        supplementary=rules.table1.output.supplementary,
        spaces=rules.table1.output.spaces,
        table2=rules.table2.output.table,
        table3=rules.table3.output.table,
        table3_challenges=rules.table3.output.challenges,
        table3_size=rules.table3.output.size,
        table3_load=rules.table3.output.load,
        recall_size=rules.table3.output.figures,
        bias=rules.bias.output.table,
        paired_tests=rules.paired_tests.output.table,
        table4=rules.table4.output.table,
        compute=rules.compute_table.output.table,
        model_inputs=[LAYOUT.input_subjects(name) for name in MULTI_INPUTS],  # who each stack left out
        figures=rules.figures.output.done,
        config=rules.run_info.output.config,
        versions=rules.run_info.output.versions,
    output:
        html=LAYOUT.report,
    log:
        LAYOUT.log("report"),
    conda:
        "../envs/analysis.yaml"
    params:
        run_name=RUN,
    script:
        "../workflow/scripts/make_report.py"
