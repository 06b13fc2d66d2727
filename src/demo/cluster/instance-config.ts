// Writes one puppetserver instance's private config tree (conf.d, services.d, puppet.conf,
// logback) under the cluster root, so several JVMs can run side by side on loopback.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { InstanceInfo, InstanceName, InstanceRole } from "./descriptor.js";
import type { PuppetSystem } from "./system.js";
import { LOOPBACK } from "./net.js";

export interface InstanceSpec {
  name: InstanceName;
  role: InstanceRole;
  certname: string;
  port: number;
  clusterRoot: string;
  codedir: string;
  autosignFile: string;
}

const CA_ON = "puppetlabs.services.ca.certificate-authority-service/certificate-authority-service";
const CA_OFF = "puppetlabs.services.ca.certificate-authority-disabled-service/certificate-authority-disabled-service";
const FS_WATCH = "puppetlabs.trapperkeeper.services.watcher.filesystem-watch-service/filesystem-watch-service";

/** Every path of an instance, derived from the cluster root and its name only. */
export function instanceInfo(spec: InstanceSpec): InstanceInfo {
  const dir = join(spec.clusterRoot, spec.name);
  const confdir = join(dir, "confdir");
  return {
    name: spec.name,
    role: spec.role,
    certname: spec.certname,
    host: LOOPBACK,
    port: spec.port,
    url: `http://${LOOPBACK}:${spec.port}`,
    readyPath: spec.role === "ca" ? "/status/v1/simple/ca" : "/status/v1/simple",
    dir,
    confdir,
    puppetConf: join(confdir, "puppet.conf"),
    cadir: join(dir, "ca"),
    ssldir: join(dir, "ssl"),
    logFile: join(dir, "log", "console.log"),
    accessLog: join(dir, "log", "access.log"),
  };
}

const q = (s: string) => JSON.stringify(s);
const list = (xs: string[]) => `[${xs.map(q).join(", ")}]`;

/** auth.conf from the package with header auth switched on (top level of `authorization`). */
export function withHeaderAuth(authConf: string): string {
  const out = authConf.replace(/^(\s*)version:\s*1\s*$/m, "$1version: 1\n$1allow-header-cert-info: true");
  if (out === authConf) throw new Error("auth.conf: no `version: 1` line to put allow-header-cert-info after");
  return out;
}

export async function writeInstanceConfig(spec: InstanceSpec, sys: PuppetSystem): Promise<InstanceInfo> {
  const info = instanceInfo(spec);
  const d = (...p: string[]) => join(info.dir, ...p);
  for (const sub of ["conf.d", "services.d", "confdir", "var", "run", "log", "ca", "ssl"]) {
    await mkdir(d(sub), { recursive: true });
  }
  const copy = async (from: string, to: string, edit: (s: string) => string = (s) => s) =>
    writeFile(to, edit(await readFile(from, "utf8")));

  await copy(join(sys.confDir, "auth.conf"), d("conf.d", "auth.conf"), withHeaderAuth);
  await copy(join(sys.confDir, "metrics.conf"), d("conf.d", "metrics.conf"));
  await copy(join(sys.confDir, "web-routes.conf"), d("conf.d", "web-routes.conf"));
  await copy(join(sys.servicesDir, "bootstrap.cfg"), d("services.d", "bootstrap.cfg"));
  await writeFile(d("services.d", "ca.cfg"), `${spec.role === "ca" ? CA_ON : CA_OFF}\n${FS_WATCH}\n`);

  // Plain HTTP on loopback: no ssl-* keys; the front end terminates TLS and sends X-Client-* headers.
  await writeFile(d("conf.d", "webserver.conf"), `webserver: {
  access-log-config: ${q(d("request-logging.xml"))}
  host: ${q(LOOPBACK)}
  port: ${spec.port}
}
`);
  await writeFile(d("conf.d", "puppetserver.conf"), `jruby-puppet: {
  ruby-load-path: ${list(sys.rubyLoadPath)}
  gem-home: ${q(sys.gemHome)}
  gem-path: ${list(sys.gemPath)}
  server-conf-dir: ${q(info.confdir)}
  server-code-dir: ${q(spec.codedir)}
  server-var-dir: ${q(d("var"))}
  server-run-dir: ${q(d("run"))}
  server-log-dir: ${q(d("log"))}
  max-active-instances: 1
}
http-client: {
}
profiler: {
}
`);
  await writeFile(d("conf.d", "global.conf"), `global: {\n  logging-config: ${q(d("logback.xml"))}\n}\n`);
  await writeFile(d("conf.d", "ca.conf"), "certificate-authority: {\n  allow-subject-alt-names: true\n}\n");

  // Everything the JVM logs goes to stdout, which the harness appends to log/console.log.
  await writeFile(d("logback.xml"), `<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5p [%t] [%c{2}] %m%n</pattern></encoder>
  </appender>
  <logger name="org.eclipse.jetty" level="WARN"/>
  <logger name="org.apache.http" level="INFO"/>
  <root level="info"><appender-ref ref="STDOUT"/></root>
</configuration>
`);
  await writeFile(d("request-logging.xml"), `<configuration debug="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${info.accessLog}</file>
    <append>true</append>
    <encoder><pattern>%h %l %u [%t] "%r" %s %b "%i{Referer}" "%i{User-Agent}" %D %i{Content-Length}</pattern></encoder>
  </appender>
  <appender-ref ref="FILE" />
</configuration>
`);
  // No inline comments in puppet.conf: puppet silently mis-parses them.
  await writeFile(info.puppetConf, [
    "[main]",
    `certname = ${spec.certname}`,
    `ssldir = ${info.ssldir}`,
    `cadir = ${info.cadir}`,
    `vardir = ${d("var")}`,
    `logdir = ${d("log")}`,
    `rundir = ${d("run")}`,
    `codedir = ${spec.codedir}`,
    `autosign = ${spec.autosignFile}`,
    // The CA key and the servers' host keys: 2048 bits generate several seconds faster than the
    // default 4096 on a busy 2-core machine (agents keep their own default).
    "keylength = 2048",
    "",
  ].join("\n"));
  return info;
}

/**
 * The shared code dir: a production environment whose catalog always holds a change, and a
 * `slow` one whose catalog also sleeps 5 s (a run that is reliably still going when a test
 * triggers another: `--environment slow`).
 */
export async function writeCodedir(codedir: string): Promise<void> {
  // A notify is a change on every run (agent exit 2) and names the compile master that built it
  // ($settings::certname is the compiling server's certname; server_facts only has its hostname).
  const notify = `  notify { 'puppet-ha-e2e':
    message => "puppet-ha e2e catalog for \${trusted['certname']} compiled by \${settings::certname}",
  }
`;
  const sleep = "  exec { 'puppet-ha-e2e-slow': command => '/bin/sleep 5' }\n";
  for (const [name, body] of [["production", notify], ["slow", notify + sleep]] as const) {
    const env = join(codedir, "environments", name);
    await mkdir(join(env, "manifests"), { recursive: true });
    await mkdir(join(env, "modules"), { recursive: true });
    await writeFile(join(env, "manifests", "site.pp"), `node default {\n${body}}\n`);
  }
}
