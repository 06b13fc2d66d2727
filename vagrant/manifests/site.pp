# The Vagrant cluster's roles from the puppet_ha module, applied by provision/role.sh with the
# facts puppet_ha_role (proxy, ca, master, node), puppet_ha_ca_role (primary, standby),
# puppet_ha_name (the VM's name in nodes.json) and puppet_ha_exchange (the folder the primary CA
# hands out certificates, tokens and the sync key in).
# The addresses are those of nodes.json (test/integration/deploy/vagrant.test.ts keeps them equal).
$domain = 'puppet-ha.test'
$balancer = { 'name' => 'balancer', 'ip' => '192.168.56.10' }
# CA workers in priority order: the first is the primary.
$cas = { 'ca1' => '192.168.56.11', 'ca2' => '192.168.56.12' }
$masters = { 'master1' => '192.168.56.21', 'master2' => '192.168.56.22' }
$nodes = { 'node01' => '192.168.56.31', 'node02' => '192.168.56.32' }

$role = $facts['puppet_ha_role']
$me = $facts['puppet_ha_name']
$exchange = $facts['puppet_ha_exchange']
$bin = '/usr/local/bin/puppet-ha'
$balancer_fqdn = "${balancer['name']}.${domain}"

unless $role in ['proxy', 'ca', 'master', 'node'] {
  fail("site.pp: unknown role '${role}' for ${me}")
}

# Every host but the balancer is an agent of the balancer: catalogs and certificates go through it.
if $role != 'proxy' {
  class { 'puppet_ha::agent':
    server => $balancer_fqdn,
  }
}

case $role {
  'proxy': {
    class { 'puppet_ha::proxy':
      certname       => $balancer_fqdn,
      ca_workers     => $cas.map |$n, $ip| { { 'name' => $n, 'url' => "http://${ip}:8140" } },
      masters        => $masters.map |$n, $ip| { { 'name' => $n, 'url' => "http://${ip}:8140" } },
      # The CA hosts' sync agents ask it which CA is active; the private network only.
      admin_listen   => "${balancer['ip']}:8141",
      admin_token    => Sensitive(file("${exchange}/admin.token").strip),
      bin            => $bin,
      # puppet-ha comes from the synced source tree here, not from a package.
      manage_package => false,
    }
  }
  'ca': {
    unless $me in $cas { fail("site.pp: ${me} is not one of the CA workers ${cas.keys.join(', ')}") }
    class { 'puppet_ha::ca':
      worker_name          => $me,
      bind_host            => $cas[$me],
      # The other CA workers' cadirs, read over ssh as their puppet-ha-sync user.
      cadirs               => $cas.filter |$n, $ip| { $n != $me }.reduce({}) |$acc, $kv| {
        $acc + { $kv[0] => "puppet-ha-sync@${kv[0]}.${domain}:/etc/puppet/puppetserver/ca" }
      },
      arbiter_url          => "http://${balancer['ip']}:8141",
      admin_token          => Sensitive(file("${exchange}/admin.token").strip),
      autosign             => ["*.${domain}"],
      ssh                  => ['ssh', '-oBatchMode=yes', '-oStrictHostKeyChecking=accept-new',
        '-oUserKnownHostsFile=/var/lib/puppet-ha/known_hosts'],
      ssh_private_key      => Sensitive(file("${exchange}/sync/id_ed25519")),
      sync_login_user      => 'puppet-ha-sync',
      sync_authorized_keys => [file("${exchange}/sync/id_ed25519.pub").strip],
      bin                  => $bin,
      manage_package       => false,
    }
  }
  'master': {
    unless $me in $masters { fail("site.pp: ${me} is not one of the masters ${masters.keys.join(', ')}") }
    class { 'puppet_ha::master':
      bind_host => $masters[$me],
    }
  }
  default: {
    # Nodes: the run trigger, with a token (their certificate does not exist before enrolment).
    class { 'puppet_ha::twitch':
      listen         => '0.0.0.0:2023',
      token          => Sensitive(file("${exchange}/twitch.token").strip),
      mtls           => false,
      bin            => $bin,
      manage_package => false,
    }
  }
}
