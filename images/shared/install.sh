#!/bin/sh
# Build-time helper shared by the step images (runs in the build stage only, never at run time).
#   install.sh requirements FILE   create the venv and install a step's pinned requirements
#   install.sh project DIR         install the kepler-model package (no dependencies), then drop pip
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
    requirements)
        python3 -m venv "$VIRTUAL_ENV"
        $pip install --requirement "$2" ;;
    project)
        $pip install --no-deps "$2"
        # The runtime image gets the venv without its installer. (Test folders inside wheels stay:
        # numpy.testing, which scipy imports, reads numpy/_core/tests.)
        $pip uninstall --yes pip setuptools >/dev/null ;;
    *)
        echo "usage: install.sh requirements FILE | project DIR" >&2
        exit 2 ;;
esac
