#!/usr/bin/env bash
# Start or stop a private Docker engine (Debian's docker.io) for the container tests.
#
#   scripts/docker_engine.sh start   # prints DOCKER_HOST=unix://... once `docker info` answers
#   scripts/docker_engine.sh stop    # stops the engine started by `start`, by its PID
#   scripts/docker_engine.sh status
#
# No bridge, no iptables: builds and containers use `--network host`. The engine keeps its images
# in KEPLER_DOCKER_ROOT (default /var/lib/kepler-model-docker) so the base image and layers are
# reused by the next run; its socket and PID file live in KEPLER_DOCKER_EXEC (default
# /run/kepler-model-docker), apart from any system engine.
set -euo pipefail

ROOT="${KEPLER_DOCKER_ROOT:-/var/lib/kepler-model-docker}"
EXEC="${KEPLER_DOCKER_EXEC:-/run/kepler-model-docker}"
PIDFILE="$EXEC/dockerd.pid"
SOCKET="$EXEC/docker.sock"
LOG="$ROOT/dockerd.log"
DOCKER="${DOCKER_CLIENT:-/usr/bin/docker}"   # Debian's client matches Debian's engine
WAIT_SECONDS="${KEPLER_DOCKER_WAIT:-60}"

running_pid() {
    [[ -s "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE")"
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

answers() {
    DOCKER_HOST="unix://$SOCKET" "$DOCKER" info >/dev/null 2>&1
}

start() {
    if pid="$(running_pid)" && answers; then
        echo "DOCKER_HOST=unix://$SOCKET"
        return 0
    fi
    command -v dockerd >/dev/null || { echo "docker_engine: dockerd not found (apt-get install docker.io)" >&2; exit 1; }
    mkdir -p "$ROOT/data" "$EXEC"
    rm -f "$PIDFILE"
    dockerd --storage-driver overlay2 --iptables=false --ip6tables=false --bridge=none --ip-masq=false \
        --data-root "$ROOT/data" --exec-root "$EXEC/exec" --pidfile "$PIDFILE" \
        --host "unix://$SOCKET" >"$LOG" 2>&1 </dev/null &
    local launched=$!
    for _ in $(seq 1 "$((WAIT_SECONDS * 4))"); do
        if answers; then
            echo "DOCKER_HOST=unix://$SOCKET"
            return 0
        fi
        if ! kill -0 "$launched" 2>/dev/null; then
            echo "docker_engine: dockerd exited; last log lines:" >&2
            tail -n 20 "$LOG" >&2
            exit 1
        fi
        sleep 0.25
    done
    echo "docker_engine: dockerd did not answer within ${WAIT_SECONDS}s; see $LOG" >&2
    kill "$launched" 2>/dev/null || true
    exit 1
}

stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PIDFILE"
        return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 120); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; return 0; }
        sleep 0.25
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if running_pid >/dev/null && answers; then echo "running: DOCKER_HOST=unix://$SOCKET"; else echo "stopped"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
