# The run's own copy of its registration atlas (predict --from-run and the bundles read it from
# there, patch2loc.run.layout), and one model bundle per (trained method, modality) (patch2loc
# export): every fold's weights and threshold, the landmarks, the atlas and the settings, so that
# a model trained here is applied elsewhere with `patch2loc predict --model
# results/{run}/bundles/T2.zip` (Patch2Loc) or `.../bundles/DAE/T2.zip` (the DAE: the models'
# folder names, patch2loc.run.layout).


rule record_atlas:
    input:
        image=config["atlas"]["image"],
        mask=config["atlas"]["mask"],
    output:
        image=LAYOUT.atlas_image,
        mask=LAYOUT.atlas_mask,
    log:
        LAYOUT.log("record_atlas"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/record_atlas.py"


# One export rule per trained method of the run: export_bundle (Patch2Loc), export_bundle_DAE.
for _method in TRAINED_METHODS:

    rule:
        name:
            "_".join(filter(None, ("export_bundle", _method.models)))
        input:
            config=LAYOUT.config,
            versions=LAYOUT.versions,
            landmarks=lambda wc: [LAYOUT.landmarks(c) for c in INPUTS[wc.modality]],  # one per contrast
            atlas=rules.record_atlas.output,
            models=lambda wc, m=_method.name: fold_models(m, wc.modality),
            thresholds=lambda wc, m=_method.name: fold_thresholds(m, wc.modality),
        output:
            LAYOUT.bundle("{modality}", _method.name),
        log:
            LAYOUT.bundle_log(_method.name),
        conda:
            torch_env("torch")
        params:
            run_root=lambda wc: LAYOUT.root,
            folds=FOLDS,
            method=_method.name,
        script:
            "../workflow/scripts/export_bundle.py"


rule bundles:
    input:
        # every input the method runs on; a model of several contrasts (T1T2) records them in its bundle
        [LAYOUT.bundle(mod, m.name) for m in TRAINED_METHODS for mod in method_inputs(m.name)],
