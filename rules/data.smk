# Raw data and the registration atlas.
#   source: demo  -> synthesised from nilearn's MNI152 template (rules synthesize_demo, make_demo_atlas)
#   source: real  -> IXI, MSLUB, WMH and SRI24 downloaded (URLs in config/datasets.yaml; sha256
#                    recorded on first download and verified after); BraTS21 and ATLAS v2 need a
#                    registration with their owners: the DAG stops with instructions while missing.
if config["source"] == "demo":

    rule make_demo_atlas:
        output:
            image=config["atlas"]["image"],
            mask=config["atlas"]["mask"],
        log:
            LAYOUT.log("data", "demo_atlas"),
        conda:
            "../envs/preprocess.yaml"
        params:
            spacing=config["preprocess"]["spacing"][0],
        script:
            "../workflow/scripts/make_demo_atlas.py"

    rule synthesize_demo:
        output:
            marker=f"{RAW}/{{dataset}}/.complete",
        log:
            LAYOUT.log("data", "synthesize", "{dataset}"),
        conda:
            "../envs/preprocess.yaml"
        params:
            dataset=lambda wc: wc.dataset,
            subjects=lambda wc: subjects_of(wc.dataset, MODALITIES[wc.dataset][0]),
            modalities=lambda wc: MODEL_MODALITIES if wc.dataset == "IXI" else MODALITIES[wc.dataset],
            raw_root=lambda wc, output: Path(output.marker).parents[1],
            seed=config.get("demo", {}).get("seed", 0),
            spacing=config.get("demo", {}).get("spacing", 2.0),
            lesion_model=config.get("demo", {}).get("lesion_model", "anatomical"),
        script:
            "../workflow/scripts/synthesize_demo.py"

else:

    rule download:
        output:
            f"{RAW}/{{dest}}",
        log:
            LAYOUT.log("data", "download", "{dest}"),
        wildcard_constraints:
            dest=_one_of(DOWNLOADS),
        retries: 2
        conda:
            "../envs/preprocess.yaml"
        resources:
            downloads=1,
            runtime=240,
        params:
            url=lambda wc: DOWNLOADS[wc.dest]["url"],
            sha256=lambda wc: DOWNLOADS[wc.dest].get("sha256"),
            checksums=CHECKSUMS,
        script:
            "../workflow/scripts/download.py"

    rule extract:
        input:
            archive=lambda wc: f"{RAW}/{EXTRACTS[wc.marker]}",
        output:
            marker=f"{RAW}/{{marker}}",
        log:
            LAYOUT.log("data", "extract", "{marker}"),
        wildcard_constraints:
            marker=_one_of(EXTRACTS),
        conda:
            "../envs/preprocess.yaml"
        params:
            dest=lambda wc: f"{RAW}/{Path(wc.marker).parent}",
        script:
            "../workflow/scripts/extract.py"

    rule arrange_wmh:
        # The Dataverse bundle may come cut off at the server's zip limit (MANIFEST.TXT lists what
        # it left out): those files are fetched one by one first (sources: WMH listing/access).
        # Then every subject folder of training/ (and test/ with datasets.WMH.test_set) moves to
        # WMH/<site>/<id> (the challenge nests GE3T as Amsterdam/GE3T/<id>); nothing moves until
        # all are complete.
        input:
            marker=f"{RAW}/WMH/_archive/.extracted-dataverse_files.zip",
        output:
            marker=f"{RAW}/WMH/.arranged",
        log:
            LAYOUT.log("data", "arrange_wmh"),
        retries: 2
        conda:
            "../envs/preprocess.yaml"
        resources:
            downloads=1,
            runtime=240,
        params:
            archive=lambda wc, input: Path(input.marker).parent,
            root=lambda wc, output: Path(output.marker).parent,
            splits=["training", "test"] if config["datasets"].get("WMH", {}).get("test_set") else ["training"],
            listing=SOURCES.get("WMH", {}).get("listing"),
            access=lambda wc: SOURCES.get("WMH", {}).get("access"),  # a callable: its {id} is not a wildcard
            page=SOURCES.get("WMH", {}).get("page"),
            checksums=CHECKSUMS,
        script:
            "../workflow/scripts/arrange_wmh.py"

    rule prepare_sri24_atlas:
        input:
            marker=f"{RAW}/SRI24/.extracted-sri24_spm8.zip",
        output:
            image=config["atlas"]["image"],
            mask=config["atlas"]["mask"],
        log:
            LAYOUT.log("data", "sri24_atlas"),
        conda:
            "../envs/preprocess.yaml"
        params:
            template=f"{RAW}/SRI24/sri24_spm8/templates/T1_brain.nii",
        script:
            "../workflow/scripts/prepare_atlas.py"
