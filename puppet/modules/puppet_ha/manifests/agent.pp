# @summary puppet.conf of a node behind puppet-ha: server and ca_server point at the balancer.
#
# The agent side of every host behind puppet-ha: puppet.conf with `server` and `ca_server`
# pointing at the balancer (the agent then never talks to a CA or master directly, so a failover
# changes nothing on the nodes). The whole file is written from a template (no ini-editing
# module needed): settings this class does not know go in $main_settings, $agent_settings and
# $server_settings.
#
# @example
#   class { 'puppet_ha::agent':
#     server => 'puppet.example.com',
#   }
#
# @param server The balancer's name (must be in its certificate's subject alternative names).
# @param ca_server Default $server: CA requests go through the balancer too.
# @param serverport `serverport`: the balancer's port.
# @param ca_port `ca_port`; default $serverport.
# @param certname `certname` in [main]; undef: Puppet's default (the host's FQDN).
# @param section Where server/ca_server/ports go: [agent] (default: only the agent reads it, the
#   `puppetserver ca` CLI reads [agent] too) or [main].
# @param main_settings More settings of the `[main]` section (name => value; no newline or '#' in values).
# @param agent_settings More settings of the `[agent]` section.
# @param server_settings Settings of the `[server]` section.
# @param puppet_conf The file (module data: /etc/puppet/puppet.conf, or
#   /etc/puppetlabs/puppet/puppet.conf for Puppet AIO / OpenVox).
# @param root Prefix for the file this class writes (a scratch area for tests).
class puppet_ha::agent (
  Pattern[/\A[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\z/] $server,
  Puppet_ha::Absolutepath $puppet_conf,
  Optional[Pattern[/\A[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\z/]] $ca_server = undef,
  Integer[1, 65535] $serverport = 8140,
  Optional[Integer[1, 65535]] $ca_port = undef,
  Optional[Pattern[/\A[a-z0-9._-]+\z/]] $certname = undef,
  Enum['agent', 'main'] $section = 'agent',
  Hash[Pattern[/\A[a-z_]+\z/], Variant[String, Integer, Boolean]] $main_settings = {},
  Hash[Pattern[/\A[a-z_]+\z/], Variant[String, Integer, Boolean]] $agent_settings = {},
  Hash[Pattern[/\A[a-z_]+\z/], Variant[String, Integer, Boolean]] $server_settings = {},
  String $root = '',
) {
  ($main_settings + $agent_settings + $server_settings).each |$k, $v| {
    if String($v) =~ /[\n\r#]/ {
      fail("puppet_ha::agent: the value of ${k} must not hold a newline or '#' (puppet.conf has no inline comments)")
    }
  }
  $ours = {
    'server'     => $server,
    'ca_server'  => $ca_server.lest || { $server },
    'serverport' => $serverport,
    'ca_port'    => $ca_port.lest || { $serverport },
  }
  $ours.keys.each |$k| {
    if $k in $main_settings or $k in $agent_settings {
      fail("puppet_ha::agent: set ${k} with its own parameter, not in main_settings/agent_settings")
    }
  }
  $main = $main_settings + ($certname ? { undef => {}, default => { 'certname' => $certname } }) + ($section ? {
    'main'  => $ours,
    default => {},
  })
  $agent = $agent_settings + ($section ? { 'agent' => $ours, default => {} })

  file { "${root}${puppet_conf}":
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('puppet_ha/puppet.conf.epp', {
      'sections' => {
        'main'   => $main,
        'agent'  => $agent,
        'server' => $server_settings,
      },
    }),
  }
}
