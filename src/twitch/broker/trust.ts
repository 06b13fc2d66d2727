// Who signed a fleet message? A certificate carried in the message is trusted when the Puppet CA
// issued it (chain and signature), it is within its dates and its serial is not on the CA's CRL.
// Decisions use node:crypto only; results are cached per certificate text until the CRL changes.
import { X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { FileAccessError } from "../../errors.js";
import { caCrlOf, crlSignedBy, normalizeSerial } from "../../pki.js";

export interface TrustedCert {
  certname: string;
  cert: X509Certificate;
  /** Kept: X509Certificate.publicKey builds a new KeyObject on every access. */
  publicKey: KeyObject;
  notBefore: number;
  notAfter: number;
}

export type CertVerdict = { ok: true; signer: TrustedCert } | { ok: false; reason: string };

/** The CN of an X.509 subject as Node prints it ("CN=web1.example.com"). */
export function commonName(subject: string): string | undefined {
  for (const line of subject.split("\n")) {
    const m = /^CN=(.*)$/.exec(line.trim());
    if (m) return m[1];
  }
  return undefined;
}

const CACHE_MAX = 50_000;

export class PuppetTrust {
  readonly #ca: X509Certificate;
  readonly #caKey: KeyObject;
  readonly #revoked: ReadonlySet<string>;
  readonly #now: () => number;
  readonly #cache = new Map<string, TrustedCert | string>();

  constructor(caPem: string, crlPem: string | undefined, now: () => number = Date.now) {
    this.#ca = new X509Certificate(caPem);
    this.#caKey = this.#ca.publicKey;
    this.#now = now;
    if (crlPem === undefined) {
      this.#revoked = new Set();
    } else {
      const crl = caCrlOf(crlPem, caPem);
      if (!crlSignedBy(crl, this.#ca)) throw new Error("the CRL is not signed by the Puppet CA");
      this.#revoked = crl.revoked;
    }
  }

  static fromFiles(caFile: string, crlFile: string | undefined, now?: () => number): PuppetTrust {
    const read = (path: string, what: string) => {
      try {
        return readFileSync(path, "utf8");
      } catch (cause) {
        throw new FileAccessError(path, what, { cause });
      }
    };
    return new PuppetTrust(read(caFile, "Puppet CA certificate"), crlFile === undefined ? undefined : read(crlFile, "CRL"), now);
  }

  get ca(): X509Certificate {
    return this.#ca;
  }

  /** Check a PEM certificate; the validity dates are checked on every call, the rest once. */
  verify(certPem: string): CertVerdict {
    let entry = this.#cache.get(certPem);
    if (entry === undefined) {
      entry = this.#check(certPem);
      if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
      this.#cache.set(certPem, entry);
    }
    if (typeof entry === "string") return { ok: false, reason: entry };
    const now = this.#now();
    if (now < entry.notBefore) return { ok: false, reason: `certificate of ${entry.certname} is not valid yet` };
    if (now > entry.notAfter) return { ok: false, reason: `certificate of ${entry.certname} has expired` };
    return { ok: true, signer: entry };
  }

  #check(certPem: string): TrustedCert | string {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch {
      return "not a certificate";
    }
    const certname = commonName(cert.subject);
    if (!certname) return "certificate without a CN";
    if (cert.ca) return `certificate of ${certname} is a CA certificate`;
    if (!cert.checkIssued(this.#ca) || !cert.verify(this.#caKey)) return `certificate of ${certname} is not issued by the Puppet CA`;
    if (this.#revoked.has(normalizeSerial(cert.serialNumber))) return `certificate of ${certname} is revoked`;
    return { certname, cert, publicKey: cert.publicKey, notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
  }
}
