# One model per (trained method, modality, fold), trained on the fold's IXI training subjects and
# selected on its validation subjects: one rule per trained method of the registry
# (patch2loc.methods: train_model for Patch2Loc, train_dae for the DAE), settings from the
# method's config block, the same inputs for every method.
#
# Resume: Snakemake deletes the declared outputs of a failed or timed-out job, so training writes
# its checkpoints into a working folder that is *not* an output (resume/models/...); a retried
# job (`retries:` in profiles/slurm, or a rerun) continues from its last.pt there. When training
# ends, the files are moved into the declared outputs and the working folder is removed.
for _method in TRAINED_METHODS:

    rule:
        name:
            _method.train_rule
        input:
            unpack(train_inputs),
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
        conda:
            "../envs/torch.yaml"
        threads: config[_method.config]["threads"]
        resources:
            gpu=1 if _method.gpu else 0,
            runtime=_method.train_minutes,  # minutes, paper scale on one GPU
            mem_mb=48000,
        params:
            method=_method.name,
            settings=config[_method.config],
            require_cuda=REQUIRE_CUDA,
            state_dir=lambda wc, m=_method.name: LAYOUT.model_dir(m, wc.modality, wc.fold, root="resume/models"),
        script:
            "../workflow/scripts/train_model.py"
