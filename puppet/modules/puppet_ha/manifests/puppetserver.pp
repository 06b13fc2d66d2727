# @summary A puppetserver behind the puppet-ha balancer (used by puppet_ha::ca and puppet_ha::master):
#   plain HTTP on a private address (webserver.conf), header auth on (auth.conf), the CA service on
#   or off (services.d/ca.cfg), $extra_files (paths already under $root), and the puppetserver
#   service, restarted when any of them changes.
# @api private
class puppet_ha::puppetserver (
  String[1] $bind_host,
  Integer[1, 65535] $port,
  Boolean $ca_enabled,
  Hash[String[1], String] $extra_files,
  Boolean $allow_wildcard_bind,
  Puppet_ha::Absolutepath $confdir,
  Puppet_ha::Absolutepath $access_log_config,
  String $root,
  Boolean $manage_service,
  String[1] $service_name,
  Enum['running', 'stopped'] $service_ensure,
  Boolean $service_enable,
) {
  $role = $ca_enabled ? { true => 'ca', default => 'master' }
  puppet_ha::private_bind("puppet_ha::${role}", $bind_host, $allow_wildcard_bind)

  $files = {
    "${root}${confdir}/conf.d/webserver.conf" => epp('puppet_ha/puppetserver.webserver.conf.epp', {
      'host'              => $bind_host,
      'port'              => $port,
      'access_log_config' => $access_log_config,
    }),
    "${root}${confdir}/conf.d/auth.conf"      => epp('puppet_ha/puppetserver.auth.conf.epp', {
      'allow_header_cert_info' => true,
    }),
    "${root}${confdir}/services.d/ca.cfg"     => epp('puppet_ha/puppetserver.ca.cfg.epp', {
      'ca_enabled' => $ca_enabled,
    }),
  } + $extra_files
  $files.each |$path, $content| {
    file { $path:
      ensure  => file,
      owner   => 'root',
      group   => 'root',
      mode    => '0644',
      content => $content,
    }
  }

  if $manage_service {
    service { $service_name:
      ensure    => $service_ensure,
      enable    => $service_enable,
      subscribe => File[$files.keys],
    }
  }
}
