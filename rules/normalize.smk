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
    conda:
        "../envs/preprocess.yaml"
    params:
        percentile=config["normalize"]["percentile"],
        target_shape=config["preprocess"]["target_shape"],
    script:
        "../workflow/scripts/normalize_scan.py"
