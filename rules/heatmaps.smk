# Anomaly maps per (method, modality, fold, dataset), the same rules for every method of the
# registry (patch2loc.registry): healthy IXI test volumes give the unsupervised threshold; each
# lesion set gives per-volume metrics and patch statistics. Dense maps are not all kept:
# `evaluate.keep_heatmaps` says how many NIfTI heatmaps to keep. Lesion sets also give one row per
# ground-truth lesion (lesions.csv: its size, found or not at the unsupervised threshold).
#
# Lesion sets are scored in shards of `evaluate.shard_size` volumes (null: one shard), one job
# each, merged by the cheap merge_score_shards: a failure costs one shard and many GPUs can work
# on one dataset at once. Each volume is scored on its own, so the merged files equal unsharded
# scoring. Methods with a network (Patch2Loc, DAE) ask for a GPU; the others (Thresh) run on one
# CPU, in the `*_cpu` copies of the two scoring rules.
#
# evaluate.space (docs/evaluation.md, "Native and atlas space"): native (default) scores each lesion
# set on the scan's own grid, so score_lesions also reads the raw scan and labels, the native brain
# mask and the registration; atlas scores the preprocessed files alone. The healthy threshold is
# atlas-space in both. A lesion set's `challenge:` (config/datasets.yaml) adds its challenge's
# metrics to metrics.csv (native space).
CHALLENGES = {
    name: entry["challenge"]
    for name, entry in yaml.safe_load((Path(workflow.basedir) / "config" / "datasets.yaml").read_text()).items()
    if isinstance(entry, dict) and entry.get("challenge")
}


SCORING_PARAMS = dict(
    heatmap=HEATMAP,
    evaluate=config["evaluate"],
    wmh_other_pathology=config["preprocess"].get("wmh_other_pathology", True),  # native labels as the atlas seg
    patch_size=PATCH_GRID,  # one patch-statistics grid for every method
    require_cuda=REQUIRE_CUDA,
)


rule score_healthy:
    input:
        unpack(lambda wc: scan_files("IXI", wc.modality, ixi_subjects("test", wc.modality))),
        model=model_input,
    output:
        threshold=LAYOUT.threshold("{method}", "{modality}", "{fold}"),
        metrics=LAYOUT.scores("metrics.csv", dataset="IXI"),
        heatmaps=directory(LAYOUT.scores("heatmaps", dataset="IXI")),
    log:
        LAYOUT.log("scores", "{method}", "{modality}", "{fold}", "IXI"),
    benchmark:
        LAYOUT.benchmark("score_healthy", "{method}", "{modality}", "{fold}")
    wildcard_constraints:
        method=GPU_METHODS,
    conda:
        torch_env("torch")
    threads: config["heatmap"]["threads"]
    resources:
        gpu=gpus(),
        runtime=lambda wc: max(
            30, math.ceil(2 * METHODS[wc.method].score_minutes * len(ixi_subjects("test", wc.modality)))
        ),
        mem_mb=SCORING_MEM_MB,
    params:
        **SCORING_PARAMS,
    script:
        "../workflow/scripts/score_dataset.py"


use rule score_healthy as score_healthy_cpu with:
    log:
        LAYOUT.log("scores", "{method}", "{modality}", "{fold}", "IXI"),
    benchmark:
        LAYOUT.benchmark("score_healthy", "{method}", "{modality}", "{fold}")
    wildcard_constraints:
        method=CPU_METHODS,
    threads: 1
    resources:
        gpu=0,
        runtime=60,
        mem_mb=SCORING_MEM_MB,


rule score_lesions:
    input:
        unpack(lambda wc: scan_files(wc.dataset, wc.modality, shard_subjects(wc.dataset, int(wc.shard)))),
        unpack(lambda wc: native_scoring_files(wc.dataset, wc.modality, shard_subjects(wc.dataset, int(wc.shard)))),
        model=model_input,
        threshold=LAYOUT.threshold("{method}", "{modality}", "{fold}"),
    output:
        metrics=temp(LAYOUT.shard("metrics.csv")),
        lesions=temp(LAYOUT.shard("lesions.csv")),
        patches=temp(LAYOUT.shard("patches.csv.gz")),
        pooled=temp(LAYOUT.shard("pooled.npz")),  # evaluate.protocol reference: pooled-AUPRC counts
        tuning=temp(LAYOUT.shard("tuning.npz")),  # per volume: histograms of the validation-tuned Dice
        heatmaps=temp(directory(LAYOUT.shard("heatmaps"))),
    log:
        LAYOUT.log("scores", "{method}", "{modality}", "{fold}", "{dataset}", "{shard}"),
    benchmark:
        LAYOUT.benchmark("score_lesions", "{method}", "{modality}", "{fold}", "{dataset}", "{shard}")
    wildcard_constraints:
        dataset="|".join(LESION_DATASETS),
        method=GPU_METHODS,
        shard=r"\d+",
    conda:
        torch_env("torch")
    threads: config["heatmap"]["threads"]
    resources:
        gpu=gpus(),
        # BraTS21 unsharded with Patch2Loc: 1,251 volumes, 12.5 h
        runtime=lambda wc: shard_runtime(wc.dataset, METHODS[wc.method].score_minutes),
        mem_mb=SCORING_MEM_MB,
    params:
        **SCORING_PARAMS,
        first_index=lambda wc: int(wc.shard) * shard_size(wc.dataset),
        challenge=lambda wc: CHALLENGES.get(wc.dataset),
    script:
        "../workflow/scripts/score_dataset.py"


use rule score_lesions as score_lesions_cpu with:
    log:
        LAYOUT.log("scores", "{method}", "{modality}", "{fold}", "{dataset}", "{shard}"),
    benchmark:
        LAYOUT.benchmark("score_lesions", "{method}", "{modality}", "{fold}", "{dataset}", "{shard}")
    wildcard_constraints:
        dataset="|".join(LESION_DATASETS),
        method=CPU_METHODS,
        shard=r"\d+",
    threads: 1
    resources:
        gpu=0,
        runtime=lambda wc: shard_runtime(wc.dataset, METHODS[wc.method].score_minutes),
        mem_mb=SCORING_MEM_MB,


rule merge_score_shards:
    input:
        metrics=lambda wc: shard_files(wc, "metrics.csv"),
        lesions=lambda wc: shard_files(wc, "lesions.csv"),
        patches=lambda wc: shard_files(wc, "patches.csv.gz"),
        pooled=lambda wc: shard_files(wc, "pooled.npz"),
        tuning=lambda wc: shard_files(wc, "tuning.npz"),
        tuning_folds=lambda wc: tuning_split(wc.dataset),  # splits_dir/<set>_val.csv where the run has one
        heatmaps=lambda wc: shard_files(wc, "heatmaps"),
    output:
        metrics=LAYOUT.scores("metrics.csv"),
        lesions=LAYOUT.scores("lesions.csv"),
        patches=LAYOUT.scores("patches.csv.gz"),
        pooled=LAYOUT.scores("pooled.npz"),
        heatmaps=directory(LAYOUT.scores("heatmaps")),
    log:
        LAYOUT.log("scores", "{method}", "{modality}", "{fold}", "{dataset}", "merge"),
    wildcard_constraints:
        dataset="|".join(LESION_DATASETS),
    conda:
        "../envs/analysis.yaml"
    resources:
        runtime=30,
        mem_mb=1000,  # streams the shards line by line
    script:
        "../workflow/scripts/merge_score_shards.py"
