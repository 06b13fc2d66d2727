# @summary Fails when two backends share a name (puppet-ha's config would refuse them too).
# @param what The parameter checked, for the message.
# @param backends The backends (`{name, url}`).
# @return [Boolean] true (it fails otherwise).
function puppet_ha::unique_names(String $what, Array[Hash] $backends) >> Boolean {
  $names = $backends.map |$b| { $b['name'] }
  $dups = $names.filter |$n| { $names.filter |$m| { $m == $n }.length > 1 }.unique
  unless $dups.empty {
    fail("${what}: duplicate name(s) ${dups.join(', ')}")
  }
  true
}
