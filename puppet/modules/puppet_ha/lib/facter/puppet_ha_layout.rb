# frozen_string_literal: true

# puppet_ha_layout: 'aio' when this Puppet runs from the upstream all-in-one packages (Puppet AIO
# or OpenVox, everything under /opt/puppetlabs and /etc/puppetlabs), else 'debian' (Debian's own
# puppet-agent and puppetserver packages: /usr/bin/puppet, /etc/puppet, /var/lib/puppet). The
# module's data (data/layout/*.yaml) picks its default paths by it.
Facter.add(:puppet_ha_layout) do
  setcode do
    RbConfig.ruby.start_with?('/opt/puppetlabs/') ? 'aio' : 'debian'
  end
end
