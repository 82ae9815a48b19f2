#!/usr/bin/env bash
# Installs the Debian packages itracr needs to build and test, only those missing.
# Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail
pkgs=(gcc make clang clang-format libclang-rt-14-dev libcjson-dev libopenblas-dev libzip-dev libxxhash-dev python3-numpy python3-torch pkg-config help2man "$@")
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
