# @summary A compile master behind the puppet-ha balancer: plain HTTP on a private address,
#   header auth on, the CA service off (services.d/ca.cfg holds the CA-disabled service and the
#   filesystem watch service), and the puppetserver service.
#
# @param bind_host The private address the balancer reaches this master on. Refused: 0.0.0.0 and
#   :: (a header-auth puppetserver trusts X-Client-* headers from anyone who can reach it) unless
#   $allow_wildcard_bind, for hosts whose firewall lets only the balancer in.
# @param confdir puppetserver's config dir (conf.d/ and services.d/ under it). Upstream packages:
#   /etc/puppetlabs/puppetserver.
# @param codedir Its environments/production/manifests is made sure to exist, so that agents get
#   a catalog from a fresh install; undef to leave the code dir alone.
# @param root Prefix for every file this class writes (a scratch area for tests).
class puppet_ha::master (
  String[1] $bind_host,
  Integer[1, 65535] $port = 8140,
  Boolean $allow_wildcard_bind = false,
  Puppet_ha::Absolutepath $confdir = '/etc/puppet/puppetserver',
  Optional[Puppet_ha::Absolutepath] $access_log_config = undef,
  Optional[Puppet_ha::Absolutepath] $codedir = '/etc/puppet/code',
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
    confdir             => $confdir,
    access_log_config   => $access_log_config.lest || { "${confdir}/request-logging.xml" },
    root                => $root,
    manage_service      => $manage_service,
    service_name        => $service_name,
    service_ensure      => $service_ensure,
    service_enable      => $service_enable,
  }

  if $codedir != undef {
    $env = "${root}${codedir}/environments"
    file { ["${root}${codedir}", $env, "${env}/production", "${env}/production/manifests"]:
      ensure => directory,
      owner  => 'root',
      group  => 'root',
      mode   => '0755',
    }
  }
}
