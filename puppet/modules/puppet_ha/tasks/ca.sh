#!/bin/sh
# Bolt task puppet_ha::ca: `puppet-ha ca status|failover|failback --json` on the balancer; the
# JSON answer becomes the task's result, puppet-ha's exit code its status (1 refused, 2 bad input).
set -eu
action="${PT_action:-}"
case "$action" in
  status|failover|failback) ;;
  *) echo "puppet_ha::ca: action must be status, failover or failback, not '$action'" >&2; exit 2 ;;
esac
exec "${PT_bin:-/usr/bin/puppet-ha}" ca "$action" -c "${PT_config:-/etc/puppet-ha/puppet-ha.yaml}" --json
