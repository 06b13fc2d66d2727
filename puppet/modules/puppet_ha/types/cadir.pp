# @summary A cadir: an absolute local path, or [user@]host:/path reached over ssh.
type Puppet_ha::Cadir = Variant[Puppet_ha::Absolutepath, Pattern[/\A([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:\/[^\s]*\z/]]
