#!/bin/sh
# Build-time helper of the step images (images/Dockerfile; build stage only, never at run time).
#   install.sh check STEP           refuse a build without --build-arg STEP=<step>
#   install.sh requirements FILE    create the venv and install a step's pinned requirements
#   install.sh project DIR          install the kepler-model package (no dependencies), then drop pip
#   install.sh entrypoint STEP      check STEP against the step contract (steps/contract/) and write
#                                   the image's entry point, kepler-model-step: `kepler-model STEP "$@"`
# A CA bundle placed beside this script at build time (ca-certificates.crt, git-ignored) is
# trusted by pip, for builds behind a TLS-intercepting proxy; PIP_INDEX_URL and
# PIP_EXTRA_INDEX_URL come from build arguments and are dropped when empty.
set -eu
here="$(dirname "$0")"
[ -n "${PIP_INDEX_URL:-}" ] || unset PIP_INDEX_URL
[ -n "${PIP_EXTRA_INDEX_URL:-}" ] || unset PIP_EXTRA_INDEX_URL
if [ -s "$here/ca-certificates.crt" ]; then
    export PIP_CERT="$here/ca-certificates.crt"
fi
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
pip="$VIRTUAL_ENV/bin/python -m pip"
case "$1" in
    check)
        if [ -z "${2:-}" ]; then
            echo "install.sh: build with --build-arg STEP=<step> (query, train or export)" >&2
            exit 2
        fi ;;
    requirements)
        python3 -m venv "$VIRTUAL_ENV"
        $pip install --requirement "$2" ;;
    project)
        $pip install --no-deps "$2"
        # The runtime image gets the venv without its installer. (Test folders inside wheels stay:
        # numpy.testing, which scipy imports, reads numpy/_core/tests.)
        $pip uninstall --yes pip setuptools >/dev/null ;;
    entrypoint)
        # Only a step of the contract (`run` is a command, not a step: it has no image).
        "$VIRTUAL_ENV/bin/python" -c '
import sys
from steps.contract import ContractError, step_named
try:
    step_named(sys.argv[1])
except ContractError as problem:
    sys.exit(f"install.sh: {problem}")' "$2"
        entry="$VIRTUAL_ENV/bin/kepler-model-step"
        printf '#!/bin/sh\n# The entry point of the kepler-model-%s image.\nexec kepler-model %s "$@"\n' "$2" "$2" >"$entry"
        chmod 0755 "$entry" ;;
    *)
        echo "usage: install.sh check STEP | requirements FILE | project DIR | entrypoint STEP" >&2
        exit 2 ;;
esac
