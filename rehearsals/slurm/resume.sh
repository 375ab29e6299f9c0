#!/usr/bin/env bash
# Resume rehearsal: a training job of the cluster run is run again, cancelled with scancel after
# its first checkpoint, retried by Snakemake (retries: 1 in profiles/slurm) and resumed from that
# checkpoint; its final weights are compared with the uninterrupted training of the same model
# (the cluster run's, kept aside first, and the local run's).      make rehearse-resume
# Needs a finished `make rehearse-slurm` (results/demo_slurm, results/demo_local).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=results/rehearsal-slurm/resume
PY=${PY:-.venv/bin/python}
SNAKEMAKE=${SNAKEMAKE:-.venv/bin/snakemake}
MODEL=results/demo_slurm/models/T1/fold0
STATE=results/demo_slurm/resume/models/T1/fold0
LOG=results/demo_slurm/logs/train/T1_fold0.log
export SLURM_CONF=${P2L_SLURM_STATE:-/var/tmp/patch2loc-slurm}/slurm.conf
[[ -f $MODEL/last.pt ]] || { echo "$MODEL/last.pt: missing; run make rehearse-slurm first" >&2; exit 2; }

rehearsals/slurm/cluster.sh start > /dev/null
mkdir -p "$OUT/uninterrupted"
cp "$MODEL"/{best.pt,last.pt,loss.csv} "$OUT/uninterrupted/"

nice -n 10 "$SNAKEMAKE" "$MODEL/best.pt" --profile results/rehearsal-slurm/profile \
    --configfile results/rehearsal-slurm/demo_slurm.yaml --forcerun train_model > "$OUT/snakemake.log" 2>&1 &
SM=$!
until [[ -f $STATE/last.pt ]]; do kill -0 "$SM" 2>/dev/null || { echo "snakemake ended before a checkpoint" >&2; exit 1; }; sleep 1; done
JOB=$(squeue -h -t R -o '%i %k' | awk '/train_model/ {print $1; exit}')
STEP=$("$PY" -c "import torch,sys; print(torch.load(sys.argv[1], weights_only=False)['step'])" "$STATE/last.pt")
echo "$(date +%T) scancel $JOB (train_model T1 fold0; checkpoint at step $STEP)" | tee "$OUT/summary.txt"
scancel "$JOB"
wait "$SM" && echo "snakemake: exit 0" | tee -a "$OUT/summary.txt" || { echo "snakemake failed" | tee -a "$OUT/summary.txt"; exit 1; }
grep -h "resuming from step\|starting at step" "$LOG" | tee -a "$OUT/summary.txt"
grep -h "SLURM-job\|Trying to restart\|attempt" "$OUT/snakemake.log" | head -5 | tee -a "$OUT/summary.txt" || true
"$PY" rehearsals/slurm/same_weights.py "$MODEL/last.pt" "$OUT/uninterrupted/last.pt" results/demo_local/models/T1/fold0/last.pt \
    | tee -a "$OUT/summary.txt"
