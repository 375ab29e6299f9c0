#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the rehearsal (not for production).
#
#   rehearsals/slurm/cluster.sh start    # install (apt) if needed, start munge, MariaDB, slurmdbd,
#                                       # slurmctld, slurmd
#   rehearsals/slurm/cluster.sh status   # scontrol ping + sinfo + what this script started
#   rehearsals/slurm/cluster.sh stop     # cancel the cluster's jobs, end what is left of them, stop
#                                       # the daemons this script started (by PID), only those
#
# Idempotent: a daemon that already answers is left alone and not recorded; the PIDs of the
# daemons this script starts go to $STATE/started.pids, and `stop` ends exactly those.
# Two partitions: `cpu` (the default) and `gpu`. The node declares this machine's CPUs and two
# GPUs as generic resources backed by character devices (copies of /dev/null), so `--gpus=1` jobs
# are scheduled two at a time and SLURM sets CUDA_VISIBLE_DEVICES for them. With job accounting
# (accounting.sh: slurmdbd on MariaDB), sacct shows each job's partition and the GPUs it was
# given. Needs root (daemons, apt).
set -euo pipefail
cd "$(dirname "$0")/../.."

STATE=${P2L_SLURM_STATE:-/var/tmp/patch2loc-slurm}
CONF=$STATE/slurm.conf
PIDS=$STATE/started.pids
NODE=$(hostname -s)
CPUS=$(nproc)
GPUS=${P2L_SLURM_GPUS:-2}
export SLURM_CONF=$CONF

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
pid_of() { [[ -f "$1" ]] && cat "$1" || true; }
source rehearsals/slurm/accounting.sh

install_packages() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v slurmdbd >/dev/null \
        || ! command -v mariadbd >/dev/null; then
        echo "installing slurm-wlm, slurmdbd, munge and mariadb-server (apt)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm slurmdbd munge mariadb-server >/dev/null
    fi
}

write_config() {
    mkdir -p "$STATE"/{ctld,spool,log}
    for i in $(seq 0 $((GPUS - 1))); do  # fake GPU devices: character devices like /dev/null
        [[ -c $STATE/gpu$i ]] || mknod "$STATE/gpu$i" c 1 3
    done
    cat > "$STATE/gres.conf" <<EOF
AutoDetect=off
NodeName=$NODE Name=gpu File=$STATE/gpu[0-$((GPUS - 1))]
EOF
    # config_overrides: the node is what this file says (memory declared generously, so the
    # rules' paper-scale mem_mb are accepted; memory is not a consumable here, only cores and GPUs).
    cat > "$CONF" <<EOF
ClusterName=patch2loc-rehearsal
SlurmctldHost=$NODE
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=86400
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$NODE
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
SchedulerParameters=sched_interval=2
NodeName=$NODE CPUs=$CPUS RealMemory=200000 Gres=gpu:$GPUS State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    if ! pgrep -x munged >/dev/null; then
        mkdir -p /run/munge && chown munge:munge /run/munge
        [[ -f /etc/munge/munge.key ]] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none;
                                          chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
        runuser -u munge -- /usr/sbin/munged  # daemonizes; its PID file is /run/munge/munged.pid
        for _ in $(seq 20); do alive "$(pid_of /run/munge/munged.pid)" && break; sleep 0.5; done
        echo "munged $(pid_of /run/munge/munged.pid)" >> "$PIDS"
    fi
}

start() {
    install_packages
    mkdir -p "$STATE/log"
    touch "$PIDS"
    start_munge
    local ctld_up=0
    if [[ -f $CONF ]] && alive "$(pid_of "$STATE/slurmctld.pid")"; then
        ctld_up=1 && echo "slurmctld already up ($CONF)"
    else
        write_config
        # Job steps (srun inside a job) look for the default path; link it unless one exists.
        if [[ ! -e /etc/slurm/slurm.conf ]]; then
            mkdir -p /etc/slurm && ln -s "$CONF" /etc/slurm/slurm.conf && echo "link /etc/slurm/slurm.conf" >> "$PIDS"
        fi
    fi
    start_accounting  # before slurmctld, which registers with slurmdbd
    if [[ $ctld_up == 0 ]]; then
        slurmctld -f "$CONF"
        for _ in $(seq 30); do alive "$(pid_of "$STATE/slurmctld.pid")" && break; sleep 0.5; done
        echo "slurmctld $(pid_of "$STATE/slurmctld.pid")" >> "$PIDS"
    fi
    if ! alive "$(pid_of "$STATE/slurmd.pid")"; then
        nice -n 10 slurmd -f "$CONF"  # jobs inherit the nice value: the machine is shared
        for _ in $(seq 30); do alive "$(pid_of "$STATE/slurmd.pid")" && break; sleep 0.5; done
        echo "slurmd $(pid_of "$STATE/slurmd.pid")" >> "$PIDS"
    fi
    for _ in $(seq 60); do  # the node registers within seconds
        sinfo -h -N -o "%T" 2>/dev/null | grep -Eq "^(idle|mixed|allocated)" && break
        sleep 1
    done
    scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true  # after an unclean stop
    sinfo -N -o "%N %P %T %c %G"
}

# The processes of this cluster's jobs: the job steps' slurmstepd and what runs inside them (e.g.
# a `snakemake --mode remote`), which outlive slurmd. Found by the cluster's name in their
# environment (SLURM sets it in every job), or, for slurmstepd, by this cluster's SLURM_CONF.
job_processes() {
    local pid env
    for dir in /proc/[0-9]*; do
        pid=${dir#/proc/}
        [[ $pid == "$$" ]] && continue
        env=$( { tr '\0' '\n' < "$dir/environ"; } 2>/dev/null) || continue
        if grep -qx "SLURM_CLUSTER_NAME=patch2loc-rehearsal" <<< "$env" \
            || { [[ $(readlink "$dir/exe" 2>/dev/null) == */slurmstepd* ]] && grep -qx "SLURM_CONF=$CONF" <<< "$env"; }; then
            echo "$pid"
        fi
    done
}

end_jobs() {
    if alive "$(pid_of "$STATE/slurmctld.pid")"; then
        local ids
        ids=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
        if [[ -n ${ids// /} ]]; then
            scancel $ids && echo "cancelled jobs $ids"
            for _ in $(seq 60); do [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break; sleep 1; done
        fi
    fi
    local left
    left=$(job_processes | tr '\n' ' ')
    if [[ -n ${left// /} ]]; then
        kill $left 2>/dev/null || true
        sleep 2
        for pid in $left; do alive "$pid" && kill -9 "$pid" 2>/dev/null; done
        echo "ended job processes $left"
    fi
    return 0
}

stop() {
    [[ -f $PIDS ]] || { echo "nothing started by this script"; end_jobs; return 0; }
    end_jobs
    # slurmd first, munged last (the others authenticate through it).
    for name in slurmd slurmctld slurmdbd mariadbd munged; do
        while read -r who pid; do
            if [[ $who == "$name" ]] && alive "$pid"; then
                kill "$pid"
                for _ in $(seq 40); do alive "$pid" || break; sleep 0.5; done
                echo "stopped $who ($pid)"
            fi
        done < "$PIDS"
    done
    if grep -q "^link /etc/slurm/slurm.conf$" "$PIDS" && [[ -L /etc/slurm/slurm.conf ]]; then
        rm /etc/slurm/slurm.conf && echo "removed the link /etc/slurm/slurm.conf"
    fi
    rm -f "$PIDS"
}

status() {
    scontrol ping || true
    sinfo -N -o "%N %P %T %c %G" || true
    echo "job processes: $(job_processes | tr '\n' ' ')"
    echo "started by this script: $(tr '\n' ' ' < "$PIDS" 2>/dev/null || echo none)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
