// A test PKI shaped like Puppet's: a CA, leaf certs (with SANs and Puppet extensions such as
// pp_cli_auth), and CRLs with chosen numbers and dates. node-forge builds the certificates;
// CRLs are assembled in ASN.1 by hand because node-forge has no CRL support.
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";

const { asn1, pki } = forge;
const DAY = 86_400_000;

/** Puppet's registered OID for pp_cli_auth (lets a cert use the CA admin API). */
export const PP_CLI_AUTH_OID = "1.3.6.1.4.1.34380.1.3.39";

export interface Issued {
  certname: string;
  certPem: string;
  keyPem: string;
  serialHex: string;
}

export interface TestCa {
  certPem: string;
  keyPem: string;
  /** Issue a leaf cert for a certname. */
  issue(certname: string, opts?: IssueOptions): Issued;
  /** A CRL of this CA revoking the given serials (hex). */
  crl(opts?: CrlOptions): string;
}

export interface IssueOptions {
  sans?: string[];
  ppCliAuth?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  serialHex?: string;
}

export interface CrlOptions {
  revoked?: string[];
  number?: number;
  thisUpdate?: Date;
  nextUpdate?: Date;
}

function newKey(): { pem: string; forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const forgeKey = pki.privateKeyFromPem(pem);
  return { pem, forgeKey, publicKey: pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

/** A CA named like Puppet's ("Puppet CA: <name>"). */
export function createTestCa(name = "puppet-ha-test", opts: { notBefore?: Date; notAfter?: Date } = {}): TestCa {
  const key = newKey();
  const cert = pki.createCertificate();
  cert.publicKey = key.publicKey;
  cert.serialNumber = "01";
  cert.validity.notBefore = opts.notBefore ?? new Date(Date.now() - DAY);
  cert.validity.notAfter = opts.notAfter ?? new Date(Date.now() + 3650 * DAY);
  const subject = [{ name: "commonName", value: `Puppet CA: ${name}` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(key.forgeKey, forge.md.sha256.create());
  let nextSerial = 2;

  return {
    certPem: pki.certificateToPem(cert),
    keyPem: key.pem,
    issue(certname, o = {}) {
      const k = newKey();
      const c = pki.createCertificate();
      c.publicKey = k.publicKey;
      const serialHex = o.serialHex ?? (nextSerial++).toString(16).toUpperCase().padStart(4, "0");
      c.serialNumber = serialHex;
      c.validity.notBefore = o.notBefore ?? new Date(Date.now() - DAY);
      c.validity.notAfter = o.notAfter ?? new Date(Date.now() + 365 * DAY);
      c.setSubject([{ name: "commonName", value: certname }]);
      c.setIssuer(cert.subject.attributes);
      const exts: object[] = [
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
        { name: "extKeyUsage", serverAuth: true, clientAuth: true },
        { name: "authorityKeyIdentifier", keyIdentifier: cert.generateSubjectKeyIdentifier().getBytes() },
      ];
      const sans = o.sans ?? [];
      if (sans.length > 0) {
        exts.push({
          name: "subjectAltName",
          altNames: sans.map((s) => (/^[\d.]+$|:/.test(s) ? { type: 7, ip: s } : { type: 2, value: s })),
        });
      }
      if (o.ppCliAuth) {
        exts.push({ id: PP_CLI_AUTH_OID, value: asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, "true")).getBytes() });
      }
      c.setExtensions(exts);
      c.sign(key.forgeKey, forge.md.sha256.create());
      return { certname, certPem: pki.certificateToPem(c), keyPem: k.pem, serialHex };
    },
    crl(o = {}) {
      return buildCrl(cert, key.forgeKey, o);
    },
  };
}

function integerOf(hex: string): forge.asn1.Asn1 {
  let h = hex.replace(/^0x/i, "");
  if (h.length % 2) h = `0${h}`;
  let bytes = forge.util.hexToBytes(h);
  if (bytes.charCodeAt(0) & 0x80) bytes = `\0${bytes}`;
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, bytes);
}

function time(d: Date): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(d));
}

function buildCrl(ca: forge.pki.Certificate, caKey: forge.pki.rsa.PrivateKey, o: CrlOptions): string {
  const U = asn1.Class.UNIVERSAL;
  const T = asn1.Type;
  const sigAlg = asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.OID, false, asn1.oidToDer(pki.oids.sha256WithRSAEncryption as string).getBytes()),
    asn1.create(U, T.NULL, false, ""),
  ]);
  const thisUpdate = o.thisUpdate ?? new Date(Date.now() - 60_000);
  const nextUpdate = o.nextUpdate ?? new Date(thisUpdate.getTime() + 5 * 365 * DAY);
  const tbs: forge.asn1.Asn1[] = [
    asn1.create(U, T.INTEGER, false, "\x01"),
    sigAlg,
    pki.distinguishedNameToAsn1(ca.subject),
    time(thisUpdate),
    time(nextUpdate),
  ];
  const revoked = o.revoked ?? [];
  if (revoked.length > 0) {
    tbs.push(asn1.create(U, T.SEQUENCE, true, revoked.map((s) => asn1.create(U, T.SEQUENCE, true, [integerOf(s), time(thisUpdate)]))));
  }
  const crlNumber = asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.OID, false, asn1.oidToDer("2.5.29.20").getBytes()),
    asn1.create(U, T.OCTETSTRING, false, asn1.toDer(integerOf((o.number ?? 1).toString(16))).getBytes()),
  ]);
  const aki = asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.OID, false, asn1.oidToDer("2.5.29.35").getBytes()),
    asn1.create(U, T.OCTETSTRING, false, asn1.toDer(asn1.create(U, T.SEQUENCE, true, [
      asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, ca.generateSubjectKeyIdentifier().getBytes()),
    ])).getBytes()),
  ]);
  tbs.push(asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(U, T.SEQUENCE, true, [aki, crlNumber])]));
  const tbsAsn1 = asn1.create(U, T.SEQUENCE, true, tbs);
  const md = forge.md.sha256.create();
  md.update(asn1.toDer(tbsAsn1).getBytes());
  const signature = caKey.sign(md);
  const crl = asn1.create(U, T.SEQUENCE, true, [tbsAsn1, sigAlg, asn1.create(U, T.BITSTRING, false, `\0${signature}`)]);
  const der = asn1.toDer(crl).getBytes();
  const b64 = forge.util.encode64(der).replace(/(.{64})/g, "$1\n");
  return `-----BEGIN X509 CRL-----\n${b64}\n-----END X509 CRL-----\n`;
}

/** Write a CA's files and some issued certs into a directory, Puppet ssldir style names. */
export function writePkiFiles(dir: string, ca: TestCa, issued: Issued[], crlPem = ca.crl()): { ca: string; crl: string } {
  mkdirSync(dir, { recursive: true });
  const caPath = join(dir, "ca.pem");
  const crlPath = join(dir, "crl.pem");
  writeFileSync(caPath, ca.certPem);
  writeFileSync(crlPath, crlPem);
  for (const i of issued) {
    writeFileSync(join(dir, `${i.certname}.pem`), i.certPem);
    writeFileSync(join(dir, `${i.certname}.key`), i.keyPem, { mode: 0o600 });
  }
  return { ca: caPath, crl: crlPath };
}
