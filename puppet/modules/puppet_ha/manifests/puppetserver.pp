# @summary A puppetserver behind the puppet-ha balancer (for puppet_ha::ca and puppet_ha::master).
#
# A puppetserver behind the puppet-ha balancer (used by puppet_ha::ca and puppet_ha::master):
# plain HTTP on a private address (webserver.conf), header auth on (auth.conf), the CA service on
# or off (services.d/ca.cfg), $extra_files (paths already under $root), and the puppetserver
# service, restarted when any of them changes. With $manage_config false the files are left to
# another module and only checked: each setting puppet-ha needs is an exec that fails the run
# (its title says what is missing) unless the file has it.
# @api private
#
# @param bind_host webserver.conf `host`.
# @param port webserver.conf `port`.
# @param ca_enabled The CA service on (a CA worker) or off (a compile master).
# @param extra_files More managed files (path => content), only with $manage_config.
# @param allow_wildcard_bind See puppet_ha::private_bind.
# @param manage_config Write the files (true) or only check them (false).
# @param confdir puppetserver's config dir.
# @param access_log_config webserver.conf `access-log-config`.
# @param root Prefix for every file (tests).
# @param manage_service Manage the puppetserver service.
# @param service_name Its name.
# @param service_ensure Its state.
# @param service_enable Start it at boot.
class puppet_ha::puppetserver (
  String[1] $bind_host,
  Integer[1, 65535] $port,
  Boolean $ca_enabled,
  Hash[String[1], String] $extra_files,
  Boolean $allow_wildcard_bind,
  Boolean $manage_config,
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

  $conf = "${root}${confdir}"
  if $manage_config {
    $files = {
      "${conf}/conf.d/webserver.conf" => epp('puppet_ha/puppetserver.webserver.conf.epp', {
        'host'              => $bind_host,
        'port'              => $port,
        'access_log_config' => $access_log_config,
      }),
      "${conf}/conf.d/auth.conf"      => epp('puppet_ha/puppetserver.auth.conf.epp', {
        'allow_header_cert_info' => true,
      }),
      "${conf}/services.d/ca.cfg"     => epp('puppet_ha/puppetserver.ca.cfg.epp', {
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
    $watched = File[$files.keys]
  } else {
    $host_re = $bind_host.regsubst(/[.\[\]]/, '[\\0]', 'G')
    $service = $ca_enabled ? {
      true    => 'certificate-authority-service/certificate-authority-service',
      default => 'certificate-authority-disabled-service/certificate-authority-disabled-service',
    }
    # grep -E patterns; the title is the message of a failed run.
    $checks = {
      "${conf}/conf.d/auth.conf must set allow-header-cert-info: true (in its authorization block)" =>
        ["${conf}/conf.d/auth.conf", '^[[:space:]]*allow-header-cert-info[[:space:]]*[:=][[:space:]]*true'],
      "${conf}/conf.d/webserver.conf must set host: ${bind_host} (a private address, plain HTTP)" =>
        ["${conf}/conf.d/webserver.conf", "^[[:space:]]*host[[:space:]]*[:=][[:space:]]*\"?${host_re}\"?[[:space:]]*,?[[:space:]]*\$"],
      "${conf}/conf.d/webserver.conf must set port: ${port}" =>
        ["${conf}/conf.d/webserver.conf", "^[[:space:]]*port[[:space:]]*[:=][[:space:]]*${port}[[:space:]]*,?[[:space:]]*\$"],
      "${conf}/services.d/ca.cfg must enable ${service}" =>
        ["${conf}/services.d/ca.cfg", "^[[:space:]]*puppetlabs\\.services\\.ca\\.${service}[[:space:]]*\$"],
    }
    $checks.each |$title, $check| {
      exec { "puppet_ha: ${title}":
        command => 'false',
        unless  => "grep -Eq '${check[1]}' '${check[0]}'",
        path    => ['/usr/bin', '/bin'],
      }
    }
    $watched = []
  }

  if $manage_service {
    service { $service_name:
      ensure    => $service_ensure,
      enable    => $service_enable,
      subscribe => $watched,
    }
  }
}
