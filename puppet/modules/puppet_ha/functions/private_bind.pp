# @summary Fails unless a puppetserver bind address is a specific address.
#
# Fails unless $host is a specific address: a puppetserver with header auth trusts
# X-Client-* headers from anyone who can reach it, so it must never listen on every interface.
# @param what The class asking, for the message.
# @param host The bind address.
# @param allow_wildcard Accept 0.0.0.0 and :: (behind a firewall).
# @return [Boolean] true (it fails otherwise).
function puppet_ha::private_bind(String $what, String $host, Boolean $allow_wildcard) >> Boolean {
  if !$allow_wildcard and $host in ['0.0.0.0', '::', '[::]', '*', ''] {
    $fix = 'bind it to a private address only the balancer reaches (or set allow_wildcard_bind => true behind a firewall)'
    fail("${what}: bind_host ${host} would expose a header-auth puppetserver to everyone; ${fix}")
  }
  unless $host =~ /\A([0-9]{1,3}(\.[0-9]{1,3}){3}|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[?[0-9A-Fa-f:]+\]?)\z/ {
    fail("${what}: bind_host '${host}' is not an address or host name")
  }
  true
}
