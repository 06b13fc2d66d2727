# @summary puppet-ha twitch on a node: a `twitch` user, a sudoers file allowing exactly the puppet
#   commands twitch runs, the config file (twitch section), the token file, the systemd unit and
#   the service.
#
# @param listen Address twitch listens on. Without token and mTLS only loopback is allowed.
# @param token Bearer token (written to $token_file, mode 0640 root:$group). undef: no token auth.
# @param mtls Serve HTTPS with this node's Puppet cert and accept callers with a cert of the
#   Puppet CA (checked against the CRL) whose certname matches $allow.
# @param allow Caller certnames allowed over mTLS (globs: `*` and `?`).
# @param puppet_args Fixed arguments appended to every puppet command (e.g. ['--server', 'puppet']).
#   Only letters, digits and `_ / . -` so they can be written into sudoers literally.
# @param root Prefix for every file this class writes (a scratch area for tests); the paths
#   written inside the files are the real ones.
# @param sudoers_validate_cmd Checks the sudoers file before it is installed; undef to skip.
# @param broker_urls NATS URLs of the fleet broker (docs/fleet-broker.md). Empty (the default): no
#   broker section. With URLs twitch also connects out to the broker with this node's Puppet cert.
# @param broker_allow Certnames whose signed fleet requests this node acts on (globs); required
#   with broker_urls.
# @param broker_subject_prefix, broker_status_bucket Must match the controllers'. undef: defaults.
# @param broker_facts_file Facts for fleet filters (JSON or YAML). undef: twitch runs
#   `puppet facts show --render-as json` after each run (allowed in the sudoers file).
class puppet_ha::twitch (
  String[1] $listen = '0.0.0.0:2023',
  Optional[Variant[String[1], Sensitive[String[1]]]] $token = undef,
  Boolean $mtls = true,
  Array[String[1]] $allow = [],
  String[1] $certname = $trusted['certname'],
  String[1] $ssldir = '/var/lib/puppet/ssl',
  String[1] $puppet_bin = '/usr/bin/puppet',
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
  String[1] $config_dir = '/etc/puppet-ha',
  String[1] $config_file = '/etc/puppet-ha/puppet-ha.yaml',
  String[1] $token_file = '/etc/puppet-ha/twitch.token',
  String[1] $sudoers_file = '/etc/sudoers.d/puppet-ha-twitch',
  Optional[String[1]] $sudoers_validate_cmd = '/usr/sbin/visudo -c -f %',
  String[1] $unit_file = '/etc/systemd/system/puppet-ha-twitch.service',
  String $root = '',
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
  if $token != undef and $token =~ Sensitive {
    $token_content = Sensitive("${token.unwrap}\n")
  } elsif $token != undef {
    $token_content = Sensitive("${token}\n")
  } else {
    $token_content = undef
  }

  if $manage_user {
    group { $group:
      ensure => present,
      system => true,
    }
    user { $user:
      ensure     => present,
      system     => true,
      gid        => $group,
      # `puppet` lets twitch read the agent's lock files ($statedir is 0750 puppet:puppet).
      groups     => $user_groups,
      home       => '/nonexistent',
      managehome => false,
      shell      => '/usr/sbin/nologin',
      require    => Group[$group],
      before     => File["${root}${config_dir}"],
    }
  }

  file { "${root}${config_dir}":
    ensure => directory,
    owner  => 'root',
    group  => $group,
    mode   => '0750',
  }

  file { "${root}${config_file}":
    ensure  => file,
    owner   => 'root',
    group   => $group,
    mode    => '0640',
    content => epp('puppet_ha/twitch.yaml.epp', {
      'listen'             => $listen,
      'token_file'         => $token ? { undef => undef, default => $token_file },
      'tls'                => $mtls ? {
        true    => {
          'cert' => "${ssldir}/certs/${certname}.pem",
          'key'  => "${ssldir}/private_keys/${certname}.pem",
          'ca'   => "${ssldir}/certs/ca.pem",
          'crl'  => "${ssldir}/crl.pem",
        },
        default => undef,
      },
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

  file { "${root}${token_file}":
    ensure  => $token ? { undef => absent, default => file },
    owner   => 'root',
    group   => $group,
    mode    => '0640',
    content => $token_content,
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
