# One model per (trained method, modality, fold), trained on the fold's IXI training subjects and
# selected on its validation subjects: one rule per trained method of the registry
# (patch2loc.registry: train_model for Patch2Loc, train_dae for the DAE, train_ddpm, ...), settings
# from the method's config block, the same inputs for every method. A method with a pre-training
# (cDDPM's masked autoencoder) has one more rule, pretrain_<name>, per (modality, fold), into its own
# model folder; the method's training reads its best.pt (input `pretrained`).
#
# Resume: Snakemake deletes the declared outputs of a failed or timed-out job, so training writes
# its checkpoints into a working folder that is *not* an output (resume/models/...); a retried
# job (`retries:` in profiles/slurm, or a rerun) continues from its last.pt there. When training
# ends, the files are moved into the declared outputs and the working folder is removed.
# A training longer than one job (at most 24 h: training/joblimit.py) stops after a checkpoint before
# its job's limit and the rule's next attempt resumes it; `retries:` gives it the attempts it needs.
from patch2loc.training.joblimit import job_minutes, retries


def pretrained_input(method):
    """{'pretrained': best.pt of the method's pre-training} (nothing for a method without one)."""
    if METHODS[method].pretrain is None:
        return {}
    return {"pretrained": LAYOUT.model_file(method, "best.pt", pretraining=True)}


for _method in [m for m in TRAINED_METHODS if m.pretrain]:

    rule:
        name:
            _method.pretrain.rule
        input:
            unpack(train_inputs),
        output:
            best=LAYOUT.model_file(_method.name, "best.pt", pretraining=True),
            last=LAYOUT.model_file(_method.name, "last.pt", pretraining=True),
            loss=LAYOUT.model_file(_method.name, "loss.csv", pretraining=True),
        log:
            LAYOUT.train_log(_method.name, pretraining=True),
        benchmark:
            LAYOUT.benchmark(_method.pretrain.rule, _method.name, "{modality}", "fold{fold}")
        wildcard_constraints:
            fold=r"\d+",
        retries: retries(_method.pretrain.train_minutes)
        conda:
            torch_env("torch")
        threads: config[_method.config]["threads"]
        resources:
            **train_gpu_resources(_method.name, pretraining=True),
            gpu=gpus(_method.gpu),
            runtime=job_minutes(_method.pretrain.train_minutes),
            mem_mb=train_mem_mb(_method.name, pretraining=True),
        params:
            method=_method.pretrain.name,
            module=_method.pretrain.module,
            pretrained_home=None,  # a pre-training reads no published network
            settings=config[_method.config],
            require_cuda=REQUIRE_CUDA,
            state_dir=lambda wc, m=_method.name: LAYOUT.model_dir(
                m, wc.modality, wc.fold, root="resume/models", pretraining=True
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
            weights=weights_inputs(_method.name),
        output:
            best=LAYOUT.model_file(_method.name, "best.pt"),
            last=LAYOUT.model_file(_method.name, "last.pt"),
            loss=LAYOUT.model_file(_method.name, "loss.csv"),
        log:
            LAYOUT.train_log(_method.name),
        benchmark:
            LAYOUT.benchmark(_method.train_rule, _method.name, "{modality}", "fold{fold}")
        wildcard_constraints:
            fold=r"\d+",
        retries: retries(_method.train_minutes)
        conda:
            torch_env("torch")
        threads: config[_method.config]["threads"]
        resources:
            **train_gpu_resources(_method.name),
            gpu=gpus(_method.gpu),
            runtime=job_minutes(_method.train_minutes),  # minutes, paper scale on one GPU, at most 24 h a job
            mem_mb=train_mem_mb(_method.name),
        params:
            method=_method.name,
            module=_method.module,
            pretrained_setting=_method.pretrain.setting if _method.pretrain else None,
            pretrained_home=lambda wc, input: str(Path(input.weights[0]).parent) if input.weights else None,
            settings=config[_method.config],
            require_cuda=REQUIRE_CUDA,
            state_dir=lambda wc, m=_method.name: LAYOUT.model_dir(m, wc.modality, wc.fold, root="resume/models"),
        script:
            "../workflow/scripts/train_model.py"
