// Reads what the guard needs from ca_crl.pem and ca_crt.pem: the CRL Number (2.5.29.20), the
// revoked serials and the issuer, compared with the CA cert's subject byte for byte.
//
// Which CRL: ca_crl.pem may hold a chain (Puppet with an intermediate CA: the CA's own CRL, then
// the CRLs of the CAs above it). puppetserver's revoke-existing-certs! reads it as
// `[our-full-crl & rest-of-full-chain] (pem->crls cacrl)` and rewrites only the first. We take
// the first CRL whose issuer equals ca_crt.pem's subject (which is the first one in every file
// Puppet writes), and refuse the file when none does.
import { children, DerParseError, integerOf, oidOf, pemBlocks, readDer, TAG, type DerNode } from "./der.js";

export const CRL_NUMBER_OID = "2.5.29.20";

export interface CrlInfo {
  /** The CRL Number extension; undefined when the CRL has none. */
  number: bigint | undefined;
  /** Revoked serials, uppercase hex without 0x, no leading zeros ("1A"). */
  revoked: string[];
  /** DER of the issuer Name. */
  issuer: Buffer;
}

/** Parse one DER CertificateList. */
export function parseCrlDer(der: Buffer): CrlInfo {
  const top = children(readDer(der).node);
  const tbs = top[0];
  if (!tbs || tbs.tag !== TAG.SEQUENCE) throw new DerParseError("not a CRL");
  const items = children(tbs);
  let i = 0;
  if (items[i]?.tag === TAG.INTEGER) i++; // version
  i++; // signature algorithm
  const issuer = items[i++];
  if (!issuer || issuer.tag !== TAG.SEQUENCE) throw new DerParseError("CRL without issuer");
  i++; // thisUpdate
  if (items[i]?.tag === TAG.UTC_TIME || items[i]?.tag === TAG.GENERALIZED_TIME) i++; // nextUpdate
  const revoked: string[] = [];
  let number: bigint | undefined;
  for (; i < items.length; i++) {
    const item = items[i] as DerNode;
    if (item.tag === TAG.SEQUENCE) {
      for (const entry of children(item)) {
        const serial = children(entry)[0];
        if (!serial) throw new DerParseError("revoked entry without serial");
        revoked.push(integerOf(serial).toString(16).toUpperCase());
      }
    } else if (item.tag === 0xa0) {
      const exts = children(item)[0];
      if (!exts) continue;
      for (const ext of children(exts)) {
        const parts = children(ext);
        if (parts[0] && oidOf(parts[0]) === CRL_NUMBER_OID) {
          const value = parts[parts.length - 1];
          if (!value || value.tag !== TAG.OCTET_STRING) throw new DerParseError("bad CRL Number extension");
          number = integerOf(readDer(value.content).node);
        }
      }
    }
  }
  return { number, revoked, issuer: Buffer.from(issuer.raw) };
}

/** The DER subject Name of a certificate. */
export function certSubjectDer(certDer: Buffer): Buffer {
  const tbs = children(readDer(certDer).node)[0];
  if (!tbs) throw new DerParseError("not a certificate");
  const items = children(tbs);
  const start = items[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  // serialNumber, signature, issuer, validity, subject
  const subject = items[start + 4];
  if (!subject || subject.tag !== TAG.SEQUENCE) throw new DerParseError("certificate without subject");
  return Buffer.from(subject.raw);
}

/** The CA's own CRL out of ca_crl.pem text, given ca_crt.pem text. Throws with a reason. */
export function caCrlOf(crlPem: string, caCertPem: string): CrlInfo {
  const crls = pemBlocks(crlPem, "X509 CRL");
  if (crls.length === 0) throw new DerParseError("no CRL in the file");
  const cert = pemBlocks(caCertPem, "CERTIFICATE")[0];
  const parsed = crls.map(parseCrlDer);
  if (!cert) return parsed[0] as CrlInfo;
  const subject = certSubjectDer(cert);
  const own = parsed.find((c) => c.issuer.equals(subject));
  if (!own) throw new DerParseError("no CRL in the file is issued by ca_crt.pem's subject");
  return own;
}
