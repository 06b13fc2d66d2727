// Mints the certificates the cluster needs from the running plain-HTTP CA (ca1) through its own
// API: keys and CSRs from openssl, CSR PUT to certificate_request (autosigned), cert GET.
// `puppetserver ca generate` cannot be used: it insists on talking HTTPS to the CA.
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import type { InstanceInfo, PkiInfo } from "./descriptor.js";
import type { PuppetSystem } from "./system.js";
import { request } from "./net.js";

export const FRONT_END_CERTNAME = "puppet-ha-proxy";

export interface MintedCert {
  certname: string;
  cert: string;
  key: string;
}

/**
 * Generates a key and CSR (RSA 2048: fast, and the CA does not care) and has `caUrl` sign it.
 * Relies on autosign; SANs need `allow-subject-alt-names: true` in ca.conf. The CA refuses
 * pp_cli_auth in a CSR whatever its settings (certificate_authority.clj allowed-extension?).
 */
export async function mintCert(sys: PuppetSystem, caUrl: string, certname: string, dir: string, sans: string[] = []): Promise<MintedCert> {
  await mkdir(dir, { recursive: true });
  const key = join(dir, `${certname}.key.pem`);
  const csr = join(dir, `${certname}.csr.pem`);
  const cert = join(dir, `${certname}.pem`);
  // A CA refuses a second CSR for a certname it has signed: a kept root (the demo) reuses the cert.
  if (existsSync(cert) && existsSync(key)) return { certname, cert, key };
  await execa(sys.openssl, [
    "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=${certname}`,
    ...(sans.length > 0 ? ["-addext", `subjectAltName=${sans.join(",")}`] : []),
  ]);
  const base = `${caUrl}/puppet-ca/v1`;
  const put = await request(`${base}/certificate_request/${certname}`, {
    method: "PUT", body: await readFile(csr, "utf8"), headers: { "Content-Type": "text/plain" }, timeoutMs: 15_000,
  });
  if (put.status !== 200) throw new Error(`CSR for ${certname} refused by ${caUrl}: ${put.status} ${put.body}`);
  const got = await request(`${base}/certificate/${certname}`, { timeoutMs: 10_000 });
  if (got.status !== 200) {
    throw new Error(`no certificate for ${certname} after its CSR (${got.status}): is autosign off in the autosign file?`);
  }
  await writeFile(cert, got.body);
  return { certname, cert, key };
}

/** GETs the CA bundle and CRL from a CA worker into files. */
export async function fetchCaFiles(caUrl: string, caBundle: string, crl: string): Promise<void> {
  const ca = await request(`${caUrl}/puppet-ca/v1/certificate/ca`, { timeoutMs: 10_000 });
  if (ca.status !== 200) throw new Error(`GET CA bundle from ${caUrl}: ${ca.status}`);
  const c = await request(`${caUrl}/puppet-ca/v1/certificate_revocation_list/ca`, { timeoutMs: 10_000 });
  if (c.status !== 200) throw new Error(`GET CRL from ${caUrl}: ${c.status}`);
  await writeFile(caBundle, ca.body);
  await writeFile(crl, c.body);
}

/**
 * Builds the PKI material: CA bundle, CRL, front-end cert (SANs localhost, 127.0.0.1), and the
 * admin identity. The admin is ca1's own host cert: a CA-enabled puppetserver signs pp_cli_auth
 * into its own cert at first start (create-master-extensions), exactly what `puppetserver ca`
 * uses on a CA host. `frontEnd` = where `puppetserver ca` should send its requests.
 */
export async function buildPki(sys: PuppetSystem, root: string, ca1: InstanceInfo): Promise<PkiInfo> {
  const dir = join(root, "pki");
  await mkdir(dir, { recursive: true });
  const caBundle = join(dir, "ca_crt.pem");
  const crl = join(dir, "ca_crl.pem");
  await fetchCaFiles(ca1.url, caBundle, crl);
  const fe = await mintCert(sys, ca1.url, FRONT_END_CERTNAME, dir, ["DNS:localhost", "IP:127.0.0.1", `DNS:${FRONT_END_CERTNAME}`]);

  // An ssldir laid out like an agent's, so `puppetserver ca --config <adminPuppetConf>` finds it.
  const adminSsl = join(dir, "admin-ssl");
  const cn = ca1.certname;
  await mkdir(join(adminSsl, "certs"), { recursive: true });
  await mkdir(join(adminSsl, "private_keys"), { recursive: true });
  const adminCert = join(adminSsl, "certs", `${cn}.pem`);
  const adminKey = join(adminSsl, "private_keys", `${cn}.pem`);
  await copyFile(join(ca1.ssldir, "certs", `${cn}.pem`), adminCert);
  await copyFile(join(ca1.ssldir, "private_keys", `${cn}.pem`), adminKey);
  await copyFile(caBundle, join(adminSsl, "certs", "ca.pem"));
  await copyFile(crl, join(adminSsl, "crl.pem"));
  return {
    caBundle, crl,
    frontEndCertname: fe.certname, frontEndCert: fe.cert, frontEndKey: fe.key,
    adminCertname: cn, adminCert, adminKey,
    adminPuppetConf: join(dir, "admin-puppet.conf"),
  };
}

/** puppet.conf for `puppetserver ca ... --config FILE` through the front end with the admin cert. */
export async function writeAdminPuppetConf(pki: PkiInfo, host: string, port: number): Promise<void> {
  const ssldir = join(pki.adminCert, "..", "..");
  await writeFile(pki.adminPuppetConf, [
    "[main]",
    `certname = ${pki.adminCertname}`,
    `ssldir = ${ssldir}`,
    `server = ${host}`,
    `ca_server = ${host}`,
    `serverport = ${port}`,
    `ca_port = ${port}`,
    "",
  ].join("\n"));
}
