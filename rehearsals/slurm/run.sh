#!/usr/bin/env bash
# Rehearsal: the demo DAG through profiles/slurm on a one-node SLURM cluster on this machine,
# compared with a local run of the same config.      make rehearse-slurm   (root; not in CI)
#
#   1. cluster.sh start (idempotent; installs slurm-wlm, slurmdbd, munge, mariadb-server with apt if
#      missing): partitions `cpu` and `gpu` (the node's GPUs are a generic resource), job accounting
#   2. overlay profile = profiles/slurm with the site placeholders filled in (overlay.py); its conda
#      envs are the env rehearsal's (results/rehearsal-envs/envs, built here by the stand-in conda
#      of rehearsals/envs/ if missing), so every cluster job runs in its rule's env
#   3. the demo config under two run names: demo_local (local run) and demo_slurm (cluster run)
#   4. both runs side by side; a watcher logs the running SLURM jobs every 2 s (squeue.log); the
#      cluster run's training T1 fold 0 is cancelled with scancel after its first checkpoint
#      (cancel_training.sh) and Snakemake's retry must resume it
#   5. summarize.py: each job's partition and GPUs from sacct (sacct.txt), GPU jobs at once, the
#      resume, and the cluster run's outputs against the local run's
#   6. the daemons this rehearsal started are stopped (by PID), unless KEEP_CLUSTER=1
# Everything it writes lies under results/rehearsal-slurm/ (+ the two runs' results/ folders).
# Set SKIP_LOCAL=1 to reuse an existing results/demo_local/ from the same code.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=results/rehearsal-slurm
PY=${PY:-.venv/bin/python}
SNAKEMAKE=${SNAKEMAKE:-.venv/bin/snakemake}
CORES=${CORES:-2}
mkdir -p "$OUT"
export SLURM_CONF=${P2L_SLURM_STATE:-/var/tmp/patch2loc-slurm}/slurm.conf

started_here=0
if [[ ! -s ${SLURM_CONF%/*}/started.pids ]]; then started_here=1; fi
WATCH_PID=""
CANCEL_PID=""
cleanup() {
    [[ -n $WATCH_PID ]] && kill "$WATCH_PID" 2>/dev/null || true
    [[ -n $CANCEL_PID ]] && kill "$CANCEL_PID" 2>/dev/null || true
    if [[ $started_here == 1 && ${KEEP_CLUSTER:-0} != 1 ]]; then rehearsals/slurm/cluster.sh stop; fi
}
trap cleanup EXIT

rehearsals/slurm/cluster.sh start | tee "$OUT/cluster.txt"
ENVS=results/rehearsal-envs
"$PY" -m rehearsals.envs.conda install "$ENVS/conda" "$ENVS/envs"
export PATH=$PWD/$ENVS/conda/bin:$PATH P2L_ENV_RECORD=$PWD/$OUT/records P2L_ENV_ALLOW=$PWD/src:$PWD/workflow/scripts
"$PY" rehearsals/slurm/overlay.py profiles/slurm "$OUT/profile" "$ENVS/envs" | tee "$OUT/overlay.txt"
"$PY" rehearsals/slurm/run_config.py config/demo.yaml demo_local "$OUT/demo_local.yaml"
"$PY" rehearsals/slurm/run_config.py config/demo.yaml demo_slurm "$OUT/demo_slurm.yaml"
"$SNAKEMAKE" --profile "$OUT/profile" --configfile "$OUT/demo_slurm.yaml" --conda-create-envs-only > "$OUT/envs.log" 2>&1

# Running jobs every 2 s: time, then "jobid:partition:comment" per job (the comment names the rule).
( while true; do echo "$(date +%T) $(squeue -h -t R -o '%i:%P:%k' | tr '\n' ' ')"; sleep 2; done ) > "$OUT/squeue.log" &
WATCH_PID=$!
rm -rf results/demo_slurm/resume
rehearsals/slurm/cancel_training.sh results/demo_slurm "$OUT/scancel.txt" > /dev/null &
CANCEL_PID=$!

start=$(date +%s)
since=$(date +%Y-%m-%dT%H:%M:%S)
if [[ ${SKIP_LOCAL:-0} != 1 ]]; then
    # The local run, side by side with the cluster run (same code, same config, another run name).
    ( nice -n 10 "$SNAKEMAKE" --cores "$CORES" --configfile "$OUT/demo_local.yaml" --resources gpu="$CORES" \
        > "$OUT/local.log" 2>&1; echo $? > "$OUT/local.rc" ) &
    LOCAL_PID=$!
fi
nice -n 10 "$SNAKEMAKE" --profile "$OUT/profile" --configfile "$OUT/demo_slurm.yaml" > "$OUT/slurm.log" 2>&1 \
    && echo 0 > "$OUT/slurm.rc" || echo $? > "$OUT/slurm.rc"
echo "cluster run: exit $(cat "$OUT/slurm.rc"), $(( $(date +%s) - start )) s" | tee "$OUT/summary.txt"
if [[ ${SKIP_LOCAL:-0} != 1 ]]; then
    wait "$LOCAL_PID"
    echo "local run: exit $(cat "$OUT/local.rc"), $(( $(date +%s) - start )) s (both side by side)" | tee -a "$OUT/summary.txt"
fi

# Every job the cluster ran: partition, allocated resources (gres/gpu), state, the rule (comment).
sacct -X -a -n -P -S "$since" -o JobID,Partition,AllocTRES,State,Comment%300 > "$OUT/sacct.txt"
"$PY" rehearsals/slurm/summarize.py "$OUT" results/demo_local results/demo_slurm | tee -a "$OUT/summary.txt"
