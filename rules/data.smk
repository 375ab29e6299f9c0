# Raw data and the registration atlas.
#   source: demo  -> synthesised from nilearn's MNI152 template (rules synthesize_demo, make_demo_atlas)
#   source: real  -> IXI, MSLUB, WMH and SRI24 downloaded (URLs in config/datasets.yaml; sha256
#                    recorded on first download and verified after); BraTS21 and ATLAS v2 need a
#                    registration with their owners: the DAG stops with instructions while missing.
import functools
import re

import yaml

from patch2loc.datasets import check_raw, raw_paths
from patch2loc.io import InputError

MANUAL_DATASETS = ("BraTS21", "ATLAS_v2")
CHECKSUMS = f"{RAW}/checksums.tsv"


if config["source"] == "demo":

    rule make_demo_atlas:
        output:
            image=config["atlas"]["image"],
            mask=config["atlas"]["mask"],
        params:
            spacing=config["preprocess"]["spacing"][0],
        log:
            f"{LOGS}/data/demo_atlas.log",
        conda:
            "../envs/preprocess.yaml"
        script:
            "../workflow/scripts/make_demo_atlas.py"

    rule synthesize_demo:
        output:
            marker=f"{RAW}/{{dataset}}/.complete",
        params:
            dataset=lambda wc: wc.dataset,
            subjects=lambda wc: subjects_of(wc.dataset, MODALITIES[wc.dataset][0]),
            modalities=lambda wc: MODEL_MODALITIES if wc.dataset == "IXI" else MODALITIES[wc.dataset],
            raw_root=RAW,
            seed=config.get("demo", {}).get("seed", 0),
            spacing=config.get("demo", {}).get("spacing", 2.0),
        log:
            f"{LOGS}/data/synthesize_{{dataset}}.log",
        conda:
            "../envs/preprocess.yaml"
        script:
            "../workflow/scripts/synthesize_demo.py"

    def raw_inputs(wc):
        return f"{RAW}/{wc.dataset}/.complete"

else:
    SOURCES = yaml.safe_load((Path(workflow.basedir) / "config" / "datasets.yaml").read_text())

    def _downloads():
        """dest (relative to raw_root) -> {url, sha256, extract_to} for every configured file."""
        files = {}
        for dataset in [*DATASETS, "SRI24"]:
            entry = SOURCES.get(dataset, {})
            for f in entry.get("files", []):
                files[f["dest"]] = f
            for subject in lesion_subjects(dataset) if "file_template" in entry else []:
                for f in entry["file_template"]:
                    files[f["dest"].format(subject=subject)] = {
                        **f, "url": f["url"].format(subject=subject), "dest": f["dest"].format(subject=subject)
                    }
        return files

    DOWNLOADS = _downloads()
    # extraction marker (relative to raw_root) -> archive (relative to raw_root)
    EXTRACTS = {
        f"{f['extract_to']}/.extracted-{Path(dest).name}": dest
        for dest, f in DOWNLOADS.items()
        if f.get("extract_to")
    }

    def _one_of(names):
        return "|".join(re.escape(n) for n in names)

    rule download:
        output:
            f"{RAW}/{{dest}}",
        wildcard_constraints:
            dest=_one_of(DOWNLOADS),
        params:
            url=lambda wc: DOWNLOADS[wc.dest]["url"],
            sha256=lambda wc: DOWNLOADS[wc.dest].get("sha256"),
            checksums=CHECKSUMS,
        retries: 2
        resources:
            downloads=1,
            runtime=240,
        log:
            f"{LOGS}/data/download_{{dest}}.log",
        conda:
            "../envs/preprocess.yaml"
        script:
            "../workflow/scripts/download.py"

    rule extract:
        input:
            archive=lambda wc: f"{RAW}/{EXTRACTS[wc.marker]}",
        output:
            marker=f"{RAW}/{{marker}}",
        wildcard_constraints:
            marker=_one_of(EXTRACTS),
        params:
            dest=lambda wc: f"{RAW}/{Path(wc.marker).parent}",
        log:
            f"{LOGS}/data/extract_{{marker}}.log",
        conda:
            "../envs/preprocess.yaml"
        script:
            "../workflow/scripts/extract.py"

    rule arrange_wmh:
        # The challenge archive nests sites differently (Amsterdam/GE3T/<id>); bring every
        # subject folder (the one holding wmh.nii.gz) to WMH/<site>/<id>.
        input:
            marker=f"{RAW}/WMH/_archive/.extracted-dataverse_files.zip",
        output:
            marker=f"{RAW}/WMH/.arranged",
        params:
            archive=f"{RAW}/WMH/_archive",
            root=f"{RAW}/WMH",
        log:
            f"{LOGS}/data/arrange_wmh.log",
        conda:
            "../envs/preprocess.yaml"
        script:
            "../workflow/scripts/arrange_wmh.py"

    rule prepare_sri24_atlas:
        input:
            marker=f"{RAW}/SRI24/.extracted-sri24_spm8.zip",
        output:
            image=config["atlas"]["image"],
            mask=config["atlas"]["mask"],
        params:
            template=f"{RAW}/SRI24/sri24_spm8/templates/T1_brain.nii",
        log:
            f"{LOGS}/data/sri24_atlas.log",
        conda:
            "../envs/preprocess.yaml"
        script:
            "../workflow/scripts/prepare_atlas.py"

    @functools.cache
    def _check_manual(dataset):
        """Stop (dry runs too) with the owners' instructions while a manual dataset is missing."""
        try:
            check_raw(dataset, RAW, lesion_subjects(dataset))
        except InputError as err:
            raise WorkflowError(str(err)) from None

    def raw_inputs(wc):
        if wc.dataset in MANUAL_DATASETS:
            _check_manual(wc.dataset)
            scan = raw_paths(wc.dataset, RAW, wc.subject, wc.modality)
            return [str(scan.image), str(scan.seg)]
        if wc.dataset == "IXI":
            return f"{RAW}/IXI/IXI-{wc.modality}/.extracted-IXI-{wc.modality}.tar"
        if wc.dataset == "WMH":
            return f"{RAW}/WMH/.arranged"
        scan = raw_paths(wc.dataset, RAW, wc.subject, wc.modality)  # MSLUB: per-file downloads
        return [str(scan.image), str(scan.seg)]
