// The benchmark's PKI, Puppet-shaped (test/helpers/pki.ts): a CA, its CRL (one unrelated serial
// revoked, so CRL checking really runs), the front ends' server cert and an agent's client cert.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestCa } from "../../test/helpers/pki.js";

export interface BenchPki {
  dir: string;
  ca: string;
  caKey: string;
  crl: string;
  serverCert: string;
  serverKey: string;
  /** cert followed by key, haproxy's `crt` format. */
  serverPem: string;
  clientCert: string;
  clientKey: string;
  clientPem: string;
  /** PEM text of the client cert+key and CA, for Node clients. */
  text: { ca: string; cert: string; key: string };
  /** PEM of one issued cert (used as the body of simulated signings). */
  samplePem: string;
}

export function createBenchPki(dir: string): BenchPki {
  mkdirSync(dir, { recursive: true });
  const ca = createTestCa("puppet-ha-bench");
  const server = ca.issue("puppet-ha-proxy", { sans: ["localhost", "127.0.0.1"] });
  const client = ca.issue("agent-bench-1");
  const w = (name: string, text: string, mode = 0o644) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode });
    return p;
  };
  return {
    dir,
    ca: w("ca.pem", ca.certPem),
    caKey: w("ca_key.pem", ca.keyPem, 0o600),
    crl: w("crl.pem", ca.crl({ revoked: ["7FFF"], number: 1 })),
    serverCert: w("server.pem", server.certPem),
    serverKey: w("server.key", server.keyPem, 0o600),
    serverPem: w("server-full.pem", server.certPem + server.keyPem, 0o600),
    clientCert: w("client.pem", client.certPem),
    clientKey: w("client.key", client.keyPem, 0o600),
    clientPem: w("client-full.pem", client.certPem + client.keyPem, 0o600),
    text: { ca: ca.certPem, cert: client.certPem, key: client.keyPem },
    samplePem: client.certPem,
  };
}
