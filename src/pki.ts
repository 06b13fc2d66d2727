// The one CRL parser (proxy, sync, health): a tiny DER reader for what Node's crypto does not
// expose (issuer, CRL Number, dates, revoked serials), the choice of the CA's own CRL in a chained
// ca_crl.pem, and the CRL signature check against the CA certificate. node-forge has no CRL
// parser, and running `openssl crl` would add a process and a dependency on its output format.
import { verify, type X509Certificate } from "node:crypto";

interface Tlv {
  tag: number;
  /** Offset of the identifier octet (the element's whole encoding is head..end). */
  head: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset just after the content. */
  end: number;
}

export class DerError extends Error {}

export const CRL_NUMBER_OID = "2.5.29.20";

function readTlv(buf: Buffer, pos: number, limit = buf.length): Tlv {
  if (pos + 2 > limit) throw new DerError("truncated DER");
  const tag = buf[pos] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte DER tags are not supported");
  let len = buf[pos + 1] as number;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new DerError("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] as number);
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new DerError("truncated DER");
  return { tag, head: pos, start, end };
}

/** The children of a constructed TLV. */
function children(buf: Buffer, t: Tlv): Tlv[] {
  if (!(t.tag & 0x20)) throw new DerError(`DER tag 0x${t.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  for (let p = t.start; p < t.end;) {
    const c = readTlv(buf, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

function oidText(b: Buffer): string {
  const parts: number[] = [];
  let v = 0;
  for (const byte of b) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

function timeOf(buf: Buffer, t: Tlv): Date {
  const s = buf.subarray(t.start, t.end).toString("latin1");
  const m = t.tag === 0x17 ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s) : /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s);
  if (!m) throw new DerError(`bad time ${s}`);
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** A serial number as Puppet and Node print it: uppercase hex without leading zeros. */
export function normalizeSerial(hex: string): string {
  const s = hex.replace(/^0x/i, "").replace(/:/g, "").toUpperCase().replace(/^0+/, "");
  return s === "" ? "0" : s;
}

/** A non-negative INTEGER as uppercase hex without leading zeros. */
function integerHex(buf: Buffer, t: Tlv): string {
  if (t.tag !== 0x02 || t.end === t.start) throw new DerError("expected an INTEGER");
  if ((buf[t.start] as number) & 0x80) throw new DerError("negative INTEGER");
  return normalizeSerial(buf.subarray(t.start, t.end).toString("hex"));
}

export interface CrlInfo {
  /** CRL Number (2.5.29.20), or undefined when the CRL has none. */
  number: bigint | undefined;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** Revoked serials, normalised with normalizeSerial ("1A", never "001a"). */
  revoked: ReadonlySet<string>;
  /** DER of the issuer Name, to compare with a CA certificate's subject byte for byte. */
  issuer: Buffer;
  der: Buffer;
  tbs: Buffer;
  signatureOid: string;
  signature: Buffer;
}

/** Every DER body between `-----BEGIN <label>-----` and `-----END <label>-----`, in file order. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, "g");
  return [...text.matchAll(re)].map((m) => Buffer.from((m[1] ?? "").replace(/\s+/g, ""), "base64"));
}

/** The DER of the first PEM block with the given label (default any). */
export function pemToDer(pem: string, label = "[A-Z0-9 ]+"): Buffer {
  const m = new RegExp(`-----BEGIN (${label})-----([^-]+)-----END \\1-----`).exec(pem);
  if (!m) throw new DerError("no PEM block found");
  return Buffer.from((m[2] as string).replace(/\s+/g, ""), "base64");
}

/** Parse an X.509 CRL (PEM: the first CRL of the file, or DER). Throws DerError when it is not one. */
export function parseCrl(input: string | Buffer): CrlInfo {
  const der = typeof input === "string" ? pemToDer(input, "X509 CRL") : input;
  const outer = readTlv(der, 0);
  if (outer.tag !== 0x30) throw new DerError("not a CRL");
  const [tbsT, algT, sigT] = children(der, outer);
  if (!tbsT || !algT || !sigT || tbsT.tag !== 0x30 || sigT.tag !== 0x03) throw new DerError("not a CRL");
  const fields = children(der, tbsT);
  let i = 0;
  if (fields[i]?.tag === 0x02) i++; // version
  i++; // signature algorithm
  const issuerT = fields[i++];
  if (!issuerT || issuerT.tag !== 0x30) throw new DerError("CRL without issuer");
  const thisT = fields[i++];
  if (!thisT || (thisT.tag !== 0x17 && thisT.tag !== 0x18)) throw new DerError("CRL without thisUpdate");
  let nextUpdate: Date | undefined;
  const maybeNext = fields[i];
  if (maybeNext && (maybeNext.tag === 0x17 || maybeNext.tag === 0x18)) {
    nextUpdate = timeOf(der, maybeNext);
    i++;
  }
  const revoked = new Set<string>();
  if (fields[i]?.tag === 0x30) {
    for (const entry of children(der, fields[i] as Tlv)) {
      const serial = children(der, entry)[0];
      if (!serial) throw new DerError("revoked entry without serial");
      revoked.add(integerHex(der, serial));
    }
    i++;
  }
  let number: bigint | undefined;
  const extsWrap = fields[i];
  if (extsWrap?.tag === 0xa0) {
    const exts = children(der, extsWrap)[0];
    for (const ext of exts ? children(der, exts) : []) {
      const parts = children(der, ext);
      const oid = parts[0];
      const value = parts[parts.length - 1];
      if (oid?.tag === 0x06 && oidText(der.subarray(oid.start, oid.end)) === CRL_NUMBER_OID) {
        if (!value || value.tag !== 0x04) throw new DerError("bad CRL Number extension");
        number = BigInt(`0x${integerHex(der, readTlv(der, value.start, value.end))}`);
      }
    }
  }
  const algOid = children(der, algT)[0];
  return {
    number,
    thisUpdate: timeOf(der, thisT),
    nextUpdate,
    revoked,
    issuer: Buffer.from(der.subarray(issuerT.head, issuerT.end)),
    der,
    // The tbs TLV is the outer SEQUENCE's first child, so its header starts at outer.start.
    tbs: der.subarray(outer.start, tbsT.end),
    signatureOid: algOid ? oidText(der.subarray(algOid.start, algOid.end)) : "",
    signature: der.subarray(sigT.start + 1, sigT.end),
  };
}

/** The DER subject Name of a certificate. */
export function certSubjectDer(certDer: Buffer): Buffer {
  const outer = readTlv(certDer, 0);
  const tbs = children(certDer, outer)[0];
  if (!tbs || tbs.tag !== 0x30) throw new DerError("not a certificate");
  const items = children(certDer, tbs);
  const start = items[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  // serialNumber, signature, issuer, validity, subject
  const subject = items[start + 4];
  if (!subject || subject.tag !== 0x30) throw new DerError("certificate without subject");
  return Buffer.from(certDer.subarray(subject.head, subject.end));
}

/**
 * The CA's own CRL out of ca_crl.pem text, given ca_crt.pem text. Throws DerError with a reason.
 *
 * ca_crl.pem may hold a chain (Puppet with an intermediate CA: the CA's own CRL, then the CRLs of
 * the CAs above it). puppetserver's revoke-existing-certs! reads it as
 * `[our-full-crl & rest-of-full-chain] (pem->crls cacrl)` and rewrites only the first. We take
 * the first CRL whose issuer equals ca_crt.pem's subject (which is the first one in every file
 * Puppet writes), and refuse the file when none does.
 */
export function caCrlOf(crlPem: string, caCertPem: string): CrlInfo {
  const crls = pemBlocks(crlPem, "X509 CRL");
  if (crls.length === 0) throw new DerError("no CRL in the file");
  const parsed = crls.map((der) => parseCrl(der));
  const cert = pemBlocks(caCertPem, "CERTIFICATE")[0];
  if (!cert) return parsed[0] as CrlInfo;
  const subject = certSubjectDer(cert);
  const own = parsed.find((c) => c.issuer.equals(subject));
  if (!own) throw new DerError("no CRL in the file is issued by ca_crt.pem's subject");
  return own;
}

const HASH_OF: Record<string, string> = {
  "1.2.840.113549.1.1.5": "sha1",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
};

/** True when the CRL is signed by this CA certificate's key. */
export function crlSignedBy(crl: CrlInfo, ca: X509Certificate): boolean {
  const hash = HASH_OF[crl.signatureOid];
  if (!hash) return false;
  try {
    return verify(hash, crl.tbs, ca.publicKey, crl.signature);
  } catch {
    return false;
  }
}

/** Every PEM certificate block in a bundle. */
export function splitPemCerts(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
}
