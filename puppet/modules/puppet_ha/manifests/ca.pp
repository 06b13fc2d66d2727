# @summary A CA worker behind the puppet-ha balancer (primary or hot standby) with its sync agent.
#
# A CA worker behind the puppet-ha balancer (the primary or a hot standby) with its sync
# agent: puppetserver on plain HTTP at a private address with header auth and the CA service on,
# ca.conf, the autosign whitelist, the sync config (sync and log sections), the admin token file
# the sync agent shows the arbiter, the puppet-ha-sync unit, the package and both services.
#
# @example The standby ca2, pulling from ca1 over ssh
#   class { 'puppet_ha::ca':
#     worker_name => 'ca2',
#     bind_host   => '10.0.0.12',
#     cadirs      => { 'ca1' => 'puppet-ha-sync@ca1.example.com:/etc/puppet/puppetserver/ca' },
#     arbiter_url => 'http://10.0.0.10:8141',
#     admin_token => Sensitive(lookup('puppet_ha::admin_token')),
#   }
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
# @param port puppetserver's plain-HTTP port (webserver.conf).
# @param allow_wildcard_bind Allow $bind_host 0.0.0.0 or :: (only behind a firewall that lets
#   nothing but the balancer in).
# @param confdir puppetserver's config dir, conf.d/ and services.d/ under it (module data:
#   /etc/puppet/puppetserver, or /etc/puppetlabs/puppetserver for Puppet AIO / OpenVox).
# @param puppet_confdir Puppet's confdir, where autosign.conf goes (module data).
# @param cadir This worker's cadir (module data: /etc/puppet/puppetserver/ca, or
#   /etc/puppetlabs/puppetserver/ca).
# @param access_log_config puppetserver's access-log-config; default "${confdir}/request-logging.xml".
# @param allow_subject_alt_names ca.conf `allow-subject-alt-names`.
# @param allow_authorization_extensions ca.conf `allow-authorization-extensions`.
# @param autosign true signs every CSR, false none (the file is removed), an array of certname
#   globs signs those. Written to $puppet_confdir/autosign.conf, Puppet's default `autosign`.
# @param manage_puppetserver_config Write puppetserver's webserver.conf, auth.conf, ca.conf and
#   services.d/ca.cfg. false: leave them to another module (theforeman/puppet,
#   puppet-puppetserver) and only check that the settings puppet-ha needs are there (the run fails
#   on the check that is not met).
# @param write_into `sync.writeInto` (default: this worker only).
# @param sync_listen `sync.listen`: the sync agent's API (status, POST /pass for the balancer).
# @param sync_schedule `sync.schedule` (cron syntax).
# @param watch `sync.watch`.
# @param backup_dir `sync.backupDir`.
# @param work_dir `sync.workDir`.
# @param max_deletes `sync.maxDeletes`.
# @param ssh `sync.rsync.ssh`: the ssh command line for remote cadirs.
# @param rsync_timeout `sync.rsync.timeout`.
# @param ssh_private_key The key the sync agent logs in to the other CA hosts with (written to
#   $ssh_key_file, 0600 $user); undef: manage it yourself. Its -i option is added to $ssh.
# @param ssh_key_file Where $ssh_private_key is written.
# @param sync_login_user When set, a user other CA hosts' sync agents log in as to read this
#   cadir (shell /bin/sh, in group $group, authorized_keys from $sync_authorized_keys).
# @param sync_login_home $sync_login_user's home (with .ssh/authorized_keys).
# @param sync_authorized_keys Public keys of the other CA hosts' sync agents.
# @param log_level `log.level`.
# @param user The sync agent's user: the cadir's owner.
# @param group Its group (owner group of the config and token files).
# @param bin The puppet-ha command (the package installs /usr/bin/puppet-ha).
# @param config_validate_cmd Checks every generated config file before it is installed (`%` is the
#   new file): `puppet-ha config check`.
# @param validate_config Run $config_validate_cmd (false: install configs unchecked).
# @param config_dir /etc/puppet-ha, managed here unless another class already does.
# @param config_file The sync agent's config file.
# @param admin_token_file Where $admin_token is written (`sync.arbiter.tokenFile`).
# @param unit_file The puppet-ha-sync systemd unit.
# @param root Prefix for every file this class writes (a scratch area for tests).
# @param manage_package Install the puppet-ha package (puppet_ha::install).
# @param manage_user Create $sync_login_user.
# @param manage_service Manage the puppetserver and puppet-ha-sync services.
# @param puppetserver_service puppetserver's service name.
# @param service_ensure The services' state.
# @param service_enable Start the services at boot.
class puppet_ha::ca (
  Puppet_ha::Name $worker_name,
  String[1] $bind_host,
  Hash[Puppet_ha::Name, Puppet_ha::Cadir, 1] $cadirs,
  Pattern[/\Ahttps?:\/\/[^\s\/]+\/?\z/] $arbiter_url,
  Variant[String[1], Sensitive[String[1]]] $admin_token,
  Puppet_ha::Absolutepath $confdir,
  Puppet_ha::Absolutepath $puppet_confdir,
  Puppet_ha::Absolutepath $cadir,
  Integer[1, 65535] $port = 8140,
  Boolean $allow_wildcard_bind = false,
  Optional[Puppet_ha::Absolutepath] $access_log_config = undef,
  Boolean $allow_subject_alt_names = true,
  Boolean $allow_authorization_extensions = false,
  Boolean $manage_puppetserver_config = true,
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
  String[1] $config_validate_cmd = "${bin} config check -c %",
  Boolean $validate_config = true,
  Puppet_ha::Absolutepath $config_dir = '/etc/puppet-ha',
  Puppet_ha::Absolutepath $config_file = '/etc/puppet-ha/puppet-ha.yaml',
  Puppet_ha::Absolutepath $admin_token_file = '/etc/puppet-ha/admin.token',
  Puppet_ha::Absolutepath $unit_file = '/etc/systemd/system/puppet-ha-sync.service',
  String $root = '',
  Boolean $manage_package = true,
  Boolean $manage_user = true,
  Boolean $manage_service = true,
  String[1] $puppetserver_service = 'puppetserver',
  Enum['running', 'stopped'] $service_ensure = 'running',
  Boolean $service_enable = true,
) {
  $config_validate_cmd_used = $validate_config ? { true => $config_validate_cmd, default => undef }
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
    $why = 'is a system account this class must not redefine; use a dedicated user or manage_user => false'
    fail("puppet_ha::ca: sync_login_user ${sync_login_user} ${why}")
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
    manage_config       => $manage_puppetserver_config,
    confdir             => $confdir,
    access_log_config   => $access_log_config.lest || { "${confdir}/request-logging.xml" },
    root                => $root,
    manage_service      => $manage_service,
    service_name        => $puppetserver_service,
    service_ensure      => $service_ensure,
    service_enable      => $service_enable,
  }

  $autosign_ensure = $autosign ? { false => absent, default => file }
  $autosign_content = $autosign ? {
    false   => undef,
    true    => epp('puppet_ha/autosign.conf.epp', { 'globs' => ['*'] }),
    default => epp('puppet_ha/autosign.conf.epp', { 'globs' => $autosign }),
  }
  file { "${root}${puppet_confdir}/autosign.conf":
    ensure  => $autosign_ensure,
    owner   => 'root',
    group   => $group,
    mode    => '0640',
    content => $autosign_content,
  }

  if $manage_package {
    include puppet_ha::install
    Class['puppet_ha::install'] -> File["${root}${config_file}"]
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
    ensure       => file,
    owner        => 'root',
    group        => $group,
    mode         => '0640',
    validate_cmd => $config_validate_cmd_used,
    content      => epp('puppet_ha/sync.yaml.epp', {
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

  puppet_ha::token_file { "${root}${admin_token_file}":
    group => $group,
    token => $admin_token,
  }

  $ssh_key_ensure = $ssh_private_key ? { undef => absent, default => file }
  $ssh_key_content = $ssh_private_key ? {
    undef   => undef,
    default => Sensitive("${ssh_private_key.unwrap.regsubst(/\n*\z/, '')}\n"),
  }
  file { "${root}${ssh_key_file}":
    ensure  => $ssh_key_ensure,
    owner   => $user,
    group   => $group,
    mode    => '0600',
    content => $ssh_key_content,
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
