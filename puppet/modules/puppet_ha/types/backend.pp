# @summary A backend of the balancer: a name and the http:// URL of a puppetserver behind it.
type Puppet_ha::Backend = Struct[{
  name => Puppet_ha::Name,
  url  => Pattern[/\Ahttps?:\/\/[A-Za-z0-9.\[\]:-]+(:\d{1,5})?\/?\z/],
}]
