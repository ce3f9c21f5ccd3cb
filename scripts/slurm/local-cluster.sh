#!/usr/bin/env bash
# A single-node SLURM cluster on localhost for tests and demos.
#
#   scripts/slurm/local-cluster.sh start    install (apt, once) and start munge, MariaDB,
#                                           slurmdbd, slurmctld and slurmd; wait until the node is idle
#   scripts/slurm/local-cluster.sh stop     stop every daemon this script started, by PID
#   scripts/slurm/local-cluster.sh status   say which daemons run; exit 0 only when all do
#
# TRAINLAB_SLURM_FAKE_GPUS=N (default 0) gives the node N fake GPUs: a generic resource `gpu`
# backed by empty files under $TRAINLAB_SLURM_DIR/fake-gpus, so that a job with --gres=gpu:K is
# scheduled on them and SLURM sets its CUDA_VISIBLE_DEVICES, as on a GPU node. No CUDA device
# exists behind them: torch on this machine still sees none. `start` with another value than the
# running cluster's rewrites the configs and restarts slurmctld and slurmd (no job may run).
#
# Exit codes: 0 done, 1 a daemon failed (see the log it names), 2 usage,
# 3 the cluster cannot be set up here (not root, no apt, or a foreign SLURM config).
# State (config copies, pid files, logs, spool) lives in $TRAINLAB_SLURM_DIR
# (default /var/lib/trainlab-slurm). Running `start` twice is harmless.
#
# Debian bookworm ships SLURM 22.05; its pitfalls are handled here: no cgroup.conf at all,
# proctrack/linuxproc and task/none (no cgroup plugins), DefMemPerCPU set so that jobs
# without --mem still schedule under CR_Core_Memory.
set -euo pipefail

STATE_DIR="${TRAINLAB_SLURM_DIR:-/var/lib/trainlab-slurm}"
CLUSTER="${TRAINLAB_SLURM_CLUSTER:-trainlab}"
PARTITION="${TRAINLAB_SLURM_PARTITION:-debug}"
FAKE_GPUS="${TRAINLAB_SLURM_FAKE_GPUS:-0}"
CONF_DIR=/etc/slurm
MARKER="# written by trainlab scripts/slurm/local-cluster.sh"
DB_PASS_FILE="$STATE_DIR/db-password"
NODE="$(hostname -s)"
PACKAGES=(munge mariadb-server slurm-wlm slurmdbd)
# Set by write_config when it replaced or removed a file: running daemons must restart.
CONFIG_CHANGED=0
# Daemons in start order; stop goes the other way.
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)

log() { printf '[local-cluster] %s\n' "$*" >&2; }
die() { log "error: $1"; exit "${2:-1}"; }

# munged and mariadbd drop root, so their pid files live in their own run folders.
pid_file() {
  case "$1" in
    munged) echo /run/munge/munged.pid ;;
    mariadbd) echo /run/mysqld/mysqld.pid ;;
    *) echo "$STATE_DIR/run/$1.pid" ;;
  esac
}

# The pid in the daemon's pid file when that process is alive and is that daemon.
running_pid() {
  local name="$1" file pid
  file="$(pid_file "$name")"
  [[ -s "$file" ]] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
  # A recycled pid belongs to another program: compare the command name.
  grep -q "${name:0:15}" "/proc/$pid/comm" 2>/dev/null || return 1
  echo "$pid"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds="$1" what="$2"
  shift 2
  local i
  for ((i = 0; i < seconds * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "$what did not come up within ${seconds}s"
}

require_root() {
  [[ "$(id -u)" == 0 ]] || die "run as root: the cluster installs packages and starts system daemons" 3
}

install_packages() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand" 3
  log "installing ${missing[*]} (apt-get)"
  # Keep the packages' init scripts from starting daemons: this script owns them.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
  fi
  local rc=0
  # Wait for dpkg's lock instead of failing at once: `make test` installs Docker on one xdist
  # worker while this runs on the other, and in a fresh clone the loser's tests were skipped
  # ("apt-get install failed"; 2 SLURM and 2 container tests, measured).
  local wait=(-o DPkg::Lock::Timeout=900)
  DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" install -y -q --no-install-recommends \
    "${missing[@]}" >"$STATE_DIR/log/apt.log" 2>&1 || rc=$?
  if ((rc != 0)); then
    log "apt-get install failed (rc=$rc); retrying after apt-get update"
    apt-get "${wait[@]}" update -q >>"$STATE_DIR/log/apt.log" 2>&1 || true
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" install -y -q --no-install-recommends \
      "${missing[@]}" >>"$STATE_DIR/log/apt.log" 2>&1 || rc=$?
  fi
  ((created_policy)) && rm -f "$policy"
  ((rc == 0)) || die "apt-get install failed; see $STATE_DIR/log/apt.log" 3
}

# Replace a file only when its content changes; refuse to replace one we did not write.
write_config() {  # write_config PATH MODE  (content on stdin)
  local path="$1" mode="$2" tmp
  tmp="$(mktemp "$path.XXXXXX")"
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -e "$path" ]] && ! grep -qF "$MARKER" "$path"; then
    rm -f "$tmp"
    die "$path exists and was not written by this script; move it away to use the local cluster" 3
  fi
  if [[ -e "$path" ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 0
  fi
  mv -f "$tmp" "$path"
  CONFIG_CHANGED=1
  log "wrote $path"
}

# gres.conf and the fake device files when TRAINLAB_SLURM_FAKE_GPUS > 0; else no gres.conf.
write_gres_config() {
  local path="$CONF_DIR/gres.conf" dir="$STATE_DIR/fake-gpus" i
  if ((FAKE_GPUS == 0)); then
    if [[ -e "$path" ]] && grep -qF "$MARKER" "$path"; then
      rm -f "$path"
      CONFIG_CHANGED=1
      log "removed $path (no fake GPUs)"
    fi
    return 0
  fi
  # slurmd 22.05 refuses a File that is not a device ("... is not a valid character or block
  # device, fix your gres.conf") and then gives jobs no GPU environment: each fake GPU is a
  # character device with /dev/null's numbers (1, 3). Not under /dev, so that nothing else
  # here (torch, nvidia-smi, trainlab's device check) takes them for GPUs.
  mkdir -p "$dir"
  for ((i = 0; i < FAKE_GPUS; i++)); do
    [[ -c "$dir/gpu$i" ]] && continue
    rm -f "$dir/gpu$i"
    mknod -m 666 "$dir/gpu$i" c 1 3 || die "mknod $dir/gpu$i failed: no fake GPUs here" 3
    CONFIG_CHANGED=1  # slurmd checks the files when it starts
  done
  write_config "$path" 644 <<EOF
$MARKER
# $FAKE_GPUS fake GPUs (TRAINLAB_SLURM_FAKE_GPUS): SLURM schedules them and sets
# CUDA_VISIBLE_DEVICES; there is no device behind them.
Name=gpu File=$dir/gpu[0-$((FAKE_GPUS - 1))]
EOF
}

# The node's CPUs: GNU nproc lowers its answer to OMP_NUM_THREADS (and OMP_THREAD_LIMIT) when
# they are set, so a shell with OMP_NUM_THREADS=1 (common on clusters; the test workers set it)
# gave a 1-CPU node, and every job asking for 2 CPUs stayed pending (PartitionConfig) forever.
machine_cpus() {
  env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc
}

write_configs() {
  local cpus mem_mb def_mem
  cpus="$(machine_cpus)"
  mem_mb="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
  def_mem=$((mem_mb / cpus / 2))
  [[ "$FAKE_GPUS" =~ ^[0-9]+$ ]] ||
    die "TRAINLAB_SLURM_FAKE_GPUS='$FAKE_GPUS' must be a whole number of fake GPUs (0: none)" 2
  local gres_types="" node_gres=""
  if ((FAKE_GPUS > 0)); then
    # AccountingStorageTRES: sacct shows the GPUs a job was given (AllocTRES gres/gpu=N)
    gres_types=$'GresTypes=gpu\nAccountingStorageTRES=gres/gpu\n'
    node_gres=" Gres=gpu:$FAKE_GPUS"
  fi
  [[ -s "$DB_PASS_FILE" ]] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DB_PASS_FILE")
  mkdir -p "$CONF_DIR"
  write_config "$CONF_DIR/slurm.conf" 644 <<EOF
$MARKER
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$def_mem
ReturnToService=2
JobRequeue=1
KillWait=10
# A requeued job may start again only after its credential expires (cred_expire, default
# 120 s): the preemption test waited 142 s for that. One node, so 10 s is plenty.
AuthInfo=cred_expire=10
# backfill every 2 s (not 30) and the main loop every 5 s (not 60): a requeued job starts as
# soon as it may
SchedulerParameters=bf_interval=2,sched_interval=5
MinJobAge=60
SlurmctldPidFile=$(pid_file slurmctld)
SlurmdPidFile=$(pid_file slurmd)
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/spool
${gres_types}NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb$node_gres State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  write_config "$CONF_DIR/slurmdbd.conf" 600 <<EOF
$MARKER
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$(pid_file slurmdbd)
LogFile=$STATE_DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StoragePort=3306
StorageUser=slurm
StoragePass=$(cat "$DB_PASS_FILE")
StorageLoc=slurm_acct_db
EOF
  write_gres_config
  # A cgroup.conf makes SLURM 22.05 load cgroup code that fails in containers and VMs.
  if [[ -e "$CONF_DIR/cgroup.conf" ]] && grep -qF "$MARKER" "$CONF_DIR/cgroup.conf"; then
    rm -f "$CONF_DIR/cgroup.conf"
  fi
  [[ -e "$CONF_DIR/cgroup.conf" ]] && log "warning: $CONF_DIR/cgroup.conf exists; SLURM 22.05 may fail"
  return 0
}

start_munged() {
  running_pid munged >/dev/null && return 0
  [[ -s /etc/munge/munge.key ]] || {
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  }
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 755 /run/munge
  runuser -u munge -- /usr/sbin/munged --pid-file="$(pid_file munged)" --force
  wait_for 10 munged running_pid munged
  wait_for 10 "munge credentials" bash -c 'munge -n | unmunge'
  log "munged running (pid $(running_pid munged))"
}

start_mariadbd() {
  if ! running_pid mariadbd >/dev/null; then
    mkdir -p /run/mysqld
    chown mysql:mysql /run/mysqld
    [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql \
      >>"$STATE_DIR/log/mariadb.log" 2>&1
    # setsid: the server must outlive this shell and not share its process group.
    setsid /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql \
      --socket=/run/mysqld/mysqld.sock --pid-file="$(pid_file mariadbd)" \
      --bind-address=127.0.0.1 --port=3306 --innodb-buffer-pool-size=64M \
      --log-error="$STATE_DIR/log/mariadb.log" </dev/null >/dev/null 2>&1 &
    wait_for 60 MariaDB mariadb-admin --socket=/run/mysqld/mysqld.sock ping
    log "mariadbd running (pid $(running_pid mariadbd))"
  fi
  local pass
  pass="$(cat "$DB_PASS_FILE")"
  mariadb --socket=/run/mysqld/mysqld.sock -u root <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
EOF
}

start_slurm_daemon() {  # start_slurm_daemon NAME READY-CHECK...
  local name="$1"
  shift
  running_pid "$name" >/dev/null && return 0
  "/usr/sbin/$name" >>"$STATE_DIR/log/$name.start.log" 2>&1 ||
    die "$name failed to start; see $STATE_DIR/log/$name.log and $name.start.log"
  wait_for 30 "$name" running_pid "$name"
  wait_for 30 "$name" "$@"
  log "$name running (pid $(running_pid "$name"))"
}

node_ready() {
  local state
  state="$(sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1)"
  [[ "$state" == idle* || "$state" == mixed* || "$state" == allocated* ]]
}

# slurmctld and slurmd read node resources (Gres) only when they start: a changed config means
# a restart, which the running jobs would not survive, so it is refused while any job exists.
restart_if_reconfigured() {
  ((CONFIG_CHANGED)) || return 0
  running_pid slurmctld >/dev/null || running_pid slurmd >/dev/null || return 0
  local jobs
  jobs="$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')"
  [[ -z "${jobs// /}" ]] ||
    die "the config changed but jobs are queued ($jobs); cancel them or wait, then run start again"
  log "config changed: restarting slurmctld and slurmd"
  stop_daemon slurmd
  stop_daemon slurmctld
}

cmd_start() {
  require_root
  mkdir -p "$STATE_DIR"/{run,log,ctld,spool}
  install_packages
  write_configs
  restart_if_reconfigured
  start_munged
  start_mariadbd
  start_slurm_daemon slurmdbd sacctmgr -n list cluster
  if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
  fi
  start_slurm_daemon slurmctld scontrol ping
  start_slurm_daemon slurmd true
  # A node left DOWN/DRAIN by an earlier unclean stop has to be resumed by hand.
  local i
  for ((i = 0; i < 120; i++)); do
    node_ready && break
    if sinfo -h -n "$NODE" -o %T 2>/dev/null | grep -qE 'down|drain'; then
      scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
    fi
    sleep 0.5
  done
  node_ready || die "node $NODE is not idle: $(sinfo -h -n "$NODE" -o '%T %E'); see $STATE_DIR/log"
  log "cluster '$CLUSTER' ready: partition $PARTITION, node $NODE ($(machine_cpus) CPUs)"
}

stop_daemon() {
  local name="$1" pid i
  pid="$(running_pid "$name")" || { rm -f "$(pid_file "$name")"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 80; i++)); do
    [[ -d "/proc/$pid" ]] || break
    sleep 0.25
  done
  if [[ -d "/proc/$pid" ]]; then
    log "$name (pid $pid) ignored SIGTERM for 20s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
  log "$name stopped (pid $pid)"
}

cmd_stop() {
  require_root
  local i
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    stop_daemon "${DAEMONS[i]}"
  done
}

cmd_status() {
  local name pid all=0
  for name in "${DAEMONS[@]}"; do
    if pid="$(running_pid "$name")"; then
      printf '%-10s running (pid %s)\n' "$name" "$pid"
    else
      printf '%-10s stopped\n' "$name"
      all=1
    fi
  done
  if ((all == 0)); then
    sinfo -h -o '%P %a %D %T %C' 2>/dev/null | sed 's/^/partition: /' || true
  fi
  return "$all"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
