# The run's own copy of its registration atlas (predict --from-run and the bundles read it from
# there, patch2loc.layout), and one model bundle per modality (patch2loc export): every fold's
# weights and threshold, the landmarks, the atlas and the settings, so that a model trained here
# is applied elsewhere with `patch2loc predict --model results/{run}/bundles/T2.zip`.


rule record_atlas:
    input:
        image=config["atlas"]["image"],
        mask=config["atlas"]["mask"],
    output:
        image=LAYOUT.atlas_image,
        mask=LAYOUT.atlas_mask,
    log:
        f"{LOGS}/record_atlas.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/record_atlas.py"


rule export_bundle:
    input:
        config=LAYOUT.config,
        versions=LAYOUT.versions,
        landmarks=LAYOUT.landmarks(),
        atlas=rules.record_atlas.output,
        models=lambda wc: [model_checkpoint(wc.modality, k) for k in FOLDS],
        thresholds=lambda wc: [LAYOUT.threshold("Patch2Loc", wc.modality, f"fold{k}") for k in FOLDS],
    output:
        LAYOUT.bundle(),
    log:
        f"{LOGS}/bundles/{{modality}}.log",
    conda:
        "../envs/torch.yaml"
    params:
        run_root=lambda wc, input: Path(input.config).parent,
        folds=FOLDS,
    script:
        "../workflow/scripts/export_bundle.py"


rule bundles:
    input:
        [LAYOUT.bundle(m) for m in MODEL_MODALITIES] if "Patch2Loc" in RUN_METHODS else [],
