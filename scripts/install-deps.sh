#!/bin/sh
# Installs the Debian packages het needs that are not installed yet.
# Idempotent and quiet when everything is present; uses sudo when not root.
set -eu
PKGS="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libopenblas-dev
      libjpeg-dev libpng-dev python3-opencv python3-numpy
      ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo libcjson-dev libsqlite3-dev sqlite3
      libpapi-dev papi-tools gnuplot-nox"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "het: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
