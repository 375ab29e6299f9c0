# One job per scan: resample, skull strip (or take the skull-strip rule's mask), register to the atlas, crop, N4, crop/pad (SimpleITK).
# Healthy IXI scans have no lesion mask; the lesion sets carry theirs through every step.

# The per-scan folder, spelled once by common.smk's preprocessed() (wildcards left open).
PRE_DIR = preprocessed("{dataset}", "{modality}", "{subject}", "").rstrip("/")


rule preprocess_healthy_scan:
    input:
        raw=raw_inputs,
        brain_mask=brain_mask_input,  # rules/skullstrip.smk (hdbet, robex); none otherwise
        atlas_image=config["atlas"]["image"],
        atlas_mask=config["atlas"]["mask"],
    output:
        image=f"{PRE_DIR}/image.nii.gz",
        mask=f"{PRE_DIR}/mask.nii.gz",
        uncropped=f"{PRE_DIR}/uncropped.nii.gz",  # before crop/pad: what Nyul normalises
        uncropped_mask=f"{PRE_DIR}/uncropped_mask.nii.gz",
        qc=f"{PRE_DIR}/qc.json",
        png=f"{PRE_DIR}/qc.png",
    log:
        f"{LOGS}/preprocess/{{dataset}}_{{modality}}_{{subject}}.log",
    wildcard_constraints:
        dataset="IXI",
    conda:
        "../envs/preprocess.yaml"
    resources:
        runtime=30,
        mem_mb=8000,
    params:
        preprocess=preprocess_params,
    script:
        "../workflow/scripts/preprocess_scan.py"


use rule preprocess_healthy_scan as preprocess_lesion_scan with:
    output:
        image=f"{PRE_DIR}/image.nii.gz",
        mask=f"{PRE_DIR}/mask.nii.gz",
        seg=f"{PRE_DIR}/seg.nii.gz",
        uncropped=f"{PRE_DIR}/uncropped.nii.gz",
        uncropped_mask=f"{PRE_DIR}/uncropped_mask.nii.gz",
        qc=f"{PRE_DIR}/qc.json",
        png=f"{PRE_DIR}/qc.png",
    wildcard_constraints:
        dataset="|".join(LESION_DATASETS),


rule qc_overview:
    input:
        qc=qc_inputs,
    output:
        table=report(
            f"{LAYOUT.qc}/{{dataset}}_{{modality}}.csv",
            caption="../workflow/report/qc.rst",
            category="5 Preprocessing QC",
        ),
        html=f"{LAYOUT.qc}/{{dataset}}_{{modality}}.html",
    log:
        f"{LOGS}/qc/{{dataset}}_{{modality}}.log",
    conda:
        "../envs/preprocess.yaml"
    script:
        "../workflow/scripts/qc_overview.py"
