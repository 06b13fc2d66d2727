# @summary A compile master behind the puppet-ha balancer: plain HTTP, header auth, CA service off.
#
# A compile master behind the puppet-ha balancer: plain HTTP on a private address,
# header auth on, the CA service off (services.d/ca.cfg holds the CA-disabled service and the
# filesystem watch service), and the puppetserver service.
#
# @example
#   class { 'puppet_ha::master':
#     bind_host => '10.0.0.21',
#   }
#
# @param bind_host The private address the balancer reaches this master on. Refused: 0.0.0.0 and
#   :: (a header-auth puppetserver trusts X-Client-* headers from anyone who can reach it) unless
#   $allow_wildcard_bind, for hosts whose firewall lets only the balancer in.
# @param port puppetserver's plain-HTTP port (webserver.conf).
# @param allow_wildcard_bind Allow $bind_host 0.0.0.0 or :: (behind a firewall).
# @param confdir puppetserver's config dir, conf.d/ and services.d/ under it (module data:
#   /etc/puppet/puppetserver, or /etc/puppetlabs/puppetserver for Puppet AIO / OpenVox).
# @param access_log_config puppetserver's access-log-config; default "${confdir}/request-logging.xml".
# @param codedir Its environments/production/manifests is made sure to exist, so that agents get
#   a catalog from a fresh install (module data: /etc/puppet/code, or /etc/puppetlabs/code).
# @param manage_codedir false: leave the code dir alone (r10k or code manager deploy it).
# @param manage_puppetserver_config Write webserver.conf, auth.conf and services.d/ca.cfg. false:
#   leave them to another module (theforeman/puppet, puppet-puppetserver) and only check that the
#   settings puppet-ha needs are there (the run fails on the check that is not met).
# @param root Prefix for every file this class writes (a scratch area for tests).
# @param manage_service Manage the puppetserver service (restarted when its files change).
# @param service_name puppetserver's service name.
# @param service_ensure The service's state.
# @param service_enable Start it at boot.
class puppet_ha::master (
  String[1] $bind_host,
  Puppet_ha::Absolutepath $confdir,
  Puppet_ha::Absolutepath $codedir,
  Integer[1, 65535] $port = 8140,
  Boolean $allow_wildcard_bind = false,
  Optional[Puppet_ha::Absolutepath] $access_log_config = undef,
  Boolean $manage_codedir = true,
  Boolean $manage_puppetserver_config = true,
  String $root = '',
  Boolean $manage_service = true,
  String[1] $service_name = 'puppetserver',
  Enum['running', 'stopped'] $service_ensure = 'running',
  Boolean $service_enable = true,
) {
  class { 'puppet_ha::puppetserver':
    bind_host           => $bind_host,
    port                => $port,
    ca_enabled          => false,
    extra_files         => {},
    allow_wildcard_bind => $allow_wildcard_bind,
    manage_config       => $manage_puppetserver_config,
    confdir             => $confdir,
    access_log_config   => $access_log_config.lest || { "${confdir}/request-logging.xml" },
    root                => $root,
    manage_service      => $manage_service,
    service_name        => $service_name,
    service_ensure      => $service_ensure,
    service_enable      => $service_enable,
  }

  if $manage_codedir {
    $env = "${root}${codedir}/environments"
    file { ["${root}${codedir}", $env, "${env}/production", "${env}/production/manifests"]:
      ensure => directory,
      owner  => 'root',
      group  => 'root',
      mode   => '0755',
    }
  }
}
