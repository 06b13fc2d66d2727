# @summary Fails unless $host is a specific address: a puppetserver with header auth trusts
#   X-Client-* headers from anyone who can reach it, so it must never listen on every interface.
function puppet_ha::private_bind(String $what, String $host, Boolean $allow_wildcard) >> Boolean {
  if !$allow_wildcard and $host in ['0.0.0.0', '::', '[::]', '*', ''] {
    fail("${what}: bind_host ${host} would expose a header-auth puppetserver to everyone; bind it to a private address only the balancer reaches (or set allow_wildcard_bind => true behind a firewall)")
  }
  unless $host =~ /\A([0-9]{1,3}(\.[0-9]{1,3}){3}|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[?[0-9A-Fa-f:]+\]?)\z/ {
    fail("${what}: bind_host '${host}' is not an address or host name")
  }
  true
}
