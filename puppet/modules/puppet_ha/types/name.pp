# @summary A CA worker or compile master name (as puppet-ha's config accepts it).
type Puppet_ha::Name = Pattern[/\A[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\z/]
