# One job per scan: resample, skull strip (or take the skull-strip rule's mask), register to the atlas, crop, N4, crop/pad (SimpleITK).
# Healthy IXI scans have no lesion mask; the lesion sets carry theirs through every step.


# The files of a scan's folder: patch2loc.run.layout (wildcards left open).
rule preprocess_healthy_scan:
    input:
        raw=raw_inputs,
        brain_mask=brain_mask_input,  # rules/skullstrip.smk (hdbet, robex); none otherwise
        atlas_image=config["atlas"]["image"],
        atlas_mask=config["atlas"]["mask"],
    output:
        image=LAYOUT.preprocessed(name="image.nii.gz"),
        mask=LAYOUT.preprocessed(name="mask.nii.gz"),
        uncropped=LAYOUT.preprocessed(name="uncropped.nii.gz"),  # before crop/pad: what Nyul normalises
        uncropped_mask=LAYOUT.preprocessed(name="uncropped_mask.nii.gz"),
        native_mask=LAYOUT.preprocessed(name="native_mask.nii.gz"),  # skull-strip mask, the scan's own grid
        transform=LAYOUT.preprocessed(name="transform.tfm"),  # atlas -> native: maps heatmaps back
        qc=LAYOUT.preprocessed(name="qc.json"),
        png=LAYOUT.preprocessed(name="qc.png"),
    log:
        LAYOUT.log("preprocess", "{dataset}", "{modality}", "{subject}"),
    wildcard_constraints:
        dataset="IXI",
        modality=CONTRAST_WILDCARD,
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
        image=LAYOUT.preprocessed(name="image.nii.gz"),
        mask=LAYOUT.preprocessed(name="mask.nii.gz"),
        seg=LAYOUT.preprocessed(name="seg.nii.gz"),
        uncropped=LAYOUT.preprocessed(name="uncropped.nii.gz"),
        uncropped_mask=LAYOUT.preprocessed(name="uncropped_mask.nii.gz"),
        native_mask=LAYOUT.preprocessed(name="native_mask.nii.gz"),
        transform=LAYOUT.preprocessed(name="transform.tfm"),
        qc=LAYOUT.preprocessed(name="qc.json"),
        png=LAYOUT.preprocessed(name="qc.png"),
    wildcard_constraints:
        dataset="|".join(LESION_DATASETS),
        modality=CONTRAST_WILDCARD,


rule qc_overview:
    input:
        qc=qc_inputs,
    output:
        table=report(
            LAYOUT.qc(ext="csv"),
            caption="../workflow/report/qc.rst",
            category="5 Preprocessing QC",
        ),
        html=LAYOUT.qc(ext="html"),
    log:
        LAYOUT.log("qc", "{dataset}", "{modality}"),
    conda:
        "../envs/preprocess.yaml"
    script:
        "../workflow/scripts/qc_overview.py"
