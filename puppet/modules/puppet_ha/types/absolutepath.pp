# @summary An absolute path without whitespace or control characters (written into YAML and units).
type Puppet_ha::Absolutepath = Pattern[/\A\/[^\s\x00]*\z/]
