#!/usr/bin/env bash
# Applies this VM's role from the puppet_ha module (manifests/site.pp picks the classes by name).
# Usage: role.sh NAME ROLE CA_ROLE DOMAIN
set -euo pipefail

name="$1"
role="$2"
ca_role="$3"
domain="$4"
exchange=/vagrant-exchange

ssl=/var/lib/puppet/ssl
# Copies a host certificate and key handed out by the primary CA into this host's ssldir.
install_host_cert() {
  install -d -o puppet -g puppet -m 0771 "$ssl" "$ssl/certs"
  install -d -o puppet -g puppet -m 0750 "$ssl/private_keys"
  install -o puppet -g puppet -m 0644 "$exchange/ssl/ca.pem" "$exchange/ssl/crl.pem" "$ssl/certs/"
  mv -f "$ssl/certs/crl.pem" "$ssl/crl.pem"
  install -o puppet -g puppet -m 0644 "$exchange/ssl/$1.pem" "$ssl/certs/$1.pem"
  install -o puppet -g puppet -m 0640 "$exchange/ssl/$1.key" "$ssl/private_keys/$1.pem"
}

# The primary CA creates the CA before anything else and hands out what the others need: the CA
# bundle and CRL, host certificates for the balancer, the standby CAs (a standby that made its own
# would sign on its cadir copy and diverge at once) and the operators, a copy of its cadir for the
# standbys to start from (a standby must start on a complete copy), the admin token and the ssh key
# the sync agents read each other's cadir with.
if [ "$role" = ca ] && [ "$ca_role" = primary ] && [ ! -f /etc/puppet/puppetserver/ca/ca_crt.pem ]; then
  puppetserver ca setup --certname "${name}.${domain}"
  # puppetserver is not running yet: --ca-client signs offline (the certificates then also carry
  # pp_cli_auth, the CA API's admin extension; acceptable in this lab, see README.md).
  generate() { puppetserver ca generate --ca-client --force "$@"; }
  certs=("balancer.${domain}" "ops.${domain}")
  generate --certname "balancer.${domain}" --subject-alt-names "balancer,balancer.${domain},puppet,puppet.${domain}"
  generate --certname "ops.${domain}"
  # The other CA workers listed in nodes.json.
  standbys=$(node -e 'const n = require(process.argv[1]); console.log(n.nodes.filter((x) => x.role === "ca" && x.name !== process.argv[2]).map((x) => x.name).join(" "))' \
    /opt/puppet-ha/vagrant/nodes.json "$name")
  for standby in $standbys; do
    generate --certname "${standby}.${domain}" --subject-alt-names "${standby},${standby}.${domain}"
    certs+=("${standby}.${domain}")
  done
  install -d -m 0700 "$exchange/ssl" "$exchange/sync"
  cp /etc/puppet/puppetserver/ca/ca_crt.pem "$exchange/ssl/ca.pem"
  cp /etc/puppet/puppetserver/ca/ca_crl.pem "$exchange/ssl/crl.pem"
  for cn in "${certs[@]}"; do
    cp "/var/lib/puppet/ssl/certs/${cn}.pem" "$exchange/ssl/"
    cp "/var/lib/puppet/ssl/private_keys/${cn}.pem" "$exchange/ssl/${cn}.key"
  done
  rsync -a --delete /etc/puppet/puppetserver/ca/ "$exchange/cadir/"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$exchange/admin.token"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$exchange/twitch.token"
  rm -f "$exchange/sync/id_ed25519" "$exchange/sync/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -C puppet-ha-sync -f "$exchange/sync/id_ed25519"
  # The agent nodes, one a line: targets for `puppet-ha fleet twitch`.
  node -e 'const n = require(process.argv[1]); for (const x of n.nodes) if (x.role === "node") console.log(x.name + "." + n.domain)' \
    /opt/puppet-ha/vagrant/nodes.json > "$exchange/nodes.txt"
fi
if [ "$role" = ca ] && [ "$ca_role" = standby ] && [ ! -f /etc/puppet/puppetserver/ca/ca_crt.pem ]; then
  if [ ! -f "$exchange/cadir/ca_crt.pem" ] || [ ! -f "$exchange/ssl/${name}.${domain}.pem" ]; then
    echo "role.sh: provision the primary CA first (vagrant up ca1)" >&2
    exit 1
  fi
  install -d -o puppet -g puppet -m 0750 /etc/puppet/puppetserver/ca
  rsync -a "$exchange/cadir/" /etc/puppet/puppetserver/ca/
  chown -R puppet:puppet /etc/puppet/puppetserver/ca
  install_host_cert "${name}.${domain}"
fi
if [ "$role" = proxy ] && [ ! -f "$ssl/certs/balancer.${domain}.pem" ]; then
  if [ ! -f "$exchange/ssl/balancer.${domain}.pem" ]; then
    echo "role.sh: provision the primary CA first (vagrant up ca1)" >&2
    exit 1
  fi
  install_host_cert "balancer.${domain}"
fi

FACTER_puppet_ha_role="$role" FACTER_puppet_ha_ca_role="$ca_role" FACTER_puppet_ha_exchange="$exchange" \
  FACTER_puppet_ha_name="$name" \
  puppet apply --detailed-exitcodes \
    --modulepath /opt/puppet-ha/puppet/modules \
    /opt/puppet-ha/vagrant/manifests/site.pp || [ $? -eq 2 ]
