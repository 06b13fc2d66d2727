// Expiry of the CA certificate and the CRL, read from their PEM files, as the health report shows
// them (notAfter and whole days left, negative once expired). CRLs are parsed by src/pki.ts.
import { X509Certificate } from "node:crypto";
import { parseCrl } from "../pki.js";
import type { ExpiryReport } from "./report.js";

const DAY = 86_400_000;

/** notAfter of the first certificate in a PEM text (the CA certificate of a bundle). */
export function certNotAfter(pem: string | Buffer): Date {
  const cert = new X509Certificate(pem);
  const at = new Date(cert.validTo);
  if (Number.isNaN(at.getTime())) throw new Error(`certificate has an unreadable notAfter "${cert.validTo}"`);
  return at;
}

/** nextUpdate and CRL Number (decimal) of a PEM or DER CRL; throws DerError when it is not one. */
export function crlNextUpdate(crl: string | Buffer): { nextUpdate?: Date; number?: string } {
  const { nextUpdate, number } = parseCrl(crl);
  return { ...(nextUpdate ? { nextUpdate } : {}), ...(number !== undefined ? { number: number.toString(10) } : {}) };
}

/** Whole days left until `notAfter` (rounded down; -1 from the first second after it). */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY);
}

export function expiryReport(notAfter: Date, now: Date): ExpiryReport {
  return { notAfter: notAfter.toISOString(), daysLeft: daysLeft(notAfter, now) };
}
