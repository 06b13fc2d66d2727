# @summary A puppet-ha duration: 500ms, 2s, 5m, 1h, 1d.
type Puppet_ha::Duration = Pattern[/\A\d+(ms|s|m|h|d)\z/]
