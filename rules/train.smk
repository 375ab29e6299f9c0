# One model per (modality, fold), trained on the fold's IXI training subjects and selected on
# its validation subjects.


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
    threads: config["train"]["threads"]
    resources:
        gpu=1,
        runtime=600,
        mem_mb=48000,
    log:
        f"{LOGS}/train/{{modality}}_fold{{fold}}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow/scripts/train_model.py"
