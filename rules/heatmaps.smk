# Dense heatmaps per (method, modality, fold, dataset). Healthy IXI test volumes give the
# unsupervised threshold; each lesion set gives per-volume metrics and patch statistics.
# Dense maps are not all kept: `evaluate.keep_heatmaps` says how many NIfTI heatmaps to keep.


# Output folders, spelled once by common.smk's score_dir() (wildcards left open).
HEALTHY_DIR = score_dir("{method}", "{modality}", "{fold}", "IXI")
LESION_DIR = score_dir("{method}", "{modality}", "{fold}", "{dataset}")


rule score_healthy:
    input:
        unpack(lambda wc: scan_files("IXI", wc.modality, ixi_subjects("test", wc.modality))),
        model=model_input,
    output:
        threshold=f"{HEALTHY_DIR}/threshold.json",
        metrics=f"{HEALTHY_DIR}/metrics.csv",
        heatmaps=directory(f"{HEALTHY_DIR}/heatmaps"),
    params:
        heatmap=config["heatmap"],
        evaluate=config["evaluate"],
    threads: config["heatmap"]["threads"]
    resources:
        gpu=gpu_for,
        runtime=240,
        mem_mb=16000,
    log:
        f"{LOGS}/scores/{{method}}_{{modality}}_{{fold}}_IXI.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/score_dataset.py"


rule score_lesions:
    input:
        unpack(lambda wc: scan_files(wc.dataset, wc.modality, lesion_subjects(wc.dataset))),
        model=model_input,
        threshold=f"{HEALTHY_DIR}/threshold.json",
    output:
        metrics=f"{LESION_DIR}/metrics.csv",
        patches=f"{LESION_DIR}/patches.csv.gz",
        heatmaps=directory(f"{LESION_DIR}/heatmaps"),
    wildcard_constraints:
        dataset="|".join(LESION_DATASETS),
    params:
        heatmap=config["heatmap"],
        evaluate=config["evaluate"],
    threads: config["heatmap"]["threads"]
    resources:
        gpu=gpu_for,
        runtime=720,
        mem_mb=16000,
    log:
        f"{LOGS}/scores/{{method}}_{{modality}}_{{fold}}_{{dataset}}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/score_dataset.py"
