// The listener's TLS material: cert, key, CA bundle and the current CRL, built into secure context
// options; CRLs are only ever replaced by a newer one signed by the CA, and kept in stateDir.
import { X509Certificate } from "node:crypto";
import type { SecureContextOptions } from "node:tls";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FileAccessError, StateError } from "../errors.js";
import { crlSignedBy, parseCrl, splitPemCerts, type CrlInfo } from "../pki.js";
import { writeFileAtomic } from "../atomic-file.js";

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
  crl: string;
  minVersion: "TLSv1.2" | "TLSv1.3";
}

export interface Crl {
  pem: string;
  info: CrlInfo;
  source: string;
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    throw new FileAccessError(path, what, { cause });
  }
}

/** True when `a` should replace `b`: a higher CRL Number, or a later thisUpdate without numbers. */
export function crlIsNewer(a: CrlInfo, b: CrlInfo): boolean {
  if (a.number !== undefined && b.number !== undefined) return a.number > b.number;
  return a.thisUpdate.getTime() > b.thisUpdate.getTime();
}

/** A CRL usable with this CA bundle, or a reason why not. */
export function checkCrl(pem: string, caCerts: readonly X509Certificate[]): CrlInfo | string {
  let info: CrlInfo;
  try {
    info = parseCrl(pem);
  } catch (err) {
    return `not a CRL (${err instanceof Error ? err.message : String(err)})`;
  }
  if (!caCerts.some((c) => crlSignedBy(info, c))) return "not signed by the CA";
  return info;
}

export class TlsMaterial {
  readonly crlStatePath: string;
  cert = "";
  key = "";
  ca = "";
  caCerts: X509Certificate[] = [];
  crl!: Crl;

  constructor(public files: TlsFiles, stateDir: string) {
    this.crlStatePath = join(stateDir, "crl.pem");
  }

  /**
   * (Re)read cert, key, CA and CRL from disk. The CRL used is the newest valid one of the
   * configured file, the copy in stateDir, and the one already in use (never an older CRL Number).
   */
  load(): void {
    const cert = read(this.files.cert, "TLS certificate");
    const key = read(this.files.key, "TLS key");
    const ca = read(this.files.ca, "CA bundle");
    const caCerts = splitPemCerts(ca).map((p) => new X509Certificate(p));
    if (caCerts.length === 0) throw new StateError(this.files.ca, "no certificate in the CA bundle");
    const candidates: Crl[] = [];
    const configured = read(this.files.crl, "CRL");
    const c = checkCrl(configured, caCerts);
    if (typeof c === "string") throw new StateError(this.files.crl, c);
    candidates.push({ pem: configured, info: c, source: this.files.crl });
    let saved: string | undefined;
    try {
      saved = readFileSync(this.crlStatePath, "utf8");
    } catch {
      saved = undefined;
    }
    if (saved !== undefined) {
      const s = checkCrl(saved, caCerts);
      if (typeof s !== "string") candidates.push({ pem: saved, info: s, source: this.crlStatePath });
    }
    // Keep the CRL in use if it is still valid for this CA and newer than both files.
    const current = this.crl as Crl | undefined;
    if (current && caCerts.some((ca) => crlSignedBy(current.info, ca))) candidates.push(current);
    let best = candidates[0] as Crl;
    for (const x of candidates) if (crlIsNewer(x.info, best.info)) best = x;
    this.cert = cert;
    this.key = key;
    this.ca = ca;
    this.caCerts = caCerts;
    this.crl = best;
  }

  /**
   * Offer a CRL fetched from the CA: adopted (and saved in stateDir) only when it is valid and
   * newer. Returns "" when adopted, else why not.
   */
  offer(pem: string, source: string): string {
    const info = checkCrl(pem, this.caCerts);
    if (typeof info === "string") return info;
    if (!crlIsNewer(info, this.crl.info)) return "not newer";
    writeFileAtomic(this.crlStatePath, pem);
    this.crl = { pem, info, source };
    return "";
  }

  /** Options for tls.createServer / server.setSecureContext. */
  contextOptions(): SecureContextOptions {
    return { cert: this.cert, key: this.key, ca: this.ca, crl: this.crl.pem, minVersion: this.files.minVersion, maxVersion: "TLSv1.3" };
  }
}
