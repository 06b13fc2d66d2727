# @summary puppet-ha twitch on a node: the HTTP trigger for puppet agent runs.
#
# puppet-ha twitch on a node: a `twitch` user, a sudoers file allowing exactly the puppet
# commands twitch runs, the config file (twitch section), the token file, the systemd unit, the
# package and the service.
#
# @example Triggered by the operators' host over mTLS
#   class { 'puppet_ha::twitch':
#     allow => ['admin*.ops.example.com'],
#   }
#
# @param listen Address twitch listens on. Without token and mTLS only loopback is allowed.
# @param token Bearer token (written to $token_file, mode 0640 root:$group). undef: no token auth.
# @param mtls Serve HTTPS with this node's Puppet cert and accept callers with a cert of the
#   Puppet CA (checked against the CRL) whose certname matches $allow.
# @param allow Caller certnames allowed over mTLS (globs: `*` and `?`).
# @param certname This node's certname (its cert and key in $ssldir serve mTLS).
# @param ssldir This node's Puppet ssldir (module data: /var/lib/puppet/ssl, or
#   /etc/puppetlabs/puppet/ssl for Puppet AIO / OpenVox).
# @param puppet_bin The puppet command twitch runs through sudo (module data: /usr/bin/puppet, or
#   /opt/puppetlabs/bin/puppet).
# @param sudo_bin sudo.
# @param puppet_args Fixed arguments appended to every puppet command (e.g. ['--server', 'puppet']).
#   Only letters, digits and `_ / . -` so they can be written into sudoers literally.
# @param run_lock_file `twitch.puppet.runLockFile`; undef: asked from `puppet config print`.
# @param disabled_lock_file `twitch.puppet.disabledLockFile`; undef: asked from puppet.
# @param last_run_summary `twitch.puppet.lastRunSummary`; undef: asked from puppet.
# @param timeout `twitch.puppet.timeout`: a run taking longer is killed.
# @param rate_limit_max `twitch.rateLimit.max` triggers per $rate_limit_per.
# @param rate_limit_per `twitch.rateLimit.per`.
# @param splay_max `twitch.splayMax`: the most a caller may ask a run to be delayed.
# @param log_level `log.level`.
# @param user The user twitch runs as.
# @param group Its group (owner group of the config and token files).
# @param user_groups Supplementary groups (`puppet`: to read the agent's lock files).
# @param bin The puppet-ha command (the package installs /usr/bin/puppet-ha).
# @param config_validate_cmd Checks every generated config file before it is installed (`%` is the
#   new file): `puppet-ha config check`.
# @param validate_config Run $config_validate_cmd (false: install configs unchecked).
# @param config_dir /etc/puppet-ha.
# @param config_file The config file the unit passes to `puppet-ha twitch -c`.
# @param token_file Where $token is written.
# @param sudoers_file The sudoers rule for $user.
# @param sudoers_validate_cmd Checks the sudoers file before it is installed; undef to skip.
# @param unit_file The puppet-ha-twitch systemd unit.
# @param root Prefix for every file this class writes (a scratch area for tests); the paths
#   written inside the files are the real ones.
# @param manage_package Install the puppet-ha package (puppet_ha::install).
# @param manage_user Create $user and $group.
# @param manage_service Manage the puppet-ha-twitch service.
# @param service_ensure The service's state.
# @param service_enable Start it at boot.
# @param broker_urls NATS URLs of the fleet broker (docs/fleet-broker.md). Empty (the default): no
#   broker section. With URLs twitch also connects out to the broker with this node's Puppet cert.
# @param broker_allow Certnames whose signed fleet requests this node acts on (globs); required
#   with broker_urls.
# @param broker_subject_prefix The fleet's subject prefix; must match the controllers'. undef: the default.
# @param broker_status_bucket The fleet's status bucket; must match the controllers'. undef: the default.
# @param broker_facts_file Facts for fleet filters (JSON or YAML). undef: twitch runs
#   `puppet facts show --render-as json` after each run (allowed in the sudoers file).
class puppet_ha::twitch (
  String[1] $ssldir,
  String[1] $puppet_bin,
  String[1] $listen = '0.0.0.0:2023',
  Optional[Variant[String[1], Sensitive[String[1]]]] $token = undef,
  Boolean $mtls = true,
  Array[String[1]] $allow = [],
  String[1] $certname = $trusted['certname'],
  String[1] $sudo_bin = '/usr/bin/sudo',
  Array[Pattern[/\A[A-Za-z0-9_\/.-]+\z/]] $puppet_args = [],
  Optional[String[1]] $run_lock_file = undef,
  Optional[String[1]] $disabled_lock_file = undef,
  Optional[String[1]] $last_run_summary = undef,
  Pattern[/\A\d+(ms|s|m|h|d)\z/] $timeout = '30m',
  Integer[1] $rate_limit_max = 10,
  Pattern[/\A\d+(ms|s|m|h|d)\z/] $rate_limit_per = '1m',
  Pattern[/\A\d+(ms|s|m|h|d)\z/] $splay_max = '60s',
  Enum['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] $log_level = 'info',
  Pattern[/\A[a-z_][a-z0-9_-]*\z/] $user = 'twitch',
  Pattern[/\A[a-z_][a-z0-9_-]*\z/] $group = 'twitch',
  Array[String[1]] $user_groups = ['puppet'],
  String[1] $bin = '/usr/bin/puppet-ha',
  String[1] $config_validate_cmd = "${bin} config check -c %",
  Boolean $validate_config = true,
  String[1] $config_dir = '/etc/puppet-ha',
  String[1] $config_file = '/etc/puppet-ha/puppet-ha.yaml',
  String[1] $token_file = '/etc/puppet-ha/twitch.token',
  String[1] $sudoers_file = '/etc/sudoers.d/puppet-ha-twitch',
  Optional[String[1]] $sudoers_validate_cmd = '/usr/sbin/visudo -c -f %',
  String[1] $unit_file = '/etc/systemd/system/puppet-ha-twitch.service',
  String $root = '',
  Boolean $manage_package = true,
  Boolean $manage_user = true,
  Boolean $manage_service = true,
  Enum['running', 'stopped'] $service_ensure = 'running',
  Boolean $service_enable = true,
  Array[Pattern[/\A(tls|nats):\/\/[^\/@\s]+\z/]] $broker_urls = [],
  Array[String[1]] $broker_allow = [],
  Optional[Pattern[/\A[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\z/]] $broker_subject_prefix = undef,
  Optional[Pattern[/\A[A-Za-z0-9_-]{1,64}\z/]] $broker_status_bucket = undef,
  Optional[String[1]] $broker_facts_file = undef,
) {
  $config_validate_cmd_used = $validate_config ? { true => $config_validate_cmd, default => undef }
  if !$broker_urls.empty and $broker_allow.empty {
    fail('puppet_ha::twitch: broker_urls needs broker_allow (the controller certnames whose requests run)')
  }
  $broker = $broker_urls.empty ? {
    true    => undef,
    default => {
      'urls'           => $broker_urls,
      'allow'          => $broker_allow,
      'tls'            => {
        'cert' => "${ssldir}/certs/${certname}.pem",
        'key'  => "${ssldir}/private_keys/${certname}.pem",
        'ca'   => "${ssldir}/certs/ca.pem",
        'crl'  => "${ssldir}/crl.pem",
      },
      'subject_prefix' => $broker_subject_prefix,
      'status_bucket'  => $broker_status_bucket,
      'facts_file'     => $broker_facts_file,
    },
  }
  if $token == undef and !$mtls and $listen !~ /\A(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+\z/ {
    fail("puppet_ha::twitch: without token or mtls twitch only binds loopback, not ${listen}")
  }
  $token_file_in_config = $token ? { undef => undef, default => $token_file }
  $tls = $mtls ? {
    true    => {
      'cert' => "${ssldir}/certs/${certname}.pem",
      'key'  => "${ssldir}/private_keys/${certname}.pem",
      'ca'   => "${ssldir}/certs/ca.pem",
      'crl'  => "${ssldir}/crl.pem",
    },
    default => undef,
  }

  if $manage_package {
    include puppet_ha::install
    Class['puppet_ha::install'] -> File["${root}${config_file}"]
  }

  if $manage_user {
    # `puppet` in $user_groups lets twitch read the agent's lock files ($statedir is 0750 puppet:puppet).
    puppet_ha::service_account { $user:
      group  => $group,
      groups => $user_groups,
      before => File["${root}${config_dir}"],
    }
  }

  file { "${root}${config_dir}":
    ensure => directory,
    owner  => 'root',
    group  => $group,
    mode   => '0750',
  }

  file { "${root}${config_file}":
    ensure       => file,
    owner        => 'root',
    group        => $group,
    mode         => '0640',
    validate_cmd => $config_validate_cmd_used,
    content      => epp('puppet_ha/twitch.yaml.epp', {
      'listen'             => $listen,
      'token_file'         => $token_file_in_config,
      'tls'                => $tls,
      'allow'              => $allow,
      'command'            => [$sudo_bin, '-n', $puppet_bin],
      'puppet_args'        => $puppet_args,
      'run_lock_file'      => $run_lock_file,
      'disabled_lock_file' => $disabled_lock_file,
      'last_run_summary'   => $last_run_summary,
      'timeout'            => $timeout,
      'rate_limit_max'     => $rate_limit_max,
      'rate_limit_per'     => $rate_limit_per,
      'splay_max'          => $splay_max,
      'log_level'          => $log_level,
      'broker'             => $broker,
    }),
  }

  puppet_ha::token_file { "${root}${token_file}":
    group => $group,
    token => $token,
  }

  file { "${root}${sudoers_file}":
    ensure       => file,
    owner        => 'root',
    group        => 'root',
    mode         => '0440',
    content      => epp('puppet_ha/twitch.sudoers.epp', {
      'user'        => $user,
      'puppet_bin'  => $puppet_bin,
      'puppet_args' => $puppet_args,
      'facts_show'  => $broker != undef and $broker_facts_file == undef,
    }),
    validate_cmd => $sudoers_validate_cmd,
  }

  file { "${root}${unit_file}":
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('puppet_ha/twitch.service.epp', {
      'user'        => $user,
      'group'       => $group,
      'bin'         => $bin,
      'config_file' => $config_file,
    }),
  }

  if $manage_service {
    # The systemd provider reloads systemd itself when the unit file changed.
    service { 'puppet-ha-twitch':
      ensure    => $service_ensure,
      enable    => $service_enable,
      subscribe => [
        File["${root}${config_file}"],
        File["${root}${token_file}"],
        File["${root}${unit_file}"],
        File["${root}${sudoers_file}"],
      ],
    }
  }
}
