// The JSON descriptor the cluster owner writes for e2e test files ($PUPPET_HA_E2E_CLUSTER points
// at it): every path, port and URL a test needs, plus the owner's control API address.

export const DESCRIPTOR_ENV = "PUPPET_HA_E2E_CLUSTER";

export type InstanceName = "ca1" | "ca2" | "m1" | "m2";
export type InstanceRole = "ca" | "master";
export type InstanceState = "starting" | "running" | "stopped" | "paused" | "failed";

/** One puppetserver (JVM) of the cluster, with its own dirs under the cluster root. */
export interface InstanceInfo {
  name: InstanceName;
  role: InstanceRole;
  /** The puppetserver's own certname (its `certname` in puppet.conf). */
  certname: string;
  host: string;
  port: number;
  /** Plain-HTTP base URL of the backend, e.g. http://127.0.0.1:40123 (header auth). */
  url: string;
  /** The path polled for readiness: /status/v1/simple/ca (CA) or /status/v1/simple (master). */
  readyPath: string;
  dir: string;
  confdir: string;
  puppetConf: string;
  /** Only meaningful on CA workers; masters have an unused one. */
  cadir: string;
  ssldir: string;
  /** Combined stdout/stderr of the JVM (appended across restarts). */
  logFile: string;
  /** Jetty access log (one line per request). */
  accessLog: string;
}

export interface FrontEndInfo {
  kind: "haproxy" | "puppet-ha";
  /** The host agents use as `server`/`ca_server` (matches a SAN of the front-end cert). */
  host: string;
  port: number;
  /** puppet-ha proxy only: its admin listener (health, API). */
  adminUrl?: string;
  /** puppet-ha proxy only: the file holding the admin API's bearer token. */
  adminTokenFile?: string;
  /** puppet-ha proxy only: its state dir (arbiter.json: epoch and active CA, kept across restarts). */
  stateDir?: string;
  /** The generated config file (haproxy.cfg or puppet-ha YAML). */
  configFile: string;
  logFile: string;
}

/** The PKI material the harness minted from ca1 (the CA is plain HTTP, so no `puppetserver ca generate`). */
export interface PkiInfo {
  /** The CA bundle (ca1's ca_crt.pem, copied). */
  caBundle: string;
  /** The CA's CRL as fetched at start (the front end's crl-file). */
  crl: string;
  /** Front-end cert+key, certname puppet-ha-proxy, SANs DNS:localhost, IP:127.0.0.1. */
  frontEndCertname: string;
  frontEndCert: string;
  frontEndKey: string;
  /** Cert+key carrying pp_cli_auth (ca1's own host cert: the CA refuses pp_cli_auth in CSRs). */
  adminCertname: string;
  adminCert: string;
  adminKey: string;
  /** puppet.conf for `puppetserver ca --config` through the front end with the admin cert. */
  adminPuppetConf: string;
}

export interface ClusterDescriptor {
  version: 1;
  root: string;
  /** Shared code dir of all servers (environments/production/manifests/site.pp). */
  codedir: string;
  /** The autosign whitelist every CA reads (`*` = sign everything); rewrite it to toggle. */
  autosignFile: string;
  /** Where per-certname agent dirs go (runAgent). */
  agentsDir: string;
  instances: Record<InstanceName, InstanceInfo>;
  frontEnd: FrontEndInfo;
  pki: PkiInfo;
  /** The owner's control API, e.g. http://127.0.0.1:40200. */
  controlUrl: string;
  /** Milliseconds from owner start to cluster ready. */
  startupMs: number;
}

/** What GET /instances on the control API returns per instance. */
export interface InstanceStatus {
  name: InstanceName;
  state: InstanceState;
  pid: number | null;
  url: string;
}
