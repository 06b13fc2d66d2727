# @summary A bearer token file (the token and a newline, 0640 root:$group), absent without a token.
#
# The admin token of puppet_ha::proxy and puppet_ha::ca and the token of puppet_ha::twitch: the
# services re-read the file when it changes, so a token can be rotated without a restart.
#
# @param group The group that may read the token (the service's).
# @param token The token; undef removes the file.
define puppet_ha::token_file (
  String[1] $group,
  Optional[Variant[String[1], Sensitive[String[1]]]] $token = undef,
) {
  $content = $token ? {
    undef     => undef,
    Sensitive => Sensitive("${token.unwrap}\n"),
    default   => Sensitive("${token}\n"),
  }
  $ensure = $token ? { undef => absent, default => file }
  file { $title:
    ensure  => $ensure,
    owner   => 'root',
    group   => $group,
    mode    => '0640',
    content => $content,
  }
}
