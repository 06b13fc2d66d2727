# @summary The puppet-ha balancer (puppet-ha proxy) with its admin listener and optional in-process sync.
#
# The puppet-ha balancer: its config file (proxy, admin and optionally sync sections), the
# admin token file, the state dir, the systemd unit (deploy/systemd/puppet-ha-proxy.service), the
# package and the service.
#
# @example Two CA workers and two compile masters
#   class { 'puppet_ha::proxy':
#     ca_workers   => [{ name => 'ca1', url => 'http://10.0.0.11:8140' }, { name => 'ca2', url => 'http://10.0.0.12:8140' }],
#     masters      => [{ name => 'm1', url => 'http://10.0.0.21:8140' }],
#     admin_listen => '10.0.0.10:8141',
#     admin_token  => Sensitive(lookup('puppet_ha::admin_token')),
#   }
#
# @param ca_workers CA workers in priority order: the first is the primary, the rest hot standbys.
#   Their URLs are the plain-HTTP puppetservers of puppet_ha::ca (header auth on).
# @param masters Compile masters (puppet_ha::master), CA-disabled, plain HTTP with header auth.
# @param listen `proxy.listen`: where agents connect (host:port).
# @param certname The balancer's Puppet certname: its cert and key are looked up in $ssldir.
# @param ssldir The balancer's Puppet ssldir (module data: Debian's /var/lib/puppet/ssl, or
#   /etc/puppetlabs/puppet/ssl for Puppet AIO / OpenVox).
# @param tls_cert `proxy.tls.cert`; default "${ssldir}/certs/${certname}.pem".
# @param tls_key `proxy.tls.key`; default "${ssldir}/private_keys/${certname}.pem".
# @param tls_ca `proxy.tls.ca`; default "${ssldir}/certs/ca.pem".
# @param tls_crl `proxy.tls.crl`; default "${ssldir}/crl.pem".
# @param tls_min_version `proxy.tls.minVersion`.
# @param hold_writes `proxy.ca.holdWrites`: how long CA writes wait during a failover or failback.
# @param crl_refresh `proxy.ca.crlRefresh`: how often the CRL is fetched from the active CA.
# @param failback `proxy.ca.failback`: `manual` (the admin API or `puppet-ha ca failback`) or `auto`.
# @param failback_after `proxy.ca.failbackAfter`: healthy and in sync this long before an auto failback.
# @param serial_gap `proxy.ca.serialGap`: how far a promoted standby's serial is advanced.
# @param balance `proxy.masters.balance`.
# @param pin_file_bucket `proxy.masters.pinFileBucket`: file bucket requests of one node go to one master.
# @param health_interval `proxy.health.interval`.
# @param health_timeout `proxy.health.timeout`.
# @param health_rise `proxy.health.rise`: passed checks before a backend is up.
# @param health_fall `proxy.health.fall`: failed checks before a backend is down.
# @param state_dir `proxy.stateDir`: the arbiter's epoch and active CA, the last CRL.
# @param access_log `proxy.accessLog`: one log line per request.
# @param admin_listen The admin listener (/health, /metrics, status page, admin API). Keep it on
#   loopback or a management network: with a token it controls failover and failback.
# @param admin_token Written to $admin_token_file (0640 root:$group); undef: the admin API is off.
# @param admin_token_file `admin.tokenFile`.
# @param max_sync_lag `admin.maxSyncLag`: /health turns degraded beyond this lag.
# @param expiry_warn_days `admin.expiryWarnDays`.
# @param sync_cadirs Single-host layout (every cadir local, as in the Pro Puppet book): the proxy
#   syncs them itself. Keys are CA worker names. undef: no sync section (sync agents on CA hosts).
# @param sync_write_into `sync.writeInto`: the cadirs the in-process sync may write (default all).
# @param sync_schedule `sync.schedule` (cron syntax).
# @param sync_watch `sync.watch`: pass on every change of a local source cadir.
# @param sync_backup_dir `sync.backupDir`.
# @param sync_work_dir `sync.workDir`.
# @param sync_max_deletes `sync.maxDeletes`: a pass deleting more files than this is refused.
# @param sync_ssh `sync.rsync.ssh`: the ssh command line for remote cadirs.
# @param sync_rsync_timeout `sync.rsync.timeout`.
# @param log_level `log.level`.
# @param user The user the proxy runs as. In the single-host layout it writes the standby cadirs,
#   so run it as the cadirs' owner ('puppet').
# @param group The proxy's group (owner group of its config and token files).
# @param user_groups Supplementary groups of $user (`puppet`: to read the balancer's Puppet key).
# @param bin The puppet-ha command (the package installs /usr/bin/puppet-ha).
# @param config_validate_cmd Checks every generated config file before it is installed (`%` is the
#   new file): `puppet-ha config check`.
# @param validate_config Run $config_validate_cmd (false: install configs unchecked).
# @param config_dir /etc/puppet-ha, managed here unless another class already does.
# @param config_file The config file the unit passes to `puppet-ha proxy -c`.
# @param unit_file The systemd unit.
# @param root Prefix for every file this class writes (a scratch area for tests); the paths
#   written inside the files are the real ones.
# @param manage_package Install the puppet-ha package (puppet_ha::install).
# @param manage_user Create $user and $group (refused for system accounts such as puppet).
# @param manage_service Manage the puppet-ha-proxy service (reload on config changes).
# @param service_ensure The service's state.
# @param service_enable Start the service at boot.
class puppet_ha::proxy (
  Array[Puppet_ha::Backend, 1] $ca_workers,
  Array[Puppet_ha::Backend, 1] $masters,
  Puppet_ha::Absolutepath $ssldir,
  Puppet_ha::Listen $listen = '0.0.0.0:8140',
  String[1] $certname = $trusted['certname'],
  Optional[Puppet_ha::Absolutepath] $tls_cert = undef,
  Optional[Puppet_ha::Absolutepath] $tls_key = undef,
  Optional[Puppet_ha::Absolutepath] $tls_ca = undef,
  Optional[Puppet_ha::Absolutepath] $tls_crl = undef,
  Enum['TLSv1.2', 'TLSv1.3'] $tls_min_version = 'TLSv1.2',
  Puppet_ha::Duration $hold_writes = '10s',
  Puppet_ha::Duration $crl_refresh = '30s',
  Enum['manual', 'auto'] $failback = 'manual',
  Puppet_ha::Duration $failback_after = '60s',
  Integer[0, 16777215] $serial_gap = 4096,
  Enum['round-robin', 'least-connections'] $balance = 'round-robin',
  Boolean $pin_file_bucket = true,
  Puppet_ha::Duration $health_interval = '1s',
  Puppet_ha::Duration $health_timeout = '1s',
  Integer[1] $health_rise = 2,
  Integer[1] $health_fall = 2,
  Puppet_ha::Absolutepath $state_dir = '/var/lib/puppet-ha',
  Boolean $access_log = true,
  Puppet_ha::Listen $admin_listen = '127.0.0.1:8141',
  Optional[Variant[String[1], Sensitive[String[1]]]] $admin_token = undef,
  Puppet_ha::Absolutepath $admin_token_file = '/etc/puppet-ha/admin.token',
  Puppet_ha::Duration $max_sync_lag = '2m',
  Integer[1] $expiry_warn_days = 30,
  Optional[Hash[Puppet_ha::Name, Puppet_ha::Cadir, 2]] $sync_cadirs = undef,
  Optional[Array[Puppet_ha::Name]] $sync_write_into = undef,
  String[1] $sync_schedule = '* * * * *',
  Boolean $sync_watch = true,
  Puppet_ha::Absolutepath $sync_backup_dir = '/var/lib/puppet-ha/backups',
  Puppet_ha::Absolutepath $sync_work_dir = '/var/lib/puppet-ha/sync',
  Integer[0] $sync_max_deletes = 50,
  Array[String[1], 1] $sync_ssh = ['ssh', '-oBatchMode=yes'],
  Puppet_ha::Duration $sync_rsync_timeout = '60s',
  Enum['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] $log_level = 'info',
  Pattern[/\A[a-z_][a-z0-9_-]*\z/] $user = 'puppet-ha',
  Pattern[/\A[a-z_][a-z0-9_-]*\z/] $group = 'puppet-ha',
  Array[Pattern[/\A[a-z_][a-z0-9_-]*\z/]] $user_groups = ['puppet'],
  Puppet_ha::Absolutepath $bin = '/usr/bin/puppet-ha',
  String[1] $config_validate_cmd = "${bin} config check -c %",
  Boolean $validate_config = true,
  Puppet_ha::Absolutepath $config_dir = '/etc/puppet-ha',
  Puppet_ha::Absolutepath $config_file = '/etc/puppet-ha/puppet-ha.yaml',
  Puppet_ha::Absolutepath $unit_file = '/etc/systemd/system/puppet-ha-proxy.service',
  String $root = '',
  Boolean $manage_package = true,
  Boolean $manage_user = true,
  Boolean $manage_service = true,
  Enum['running', 'stopped'] $service_ensure = 'running',
  Boolean $service_enable = true,
) {
  $config_validate_cmd_used = $validate_config ? { true => $config_validate_cmd, default => undef }
  puppet_ha::unique_names('puppet_ha::proxy: ca_workers', $ca_workers)
  puppet_ha::unique_names('puppet_ha::proxy: masters', $masters)
  $worker_names = $ca_workers.map |$w| { $w['name'] }
  if $sync_cadirs != undef {
    $sync_cadirs.keys.each |$n| {
      unless $n in $worker_names {
        fail("puppet_ha::proxy: sync_cadirs has '${n}', which is not one of ca_workers (${worker_names.join(', ')})")
      }
    }
    if $sync_write_into != undef {
      $sync_write_into.each |$n| {
        unless $n in $sync_cadirs {
          fail("puppet_ha::proxy: sync_write_into has '${n}', which is not one of sync_cadirs")
        }
      }
    }
    if $failback == 'auto' and $sync_cadirs.length < $ca_workers.length {
      fail('puppet_ha::proxy: failback auto needs a cadir for every CA worker in sync_cadirs')
    }
  } elsif $sync_write_into != undef {
    fail('puppet_ha::proxy: sync_write_into needs sync_cadirs')
  }

  if $manage_user and ($user in ['puppet', 'root'] or $group in ['puppet', 'root']) {
    fail("puppet_ha::proxy: manage_user would redefine the system account ${user}:${group}; set manage_user => false")
  }

  $token_file_in_config = $admin_token ? { undef => undef, default => $admin_token_file }
  $sync_section = $sync_cadirs ? {
    undef   => undef,
    default => epp('puppet_ha/sync.section.epp', {
      'cadirs'             => $sync_cadirs,
      'write_into'         => $sync_write_into,
      'schedule'           => $sync_schedule,
      'watch'              => $sync_watch,
      'backup_dir'         => $sync_backup_dir,
      'work_dir'           => $sync_work_dir,
      'max_deletes'        => $sync_max_deletes,
      'ssh'                => $sync_ssh,
      'rsync_timeout'      => $sync_rsync_timeout,
      'arbiter_url'        => undef,
      'arbiter_token_file' => undef,
      'listen'             => undef,
    }),
  }
  # The in-process sync writes the local standby cadirs: the unit must let it.
  $local_cadirs = $sync_cadirs ? {
    undef   => [],
    default => $sync_cadirs.filter |$n, $d| {
      $d =~ Puppet_ha::Absolutepath and ($sync_write_into == undef or $n in $sync_write_into)
    }.values.sort,
  }

  if $manage_package {
    include puppet_ha::install
    Class['puppet_ha::install'] -> File["${root}${config_file}"]
  }

  if $manage_user {
    # `puppet` in $user_groups lets the proxy read the balancer's Puppet key in $ssldir.
    puppet_ha::service_account { $user:
      group  => $group,
      groups => $user_groups,
      before => File["${root}${config_dir}"],
    }
  }

  unless defined(File["${root}${config_dir}"]) {
    file { "${root}${config_dir}":
      ensure => directory,
      owner  => 'root',
      group  => $group,
      mode   => '0750',
    }
  }

  file { "${root}${state_dir}":
    ensure => directory,
    owner  => $user,
    group  => $group,
    mode   => '0750',
  }

  file { "${root}${config_file}":
    ensure       => file,
    owner        => 'root',
    group        => $group,
    mode         => '0640',
    validate_cmd => $config_validate_cmd_used,
    content      => epp('puppet_ha/proxy.yaml.epp', {
      'proxy'        => {
        'listen'          => $listen,
        'tls_cert'        => $tls_cert.lest || { "${ssldir}/certs/${certname}.pem" },
        'tls_key'         => $tls_key.lest || { "${ssldir}/private_keys/${certname}.pem" },
        'tls_ca'          => $tls_ca.lest || { "${ssldir}/certs/ca.pem" },
        'tls_crl'         => $tls_crl.lest || { "${ssldir}/crl.pem" },
        'tls_min_version' => $tls_min_version,
        'ca_workers'      => $ca_workers,
        'hold_writes'     => $hold_writes,
        'crl_refresh'     => $crl_refresh,
        'failback'        => $failback,
        'failback_after'  => $failback_after,
        'serial_gap'      => $serial_gap,
        'masters'         => $masters,
        'balance'         => $balance,
        'pin_file_bucket' => $pin_file_bucket,
        'health_interval' => $health_interval,
        'health_timeout'  => $health_timeout,
        'health_rise'     => $health_rise,
        'health_fall'     => $health_fall,
        'state_dir'       => $state_dir,
        'access_log'      => $access_log,
      },
      'admin'        => {
        'listen'           => $admin_listen,
        'token_file'       => $token_file_in_config,
        'max_sync_lag'     => $max_sync_lag,
        'expiry_warn_days' => $expiry_warn_days,
      },
      'sync_section' => $sync_section,
      'log_level'    => $log_level,
    }),
  }

  puppet_ha::token_file { "${root}${admin_token_file}":
    group => $group,
    token => $admin_token,
  }

  file { "${root}${unit_file}":
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('puppet_ha/proxy.service.epp', {
      'user'                 => $user,
      'group'                => $group,
      'supplementary_groups' => $user_groups,
      'bin'                  => $bin,
      'config_file'          => $config_file,
      'read_write_paths'     => $local_cadirs,
    }),
  }

  if $manage_service {
    # The unit changing restarts the proxy (the systemd provider reloads systemd itself); the
    # config changing only reloads it (SIGHUP), so agents connected now are not dropped. The
    # token file is re-read by the proxy on its own when it changes.
    service { 'puppet-ha-proxy':
      ensure    => $service_ensure,
      enable    => $service_enable,
      subscribe => File["${root}${unit_file}"],
      require   => [File["${root}${state_dir}"], File["${root}${config_file}"], File["${root}${admin_token_file}"]],
    }
    exec { 'puppet-ha-proxy reload':
      command     => 'systemctl try-reload-or-restart puppet-ha-proxy',
      path        => ['/usr/bin', '/bin'],
      refreshonly => true,
      subscribe   => File["${root}${config_file}"],
      require     => Service['puppet-ha-proxy'],
    }
  }
}
