#!/usr/bin/env bash
# Prepare this checkout on a fresh Debian machine; safe to run again (it skips what is done).
#   scripts/setup.sh            the project in .venv, plus Prometheus (for the demo)
#   scripts/setup.sh test       also the test extras, the pipeline compiler, Docker engine and debootstrap
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

python_bin="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python_bin" -m venv .venv
fi

extras=""
[ "$mode" = "test" ] && extras="[test,pipeline]"
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-12)-${mode}"
if [ ! -f "$stamp" ]; then
  echo "setup: installing kepler-model-pipeline${extras} into .venv"
  # Quiet unless something fails: pip's output goes to a log that is shown only then.
  log=".venv/setup-pip.log"
  if ! { .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip \
         && .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"; } >"$log" 2>&1 \
     || ! .venv/bin/python -c "import steps, sklearn, xgboost, pandas" >>"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: install failed (log above, also in $log)" >&2
    exit 1
  fi
  touch "$stamp"
fi

bash scripts/ensure_prometheus.sh

apt_install() {
  # Debian packages by name, installed only when a command is missing.
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to install $*" >&2; return 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "$@" >/dev/null \
    || { apt-get update -qq -o DPkg::Lock::Timeout=600 && \
         DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "$@" >/dev/null; }
}

if [ "$mode" = "test" ]; then
  command -v dockerd >/dev/null 2>&1 || { echo "setup: installing docker.io"; apt_install docker.io; }
  command -v debootstrap >/dev/null 2>&1 || { echo "setup: installing debootstrap"; apt_install debootstrap; }
  command -v kubectl >/dev/null 2>&1 || echo "setup: kubectl not found; the kustomize build test will be skipped"
fi
echo "setup: ready"
