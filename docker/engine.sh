#!/usr/bin/env bash
# Start or stop a Docker engine for local builds and tests (make test-container uses it).
#
#   docker/engine.sh start    use the running engine, or install docker.io (apt, as root) if
#                             dockerd is missing and start dockerd by hand
#   docker/engine.sh stop     stop the dockerd that `start` started (by the PID in its file)
#   docker/engine.sh status   exit 0 when an engine answers
#
# The engine is started the way that works inside a VM or CI container without systemd:
# overlay2 storage (vfs was 7x slower and used 17 GB for one image), no bridge and no iptables
# (builds and runs use --network host). Images and the build cache stay in the data root
# (/var/lib/docker) between runs, so only the first build pays for the dependencies.
#
# Settings (environment): TRAINLAB_DOCKERD_PIDFILE (default /var/run/trainlab-dockerd.pid),
# TRAINLAB_DOCKERD_LOG (default /var/log/trainlab-dockerd.log).
# Exit status 3: no engine could be installed or started (the reason is printed).
set -euo pipefail

PIDFILE="${TRAINLAB_DOCKERD_PIDFILE:-/var/run/trainlab-dockerd.pid}"
LOG="${TRAINLAB_DOCKERD_LOG:-/var/log/trainlab-dockerd.log}"
die() { echo "engine.sh: $1" >&2; exit "${2:-3}"; }

engine_answers() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

install_docker() {
  ((EUID == 0)) || die "dockerd is not installed and installing it needs root: sudo apt-get install docker.io"
  command -v apt-get >/dev/null || die "dockerd is not installed and this is no apt system: install Docker Engine"
  echo "engine.sh: installing docker.io with apt-get" >&2
  # wait for dpkg's lock: the SLURM tests' cluster may be installing its packages meanwhile
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q docker.io >&2 \
    || die "apt-get install docker.io failed (see above)"
}

start() {
  if engine_answers; then
    echo "engine.sh: using the Docker engine that is already running" >&2
    return 0
  fi
  command -v dockerd >/dev/null || install_docker
  ((EUID == 0)) || die "no Docker engine answers and starting dockerd needs root"
  if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    die "dockerd $(cat "$PIDFILE") (from $PIDFILE) runs but does not answer: see $LOG"
  fi
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null \
    || die "the kernel has no overlay filesystem (needed by the overlay2 storage driver)"
  echo "engine.sh: starting dockerd (overlay2, no bridge), log $LOG" >&2
  # setsid: the daemon outlives this shell and is not killed with the caller's process group
  setsid dockerd --storage-driver overlay2 --bridge none --iptables=false --ip6tables=false \
    --pidfile "$PIDFILE" >>"$LOG" 2>&1 </dev/null &
  local waited=0
  until engine_answers; do
    sleep 1
    waited=$((waited + 1))
    if ((waited >= 60)); then
      tail -n 20 "$LOG" >&2 || true
      die "dockerd did not answer within 60 s (log above, $LOG)"
    fi
  done
  echo "engine.sh: dockerd $(cat "$PIDFILE") answers after ${waited} s" >&2
}

stop() {
  if [[ ! -f "$PIDFILE" ]]; then
    echo "engine.sh: no $PIDFILE: nothing started here to stop" >&2
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && die "dockerd $pid did not stop within 30 s" 1
    echo "engine.sh: stopped dockerd $pid" >&2
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) engine_answers ;;
  *) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
