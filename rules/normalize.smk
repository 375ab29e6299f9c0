# Nyul histogram standardisation: landmarks fitted once per modality on IXI subjects of the
# train/val pool (never on IXI test subjects or lesion sets), then applied to every scan,
# followed by division by the in-brain 98th percentile; both on the uncropped atlas-box volume,
# and the crop/pad to target_shape comes last (as in the paper and METHOD.md).


rule fit_landmarks:
    input:
        unpack(landmark_inputs),
    output:
        landmarks=LAYOUT.landmarks(),
    log:
        LAYOUT.log("landmarks", "{modality}"),
    wildcard_constraints:
        modality=CONTRAST_WILDCARD,
    conda:
        "../envs/preprocess.yaml"
    resources:
        runtime=60,
        mem_mb=32000,
    script:
        "../workflow/scripts/fit_landmarks.py"


rule normalize_scan:
    input:
        image=LAYOUT.preprocessed(name="uncropped.nii.gz"),
        mask=LAYOUT.preprocessed(name="uncropped_mask.nii.gz"),
        landmarks=LAYOUT.landmarks(),
    output:
        image=LAYOUT.normalized(),
    log:
        LAYOUT.log("normalize", "{dataset}", "{modality}", "{subject}"),
    wildcard_constraints:
        modality=CONTRAST_WILDCARD,
    conda:
        "../envs/preprocess.yaml"
    params:
        percentile=config["normalize"]["percentile"],
        target_shape=config["preprocess"]["target_shape"],
    script:
        "../workflow/scripts/normalize_scan.py"


# ---------------------------------------------------------------- model inputs of several contrasts
# (config `inputs`, docs/multimodal.md): a subject's normalised contrasts stacked as channels on the
# atlas grid (patch2loc.preprocessing.stack), one brain mask (the voxels every contrast's holds) and
# the reference contrast's lesion mask; input_subjects lists who was left out for lacking a contrast.
rule stack_healthy_contrasts:
    input:
        unpack(stack_inputs),
    output:
        image=LAYOUT.normalized(),
        mask=LAYOUT.preprocessed(name="mask.nii.gz"),
    log:
        LAYOUT.log("stack", "{dataset}", "{modality}", "{subject}"),
    wildcard_constraints:
        dataset="IXI",
        modality=MULTI_WILDCARD,
    conda:
        "../envs/preprocess.yaml"
    script:
        "../workflow/scripts/stack_contrasts.py"


use rule stack_healthy_contrasts as stack_lesion_contrasts with:
    output:
        image=LAYOUT.normalized(),
        mask=LAYOUT.preprocessed(name="mask.nii.gz"),
        seg=LAYOUT.preprocessed(name="seg.nii.gz"),
    wildcard_constraints:
        dataset="|".join(LESION_DATASETS),
        modality=MULTI_WILDCARD,


rule input_subjects:
    output:
        table=LAYOUT.input_subjects(),
    log:
        LAYOUT.log("inputs", "{modality}"),
    wildcard_constraints:
        modality=MULTI_WILDCARD,
    conda:
        "../envs/analysis.yaml"
    params:
        rows=lambda wc: input_subject_rows(wc.modality),
    script:
        "../workflow/scripts/input_subjects.py"
