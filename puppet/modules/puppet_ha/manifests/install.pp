# @summary The puppet-ha package, shared by the role classes with manage_package.
#
# The puppet-ha package, for the role classes with `manage_package` (included, so several
# roles on one host share it). Build the package with `npm run package` and serve it from your own
# apt repository (docs/install.md); it needs Node.js >= 20.19.
#
# @param package_name The package to install.
# @param package_ensure `installed`, `latest` or a version such as `0.1.0-1`.
class puppet_ha::install (
  String[1] $package_name,
  String[1] $package_ensure,
) {
  package { $package_name:
    ensure => $package_ensure,
  }
}
