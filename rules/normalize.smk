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
        f"{LOGS}/landmarks/{{modality}}.log",
    conda:
        "../envs/preprocess.yaml"
    resources:
        runtime=60,
        mem_mb=32000,
    script:
        "../workflow/scripts/fit_landmarks.py"


rule normalize_scan:
    input:
        image=f"{PRE_DIR}/uncropped.nii.gz",
        mask=f"{PRE_DIR}/uncropped_mask.nii.gz",
        landmarks=LAYOUT.landmarks(),
    output:
        image=normalized("{dataset}", "{modality}", "{subject}"),
    log:
        f"{LOGS}/normalize/{{dataset}}_{{modality}}_{{subject}}.log",
    conda:
        "../envs/preprocess.yaml"
    params:
        percentile=config["normalize"]["percentile"],
        target_shape=config["preprocess"]["target_shape"],
    script:
        "../workflow/scripts/normalize_scan.py"
