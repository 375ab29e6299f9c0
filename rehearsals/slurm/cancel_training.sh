#!/usr/bin/env bash
# During the cluster run: wait for the first checkpoint of train_model T1 fold 0, then scancel
# that job. Snakemake sees it fail, retries it (retries: 1 in profiles/slurm) and the retry must
# resume from the checkpoint (its log says "resuming from step N"); summarize.py then compares
# its final weights with the local run's uninterrupted training.
#   rehearsals/slurm/cancel_training.sh RUN_DIR OUT_FILE
set -euo pipefail
RUN=$1
OUT=$2
STATE=$RUN/resume/models/T1/fold0/last.pt
until [[ -f $STATE ]]; do sleep 1; done
JOB=$(squeue -h -t R -o '%i %k' | awk '/rule_train_model_wildcards_T1_0/ {print $1; exit}')
echo "$(date +%T) checkpoint $STATE written; scancel $JOB (train_model T1 fold0)" | tee "$OUT"
scancel "$JOB"
