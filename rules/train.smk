# One model per (trained method, modality, fold), trained on the fold's IXI training subjects and
# selected on its validation subjects: one rule per trained method of the registry
# (patch2loc.methods: train_model for Patch2Loc, train_dae for the DAE, train_ddpm, ...), settings
# from the method's config block, the same inputs for every method. A method with a pre-training
# (cDDPM's masked autoencoder) has one more rule, pretrain_<name>, per (modality, fold), into its own
# model folder; the method's training reads its best.pt (input `pretrained`).
#
# Resume: Snakemake deletes the declared outputs of a failed or timed-out job, so training writes
# its checkpoints into a working folder that is *not* an output (resume/models/...); a retried
# job (`retries:` in profiles/slurm, or a rerun) continues from its last.pt there. When training
# ends, the files are moved into the declared outputs and the working folder is removed.
def pretrained_input(method):
    """{'pretrained': best.pt of the method's pre-training} (nothing for a method without one)."""
    pre = METHODS[method].pretrain
    return {"pretrained": LAYOUT.path("models", pre.models, "{modality}", "fold{fold}", "best.pt")} if pre else {}


for _method in [m for m in TRAINED_METHODS if m.pretrain]:

    rule:
        name:
            _method.pretrain.rule
        input:
            unpack(train_inputs),
        output:
            **{
                k: LAYOUT.path("models", _method.pretrain.models, "{modality}", "fold{fold}", f)
                for k, f in (("best", "best.pt"), ("last", "last.pt"), ("loss", "loss.csv"))
            },
        log:
            str(Path(LOGS, "train", _method.pretrain.models, "{modality}_fold{fold}.log")),
        benchmark:
            f"{LAYOUT.benchmarks}/{_method.pretrain.rule}/{_method.name}_{{modality}}_fold{{fold}}.tsv"
        wildcard_constraints:
            fold=r"\d+",
        conda:
            "../envs/torch.yaml"
        threads: config[_method.config]["threads"]
        resources:
            gpu=1,
            runtime=_method.pretrain.train_minutes,
            mem_mb=48000,
        params:
            method=_method.pretrain.name,
            module=_method.pretrain.module,
            settings=config[_method.config],
            require_cuda=REQUIRE_CUDA,
            state_dir=lambda wc, m=_method: LAYOUT.path(
                "resume/models", m.pretrain.models, wc.modality, f"fold{wc.fold}"
            ),
        script:
            "../workflow/scripts/train_model.py"


for _method in TRAINED_METHODS:

    rule:
        name:
            _method.train_rule
        input:
            unpack(train_inputs),
            **pretrained_input(_method.name),
        output:
            best=f"{model_dir(_method.name)}/best.pt",
            last=f"{model_dir(_method.name)}/last.pt",
            loss=f"{model_dir(_method.name)}/loss.csv",
        log:
            train_log(_method.name),
        benchmark:
            f"{LAYOUT.benchmarks}/{_method.train_rule}/{_method.name}_{{modality}}_fold{{fold}}.tsv"
        wildcard_constraints:
            fold=r"\d+",
        conda:
            "../envs/torch.yaml"
        threads: config[_method.config]["threads"]
        resources:
            gpu=1 if _method.gpu else 0,
            runtime=_method.train_minutes,  # minutes, paper scale on one GPU
            mem_mb=48000,
        params:
            method=_method.name,
            module=_method.module,
            settings=config[_method.config],
            require_cuda=REQUIRE_CUDA,
            state_dir=lambda wc, m=_method.name: model_dir(m, wc.modality, wc.fold, root="resume/models"),
        script:
            "../workflow/scripts/train_model.py"
