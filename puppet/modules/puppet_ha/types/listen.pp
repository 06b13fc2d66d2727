# @summary A listen address: host:port or [v6]:port.
type Puppet_ha::Listen = Pattern[/\A([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}\z/]
