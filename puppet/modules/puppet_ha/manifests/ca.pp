# @summary A CA worker behind the puppet-ha balancer (the primary or a hot standby) with its sync
#   agent: puppetserver on plain HTTP at a private address with header auth and the CA service on,
#   ca.conf, the autosign whitelist, the sync config (sync and log sections), the admin token file
#   the sync agent shows the arbiter, the puppet-ha-sync unit and both services.
#
# @param worker_name This CA worker's name in the balancer's ca_workers (and in $cadirs).
# @param bind_host The private address the balancer reaches this CA on (0.0.0.0 and :: are
#   refused unless $allow_wildcard_bind: header auth trusts anyone who can reach the port).
# @param cadirs The other CA workers' cadirs by worker name ("[user@]host:/path" over ssh, or
#   local paths on a shared host); this worker's own is $cadir unless given here. Each sync
#   agent writes only into its own cadir (see $write_into).
# @param arbiter_url The balancer's admin listener (GET /api/ca tells which CA is active).
# @param admin_token The balancer's admin token (GET /api/ca needs it), written to
#   $admin_token_file (0640 root:$group); the sync agent's own POST /pass asks for it too.
# @param autosign true signs every CSR, false none (the file is removed), an array of certname
#   globs signs those. Written to $puppet_confdir/autosign.conf, Puppet's default `autosign`.
# @param ssh_private_key The key the sync agent logs in to the other CA hosts with (written to
#   $ssh_key_file, 0600 $user); undef: manage it yourself. Its -i option is added to $ssh.
# @param sync_login_user When set, a user other CA hosts' sync agents log in as to read this
#   cadir (shell /bin/sh, in group $group, authorized_keys from $sync_authorized_keys).
# @param root Prefix for every file this class writes (a scratch area for tests).
class puppet_ha::ca (
  Puppet_ha::Name $worker_name,
  String[1] $bind_host,
  Hash[Puppet_ha::Name, Puppet_ha::Cadir, 1] $cadirs,
  Pattern[/\Ahttps?:\/\/[^\s\/]+\/?\z/] $arbiter_url,
  Variant[String[1], Sensitive[String[1]]] $admin_token,
  Integer[1, 65535] $port = 8140,
  Boolean $allow_wildcard_bind = false,
  Puppet_ha::Absolutepath $confdir = '/etc/puppet/puppetserver',
  Puppet_ha::Absolutepath $puppet_confdir = '/etc/puppet',
  Puppet_ha::Absolutepath $cadir = '/etc/puppet/puppetserver/ca',
  Optional[Puppet_ha::Absolutepath] $access_log_config = undef,
  Boolean $allow_subject_alt_names = true,
  Boolean $allow_authorization_extensions = false,
  Variant[Boolean, Array[Pattern[/\A[A-Za-z0-9*?._-]+\z/]]] $autosign = false,
  Optional[Array[Puppet_ha::Name]] $write_into = undef,
  Puppet_ha::Listen $sync_listen = '127.0.0.1:8142',
  String[1] $sync_schedule = '* * * * *',
  Boolean $watch = true,
  Puppet_ha::Absolutepath $backup_dir = '/var/lib/puppet-ha/backups',
  Puppet_ha::Absolutepath $work_dir = '/var/lib/puppet-ha/sync',
  Integer[0] $max_deletes = 50,
  Array[String[1], 1] $ssh = ['ssh', '-oBatchMode=yes'],
  Puppet_ha::Duration $rsync_timeout = '60s',
  Optional[Sensitive[String[1]]] $ssh_private_key = undef,
  Puppet_ha::Absolutepath $ssh_key_file = '/etc/puppet-ha/sync_ed25519',
  Optional[Pattern[/\A[a-z_][a-z0-9_-]*\z/]] $sync_login_user = undef,
  Puppet_ha::Absolutepath $sync_login_home = '/var/lib/puppet-ha-sync',
  Array[Pattern[/\A(ssh-|ecdsa-|sk-)\S+ \S+( .*)?\z/]] $sync_authorized_keys = [],
  Enum['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] $log_level = 'info',
  Pattern[/\A[a-z_][a-z0-9_-]*\z/] $user = 'puppet',
  Pattern[/\A[a-z_][a-z0-9_-]*\z/] $group = 'puppet',
  Puppet_ha::Absolutepath $bin = '/usr/bin/puppet-ha',
  Puppet_ha::Absolutepath $config_dir = '/etc/puppet-ha',
  Puppet_ha::Absolutepath $config_file = '/etc/puppet-ha/puppet-ha.yaml',
  Puppet_ha::Absolutepath $admin_token_file = '/etc/puppet-ha/admin.token',
  Puppet_ha::Absolutepath $unit_file = '/etc/systemd/system/puppet-ha-sync.service',
  String $root = '',
  Boolean $manage_user = true,
  Boolean $manage_service = true,
  String[1] $puppetserver_service = 'puppetserver',
  Enum['running', 'stopped'] $service_ensure = 'running',
  Boolean $service_enable = true,
) {
  $all_cadirs = { $worker_name => $cadir } + $cadirs
  if $all_cadirs.length < 2 {
    fail("puppet_ha::ca: cadirs must name at least one other CA worker than ${worker_name}")
  }
  unless $all_cadirs[$worker_name] =~ Puppet_ha::Absolutepath {
    fail("puppet_ha::ca: this worker's cadir must be local, not ${all_cadirs[$worker_name]}")
  }
  $into = $write_into.lest || { [$worker_name] }
  $into.each |$n| {
    unless $n in $all_cadirs { fail("puppet_ha::ca: write_into has '${n}', which is not one of cadirs") }
    unless $all_cadirs[$n] =~ Puppet_ha::Absolutepath {
      fail("puppet_ha::ca: write_into has '${n}', whose cadir is not local (${all_cadirs[$n]})")
    }
  }
  if $manage_user and $sync_login_user in ['puppet', 'root'] {
    fail("puppet_ha::ca: sync_login_user ${sync_login_user} is a system account this class must not redefine; use a dedicated user or manage_user => false")
  }
  if $sync_login_user != undef and $sync_authorized_keys.empty {
    fail('puppet_ha::ca: sync_login_user needs sync_authorized_keys')
  }

  class { 'puppet_ha::puppetserver':
    bind_host           => $bind_host,
    port                => $port,
    ca_enabled          => true,
    extra_files         => {
      "${root}${confdir}/conf.d/ca.conf" => epp('puppet_ha/puppetserver.ca.conf.epp', {
        'allow_subject_alt_names'        => $allow_subject_alt_names,
        'allow_authorization_extensions' => $allow_authorization_extensions,
      }),
    },
    allow_wildcard_bind => $allow_wildcard_bind,
    confdir             => $confdir,
    access_log_config   => $access_log_config.lest || { "${confdir}/request-logging.xml" },
    root                => $root,
    manage_service      => $manage_service,
    service_name        => $puppetserver_service,
    service_ensure      => $service_ensure,
    service_enable      => $service_enable,
  }

  file { "${root}${puppet_confdir}/autosign.conf":
    ensure  => $autosign ? { false => absent, default => file },
    owner   => 'root',
    group   => $group,
    mode    => '0640',
    content => $autosign ? {
      false   => undef,
      true    => epp('puppet_ha/autosign.conf.epp', { 'globs' => ['*'] }),
      default => epp('puppet_ha/autosign.conf.epp', { 'globs' => $autosign }),
    },
  }

  $ssh_argv = $ssh_private_key ? {
    undef   => $ssh,
    default => $ssh + ['-i', $ssh_key_file],
  }
  unless defined(File["${root}${config_dir}"]) {
    file { "${root}${config_dir}":
      ensure => directory,
      owner  => 'root',
      group  => $group,
      mode   => '0750',
    }
  }

  file { "${root}${config_file}":
    ensure  => file,
    owner   => 'root',
    group   => $group,
    mode    => '0640',
    content => epp('puppet_ha/sync.yaml.epp', {
      'sync_section' => epp('puppet_ha/sync.section.epp', {
        'cadirs'             => $all_cadirs,
        'write_into'         => $into,
        'schedule'           => $sync_schedule,
        'watch'              => $watch,
        'backup_dir'         => $backup_dir,
        'work_dir'           => $work_dir,
        'max_deletes'        => $max_deletes,
        'ssh'                => $ssh_argv,
        'rsync_timeout'      => $rsync_timeout,
        'arbiter_url'        => $arbiter_url.regsubst(/\/\z/, ''),
        'arbiter_token_file' => $admin_token_file,
        'listen'             => $sync_listen,
      }),
      'log_level'    => $log_level,
    }),
  }

  file { "${root}${admin_token_file}":
    ensure  => file,
    owner   => 'root',
    group   => $group,
    mode    => '0640',
    content => $admin_token ? {
      Sensitive => Sensitive("${admin_token.unwrap}\n"),
      default   => Sensitive("${admin_token}\n"),
    },
  }

  file { "${root}${ssh_key_file}":
    ensure  => $ssh_private_key ? { undef => absent, default => file },
    owner   => $user,
    group   => $group,
    mode    => '0600',
    content => $ssh_private_key ? {
      undef   => undef,
      default => Sensitive("${ssh_private_key.unwrap.regsubst(/\n*\z/, '')}\n"),
    },
  }

  if $sync_login_user != undef {
    if $manage_user {
      user { $sync_login_user:
        ensure     => present,
        system     => true,
        gid        => $group,
        home       => $sync_login_home,
        managehome => false,
        # rsync over ssh runs `rsync --server` through the login shell.
        shell      => '/bin/sh',
        before     => File["${root}${sync_login_home}"],
      }
    }
    file { ["${root}${sync_login_home}", "${root}${sync_login_home}/.ssh"]:
      ensure => directory,
      owner  => $sync_login_user,
      group  => $group,
      mode   => '0750',
    }
    file { "${root}${sync_login_home}/.ssh/authorized_keys":
      ensure  => file,
      owner   => $sync_login_user,
      group   => $group,
      mode    => '0600',
      # restrict: no pty, no forwarding; the peers only run rsync.
      content => $sync_authorized_keys.map |$k| { "restrict ${k}\n" }.join(''),
    }
  }

  $local = $into.map |$n| { $all_cadirs[$n] }.unique.sort
  file { "${root}${unit_file}":
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('puppet_ha/sync.service.epp', {
      'user'             => $user,
      'group'            => $group,
      'bin'              => $bin,
      'config_file'      => $config_file,
      'read_write_paths' => $local,
    }),
  }

  if $manage_service {
    service { 'puppet-ha-sync':
      ensure    => $service_ensure,
      enable    => $service_enable,
      subscribe => [
        File["${root}${config_file}"],
        File["${root}${admin_token_file}"],
        File["${root}${ssh_key_file}"],
        File["${root}${unit_file}"],
      ],
    }
  }
}
