#!/usr/bin/env bash
# Make sure `prometheus` and `promtool` are installed (Debian package), for the integration tests,
# the demo and the benchmark. Idempotent and quiet: does nothing when both binaries are present.
# Debian's package may start a system prometheus service; we stop any prometheus that the install
# started (but never one that was already running before), since tests start their own servers.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ]; }

if have prometheus && have promtool; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "ensure_prometheus: need root or sudo to install prometheus" >&2; exit 1; }
    SUDO="sudo"
fi

before="$(pgrep -x prometheus || true)"
APT=(env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600)
# Keep the package's service from starting where policy-rc.d is honoured (plain Debian systems).
policy_added=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    policy_added=1
fi
cleanup() { if [ -n "$policy_added" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

install_pkg() { $SUDO "${APT[@]}" install -y --no-install-recommends prometheus >/dev/null; }
if ! apt-cache show prometheus >/dev/null 2>&1 || ! install_pkg; then
    $SUDO "${APT[@]}" update >/dev/null
    install_pkg
fi

# Stop a prometheus the package may have started anyway (only new ones, by PID).
for pid in $(pgrep -x prometheus || true); do
    case " $before " in *" $pid "*) continue ;; esac
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
        $SUDO systemctl stop prometheus >/dev/null 2>&1 || true
        $SUDO systemctl disable prometheus >/dev/null 2>&1 || true
    fi
    $SUDO kill "$pid" 2>/dev/null || true
done

have prometheus && have promtool || { echo "ensure_prometheus: prometheus/promtool still missing after install" >&2; exit 1; }
