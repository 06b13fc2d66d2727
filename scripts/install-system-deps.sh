#!/usr/bin/env bash
# Installs the Debian packages puppet-ha's tests (and demo) need, skipping what is already there.
# Never lets the puppetserver package start a system-wide server: a temporary policy-rc.d blocks
# service starts during the install (Debian's invoke-rc.d honours exit 101).
# Usage: scripts/install-system-deps.sh [extra-package ...]
set -euo pipefail

packages=(puppet-agent puppetserver etcd-server haproxy nats-server rsync openssl sudo chromium python3 vagrant shellcheck puppet-lint puppet-strings prometheus "$@")
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present (${packages[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 2
fi

policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Belt and braces: if a system puppetserver got started anyway, stop it; tests run their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet puppetserver 2>/dev/null; then
  systemctl stop puppetserver || true
fi
echo "installed: ${missing[*]}"
