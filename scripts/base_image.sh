#!/usr/bin/env bash
# Build the local base image for the step images when no registry is reachable.
#
#   DOCKER_HOST=unix://... scripts/base_image.sh [TAG]     (default TAG: kepler-model-base:local)
#
# debootstrap a minimal Debian bookworm with Python 3.11 and import it as an image. The Debian
# mirror is read at run time from this machine's apt sources; it is never written into the repo.
# Skipped when the image already exists (set KEPLER_BASE_REBUILD=1 to rebuild).
set -euo pipefail

TAG="${1:-kepler-model-base:local}"
SUITE="${KEPLER_BASE_SUITE:-bookworm}"
DOCKER="${DOCKER_CLIENT:-/usr/bin/docker}"

if [[ "${KEPLER_BASE_REBUILD:-0}" != "1" ]] && "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
    echo "base_image: $TAG exists"
    exit 0
fi

mirror() {
    local uri=""
    if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
        # deb822: the URIs of the first stanza that lists the plain suite.
        uri="$(awk -v suite="$SUITE" '
            /^URIs:/ { uris = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) { print uris; exit } }
            /^$/ { uris = "" }' /etc/apt/sources.list.d/debian.sources)"
    fi
    if [[ -z "$uri" && -r /etc/apt/sources.list ]]; then
        uri="$(awk -v suite="$SUITE" '$1 == "deb" && $0 ~ " " suite " " { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i; exit } }' /etc/apt/sources.list)"
    fi
    [[ -n "$uri" ]] || { echo "base_image: no Debian mirror for $SUITE in the apt sources" >&2; exit 1; }
    echo "$uri"
}

command -v debootstrap >/dev/null || { echo "base_image: debootstrap not found (apt-get install debootstrap)" >&2; exit 1; }
MIRROR="$(mirror)"
ROOTFS="$(mktemp -d /var/tmp/kepler-model-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT

debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || { tail -n 30 "$ROOTFS.log" >&2; rm -f "$ROOTFS.log"; exit 1; }
rm -f "$ROOTFS.log"
# Keep the image small: apt lists, caches, documentation and translations are not needed at run time.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/*
tar -C "$ROOTFS" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' - "$TAG" >/dev/null
echo "base_image: built $TAG"
