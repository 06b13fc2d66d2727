// Config generators for the three front ends with equivalent settings (TLS with optional client
// certs checked against the CA and CRL, X-Client-* headers, /puppet-ca/ to the CA pool with a
// backup, the rest round-robin to the masters), plus the generator-side TLS originator and the
// cheap nginx backend. The haproxy front end is src/demo/cluster/haproxy-config.ts without
// per-request logging (no front end logs requests in the benchmark).
import { stringify } from "yaml";
import { haproxyConfig } from "../../src/demo/cluster/haproxy-config.js";
import type { BenchPki } from "./pki.js";

export interface Backend {
  name: string;
  port: number;
}

export interface FrontEndSpec {
  port: number;
  pki: BenchPki;
  caWorkers: Backend[];
  masters: Backend[];
  /** How long a connected backend may take to answer (all front ends). */
  serverTimeout: string;
}

export interface HaproxyChecks {
  inter: string;
  fall: number;
  rise: number;
}

/** haproxy's own defaults (puppet-facts §6): checks every 2 s, down after 3, up after 2. */
export const HAPROXY_DEFAULT_CHECKS: HaproxyChecks = { inter: "2s", fall: 3, rise: 2 };
export const HAPROXY_TUNED_CHECKS: HaproxyChecks = { inter: "1s", fall: 2, rise: 2 };

/** haproxy as the front end under test: the generator the e2e cluster and the demo use. */
export function haproxyFrontEnd(s: FrontEndSpec, checks: HaproxyChecks): string {
  const at = (b: Backend) => ({ name: b.name, host: "127.0.0.1", port: b.port });
  return haproxyConfig({
    bind: { host: "127.0.0.1", port: s.port },
    certKeyPem: s.pki.serverPem, caFile: s.pki.ca, crlFile: s.pki.crl,
    caWorkers: s.caWorkers.map(at), masters: s.masters.map(at),
    check: checks, maxconn: 8000, nbthread: 1, requestLog: false, serverTimeout: s.serverTimeout,
  });
}

function nginxPrelude(dir: string): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${process.getuid?.() === 0 ? "user root;\n" : ""}worker_rlimit_nofile 20000;
events { worker_connections 16000; }
`;
}

function nginxHttpCommon(dir: string): string {
  return `    access_log off;
    client_body_temp_path ${dir}/body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
`;
}

/** nginx: passive checks only (max_fails 1, fail_timeout 10s are its defaults), `backup` CA. */
export function nginxFrontEnd(s: FrontEndSpec, dir: string): string {
  const up = (b: Backend, extra = "") => `        server 127.0.0.1:${b.port}${extra};`;
  return `${nginxPrelude(dir)}http {
${nginxHttpCommon(dir)}    large_client_header_buffers 4 32k;
    upstream puppet_ca {
${s.caWorkers.map((b, i) => up(b, i === 0 ? " max_fails=1 fail_timeout=10s" : " backup")).join("\n")}
        keepalive 64;
    }
    upstream puppet_masters {
${s.masters.map((b) => up(b)).join("\n")}
        keepalive 64;
    }
    server {
        listen 127.0.0.1:${s.port} ssl;
        ssl_certificate ${s.pki.serverCert};
        ssl_certificate_key ${s.pki.serverKey};
        ssl_client_certificate ${s.pki.ca};
        ssl_crl ${s.pki.crl};
        ssl_verify_client optional;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        # proxy_set_header replaces any client-supplied header of the same name.
        proxy_set_header X-Client-Verify $ssl_client_verify;
        proxy_set_header X-Client-DN $ssl_client_s_dn;
        proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
        proxy_connect_timeout 2s;
        proxy_read_timeout ${s.serverTimeout};
        proxy_send_timeout ${s.serverTimeout};
        location /puppet-ca/ { proxy_pass http://puppet_ca; }
        location / { proxy_pass http://puppet_masters; }
    }
}
`;
}

/** The shared backend: one nginx answering `running` on every port and path. */
export function nginxBackend(ports: number[], dir: string): string {
  return `${nginxPrelude(dir)}http {
${nginxHttpCommon(dir)}    default_type text/plain;
${ports.map((p) => `    server { listen 127.0.0.1:${p}; location / { return 200 "running"; } }`).join("\n")}
}
`;
}

/**
 * Generator side: plain HTTP in, TLS with the agent's client cert out, connections reused
 * (haproxy resumes TLS sessions for new ones). Its own timeouts sit above the generator's.
 */
/**
 * `reuse` "never" gives each client connection its own connection to the front end, as agents have
 * ("always", the default, shares them: the busiest few carry most requests).
 */
export function haproxyOriginator(listenPort: number, target: { port: number; tls: boolean }, pki: BenchPki, reuse: "always" | "never" = "always"): string {
  const tls = target.tls ? ` maxconn 8000 ssl crt ${pki.clientPem} ca-file ${pki.ca} verify required verifyhost localhost sni str(localhost)` : "";
  return `global
    nbthread 1
    maxconn 8000

defaults
    mode http
    timeout connect 10s
    timeout client 120s
    timeout server 120s
    http-reuse ${reuse}

listen originate
    bind 127.0.0.1:${listenPort}
    maxconn 8000
    server fe 127.0.0.1:${target.port}${tls}
`;
}

export interface PuppetHaChecks {
  interval: string;
  timeout: string;
  rise: number;
  fall: number;
}

/** puppet-ha's defaults (proxy.health): interval 1s, timeout 1s, rise 2, fall 2. */
export const PUPPET_HA_DEFAULT_CHECKS: PuppetHaChecks = { interval: "1s", timeout: "1s", rise: 2, fall: 2 };
/**
 * The failover scenario's checks: haproxy tuned is `inter 1s fall 2` and haproxy's check timeout
 * defaults to inter, but haproxy's checks hang on the timeout too. With interval 1s, fall 2 a hung
 * CA is down within interval + fall × timeout (the checker's fast re-check after a failure):
 * 3 s with timeout 1s, which leaves the requests that waited on it since the hang just over the
 * target "no request waiting over 3 s"; timeout 500ms bounds it at 2 s and leaves a second for
 * the re-send to the promoted standby. A fake CA answers its status in well under 500 ms.
 */
export const PUPPET_HA_FAILOVER_CHECKS: PuppetHaChecks = { interval: "1s", timeout: "500ms", rise: 2, fall: 2 };

export interface PuppetHaSpec extends FrontEndSpec {
  adminPort: number;
  stateDir: string;
  health: PuppetHaChecks;
  /** Extra keys of the proxy section (workers, cluster). Default: workers 1, the one-process proxy the other rows measure. */
  proxy?: Record<string, unknown>;
}

export function puppetHaConfig(s: PuppetHaSpec): string {
  const w = (b: Backend) => ({ name: b.name, url: `http://127.0.0.1:${b.port}` });
  return stringify({
    proxy: {
      listen: `127.0.0.1:${s.port}`,
      tls: { cert: s.pki.serverCert, key: s.pki.serverKey, ca: s.pki.ca, crl: s.pki.crl },
      ca: { workers: s.caWorkers.map(w) },
      masters: { workers: s.masters.map(w) },
      health: s.health,
      timeouts: { connect: "2s", response: s.serverTimeout },
      // The load generator is one address standing for many agents (a hung CA holds ~200 of its
      // requests at 200 req/s); haproxy and nginx are given no per-address limit either.
      limits: { perClient: 4096 },
      stateDir: s.stateDir,
      accessLog: false,
      workers: 1,
      ...s.proxy,
    },
    admin: { listen: `127.0.0.1:${s.adminPort}` },
    log: { level: "warn", format: "json" },
  });
}
