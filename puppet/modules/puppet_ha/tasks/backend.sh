#!/bin/sh
# Bolt task puppet_ha::backend: `puppet-ha backend drain|enable NAME --json` on the balancer.
set -eu
action="${PT_action:-}"
case "$action" in
  drain|enable) ;;
  *) echo "puppet_ha::backend: action must be drain or enable, not '$action'" >&2; exit 2 ;;
esac
# `--` keeps a backend name starting with "-" from being read as an option.
exec "${PT_bin:-/usr/bin/puppet-ha}" backend "$action" -c "${PT_config:-/etc/puppet-ha/puppet-ha.yaml}" --json -- "${PT_backend:-}"
