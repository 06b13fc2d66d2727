# @summary A system user and its group for a puppet-ha service (no home, no login shell).
#
# Used by puppet_ha::proxy (user puppet-ha) and puppet_ha::twitch (user twitch); the title is the
# user's name.
#
# @param group The user's primary group, created here.
# @param groups Supplementary groups (`puppet`: to read the Puppet key or the agent's lock files).
define puppet_ha::service_account (
  String[1] $group,
  Array[String[1]] $groups = [],
) {
  group { $group:
    ensure => present,
    system => true,
  }
  user { $title:
    ensure     => present,
    system     => true,
    gid        => $group,
    groups     => $groups,
    home       => '/nonexistent',
    managehome => false,
    shell      => '/usr/sbin/nologin',
    require    => Group[$group],
  }
}
