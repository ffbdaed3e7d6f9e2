#!/bin/sh
# Installs the Debian packages nsafuse builds and tests with. Idempotent.
set -eu

PACKAGES="llvm-22 llvm-22-dev lld-22 clang-22 libclang-rt-22-dev meson ninja-build pkg-config
libcmocka-dev libzstd-dev zlib1g-dev libdlpack-dev
python3 python3-pytest python3-numpy python3-torch"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
    command -v sudo >/dev/null 2>&1 || {
        echo "install-deps: need root to install:$missing" >&2
        echo "install-deps: run this script as root, or install those packages" >&2
        exit 1
    }
else
    SUDO=
fi
echo "install-deps: installing:$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
