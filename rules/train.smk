# One model per (modality, fold), trained on the fold's IXI training subjects and selected on
# its validation subjects.
#
# Resume: Snakemake deletes the declared outputs of a failed or timed-out job, so training writes
# its checkpoints into a working folder that is *not* an output (TRAIN_STATE); a retried job
# (`retries:` in profiles/slurm, or a rerun) continues from its last.pt there. When training
# ends, the files are moved into the declared outputs and the working folder is removed.
TRAIN_STATE = f"{OUT}/resume/models/{{modality}}/fold{{fold}}"


rule train_model:
    input:
        unpack(train_inputs),
    output:
        best=f"{OUT}/models/{{modality}}/fold{{fold}}/best.pt",
        last=f"{OUT}/models/{{modality}}/fold{{fold}}/last.pt",
        loss=f"{OUT}/models/{{modality}}/fold{{fold}}/loss.csv",
    wildcard_constraints:
        fold=r"\d+",
    params:
        train=config["train"],
        require_cuda=REQUIRE_CUDA,
        state_dir=lambda wc: TRAIN_STATE.format(modality=wc.modality, fold=wc.fold),
    threads: config["train"]["threads"]
    resources:
        gpu=1,
        runtime=600,  # minutes, paper scale (15,000 steps of 8,096 patches on one GPU)
        mem_mb=48000,
    benchmark:
        f"{OUT}/benchmarks/train_model/{{modality}}_fold{{fold}}.tsv"
    log:
        f"{LOGS}/train/{{modality}}_fold{{fold}}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/train_model.py"
