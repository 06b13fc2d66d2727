#!/usr/bin/env bash
# Provisioning shared by every VM: /etc/hosts, Debian packages for the role, Node.js, puppet-ha.
# Usage: common.sh ROLE HOSTS_LINES
set -euo pipefail

role="$1"
hosts="$2"

# Name resolution between the VMs without DNS.
sed -i '/# puppet-ha-cluster$/d' /etc/hosts
while IFS= read -r line; do
  [ -n "$line" ] && printf '%s # puppet-ha-cluster\n' "$line" >> /etc/hosts
done <<< "$hosts"

export DEBIAN_FRONTEND=noninteractive
packages=(puppet-agent rsync ca-certificates curl xz-utils)
case "$role" in
  ca | master) packages+=(puppetserver) ;;
  proxy | node) ;;
  *) echo "common.sh: unknown role '$role'" >&2; exit 2 ;;
esac
# The roles configure and start puppetserver themselves, with their own settings.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"

# Node.js >= 20.19 (Debian 12 ships 18): the official Linux x64 build, checked against its SHASUMS.
node_version="${PUPPET_HA_NODE_VERSION:-v22.14.0}"
if ! command -v node >/dev/null 2>&1 || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  tarball="node-${node_version}-linux-x64.tar.xz"
  tmp=$(mktemp -d)
  curl -fsSL -o "$tmp/$tarball" "https://nodejs.org/dist/${node_version}/${tarball}"
  curl -fsSL -o "$tmp/SHASUMS256.txt" "https://nodejs.org/dist/${node_version}/SHASUMS256.txt"
  (cd "$tmp" && grep " ${tarball}\$" SHASUMS256.txt | sha256sum -c -)
  tar -xJf "$tmp/$tarball" -C /usr/local --strip-components=1
  rm -rf "$tmp"
fi

# puppet-ha from the synced repository, built and linked as /usr/local/bin/puppet-ha.
install -d -m 0755 /opt/puppet-ha
rsync -a --delete --exclude node_modules --exclude dist /opt/puppet-ha-src/ /opt/puppet-ha/
(cd /opt/puppet-ha && npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev)
ln -sf /opt/puppet-ha/bin/puppet-ha.js /usr/local/bin/puppet-ha
puppet-ha --version
