// Where the installed Puppet pieces live (Debian packages, or upstream puppetlabs packages) and
// a check that names what is missing, so the e2e tier fails with a fix instead of a stack trace.
import { existsSync } from "node:fs";

export interface PuppetSystem {
  flavour: "debian" | "puppetlabs";
  /** puppetserver's jar and the directory java runs in. */
  jar: string;
  installDir: string;
  /** The packaged trapperkeeper config we copy auth.conf, metrics.conf, web-routes.conf and bootstrap.cfg from. */
  confDir: string;
  servicesDir: string;
  jrubyLib: string | undefined;
  rubyLoadPath: string[];
  gemHome: string;
  gemPath: string[];
  /** The agent executable and the puppetserver CLI (for `puppetserver ca`). */
  puppet: string;
  puppetserverCli: string;
  java: string;
  haproxy: string;
  openssl: string;
}

const debian: PuppetSystem = {
  flavour: "debian",
  jar: "/usr/share/puppetserver/puppetserver.jar",
  installDir: "/usr/share/puppetserver",
  confDir: "/etc/puppet/puppetserver/conf.d",
  servicesDir: "/etc/puppet/puppetserver/services.d",
  jrubyLib: "/usr/share/jruby/lib",
  rubyLoadPath: ["/usr/lib/puppetserver/ruby/vendor_ruby"],
  gemHome: "/var/lib/puppetserver/jruby-gems",
  gemPath: ["/var/lib/puppetserver/jruby-gems", "/usr/lib/puppetserver/vendored-jruby-gems"],
  puppet: "/usr/bin/puppet",
  puppetserverCli: "/usr/bin/puppetserver",
  java: "/usr/bin/java",
  haproxy: "/usr/sbin/haproxy",
  openssl: "/usr/bin/openssl",
};

// Upstream packages bundle their own JRuby inside the jar (no -Djruby.lib needed). Untested here.
const puppetlabs: PuppetSystem = {
  flavour: "puppetlabs",
  jar: "/opt/puppetlabs/server/apps/puppetserver/puppet-server-release.jar",
  installDir: "/opt/puppetlabs/server/apps/puppetserver",
  confDir: "/etc/puppetlabs/puppetserver/conf.d",
  servicesDir: "/etc/puppetlabs/puppetserver/services.d",
  jrubyLib: undefined,
  rubyLoadPath: ["/opt/puppetlabs/puppet/lib/ruby/vendor_ruby"],
  gemHome: "/opt/puppetlabs/server/data/puppetserver/jruby-gems",
  gemPath: [
    "/opt/puppetlabs/server/data/puppetserver/jruby-gems",
    "/opt/puppetlabs/server/data/puppetserver/vendored-jruby-gems",
    "/opt/puppetlabs/puppet/lib/ruby/vendor_gems",
  ],
  puppet: "/opt/puppetlabs/bin/puppet",
  puppetserverCli: "/opt/puppetlabs/bin/puppetserver",
  java: "java",
  haproxy: "/usr/sbin/haproxy",
  openssl: "/usr/bin/openssl",
};

/** The installed system, or an Error whose message lists every missing piece and the fix (haproxy only when asked: default yes). */
export function detectPuppetSystem(opts: { haproxy?: boolean } = {}): PuppetSystem {
  const sys = existsSync(puppetlabs.jar) && !existsSync(debian.jar) ? puppetlabs : debian;
  const missing: string[] = [];
  if (!existsSync(sys.jar)) missing.push(`puppetserver not installed (${sys.jar})`);
  if (!existsSync(sys.puppet)) missing.push(`puppet agent not installed (${sys.puppet})`);
  if (!existsSync(`${sys.confDir}/auth.conf`)) missing.push(`puppetserver config missing (${sys.confDir}/auth.conf)`);
  if (sys.java.startsWith("/") && !existsSync(sys.java)) missing.push(`java not installed (${sys.java})`);
  const needHaproxy = opts.haproxy ?? true;
  if (needHaproxy && !existsSync(sys.haproxy)) missing.push(`haproxy not installed (${sys.haproxy})`);
  if (!existsSync(sys.openssl)) missing.push(`openssl not installed (${sys.openssl})`);
  if (missing.length > 0) {
    const extra = !needHaproxy || existsSync(sys.haproxy) ? "" : " haproxy";
    throw new Error(`${missing.join("; ")}: run scripts/install-system-deps.sh${extra} as root`);
  }
  return sys;
}
