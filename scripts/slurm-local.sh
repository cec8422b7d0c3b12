#!/usr/bin/env bash
# A single-node Slurm on this machine, for the study's Slurm tests and for trying
# `torchgeo-composition study --executor slurm` without a cluster.
#
#   bash scripts/slurm-local.sh start    # install (Debian packages) and start; idempotent
#   bash scripts/slurm-local.sh status   # exit 0 when jobs can be submitted
#   bash scripts/slurm-local.sh stop     # stop the daemons that start started
#
# Needs root (it installs packages and starts munged, slurmctld and slurmd). The
# node has every CPU of the machine; no cgroups (proctrack/linuxproc, task/none),
# no accounting database. State lives in /var/lib/slurm-local. A munged that was
# already running is shared and left running by stop; one that start started is
# stopped with slurmctld and slurmd.
set -euo pipefail

ACTION="${1:-start}"
STATE=/var/lib/slurm-local
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
HOST="$(hostname -s)"

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: $0 $ACTION must run as root (it installs and starts daemons)" >&2
        exit 2
    fi
}

install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
}

configure() {
    mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" /var/log/slurm /etc/munge \
        /var/run/munge /var/lib/munge /var/log/munge
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chmod 0400 /etc/munge/munge.key
    local cpus memory
    cpus="$(nproc --all)"
    memory="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
    cat >"$CONF.tmp" <<CONF
# Written by scripts/slurm-local.sh: one node, this machine.
ClusterName=local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=300
KillWait=10
InactiveLimit=0
NodeName=$HOST CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
    mv "$CONF.tmp" "$CONF"
}

running() { pgrep -x "$1" >/dev/null; }

fail() {
    echo "error: $1 did not start; see /var/log/slurm/$1.log" >&2
    exit 1
}

ready() {
    sinfo -h -o "%T" 2>/dev/null | grep -Eq "^(idle|mixed|allocated)"
}

start() {
    need_root
    install
    configure
    if ! running munged; then
        munged --force 2>/dev/null
        touch "$STATE/munged.started"   # ours: stop stops it
    fi
    running slurmctld || slurmctld || fail slurmctld
    running slurmd || slurmd || fail slurmd
    for _ in $(seq 60); do
        if ready; then
            echo "slurm is running: partition local, node $HOST ($(nproc --all) CPUs)"
            return
        fi
        scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
        sleep 1
    done
    echo "error: slurm did not become ready; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
    exit 1
}

stop() {
    need_root
    for daemon in slurmd slurmctld; do
        if [ -f "$STATE/$daemon.pid" ]; then
            kill "$(cat "$STATE/$daemon.pid")" 2>/dev/null || true
        fi
    done
    local daemons=(slurmd slurmctld)
    if [ -f "$STATE/munged.started" ]; then
        # after Slurm's daemons, which talk to it while they shut down
        wait_gone slurmd slurmctld || true
        pkill -x munged 2>/dev/null || true
        rm -f "$STATE/munged.started"
        daemons+=(munged)
    fi
    if ! wait_gone "${daemons[@]}"; then
        echo "error: still running 10 s after stop: $(for d in "${daemons[@]}"; do running "$d" && echo -n "$d "; done)" >&2
        exit 1
    fi
    echo "slurm stopped"
}

wait_gone() {  # wait_gone NAME...: wait up to 10 s until no process has these names; 1 if some still runs
    local waited=0 name
    while [ "$waited" -lt 20 ]; do
        local alive=0
        # (pgrep matches at most 15 characters of a name: one call per daemon)
        for name in "$@"; do
            if running "$name"; then alive=1; fi
        done
        if [ "$alive" -eq 0 ]; then return; fi
        sleep 0.5
        waited=$((waited + 1))
    done
    return 1
}

case "$ACTION" in
start) start ;;
stop) stop ;;
status)
    if ready; then echo "slurm is running"; else echo "slurm is not running"; exit 1; fi
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
