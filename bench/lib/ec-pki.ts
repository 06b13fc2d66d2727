// A Puppet-shaped PKI with EC P-256 keys (Puppet's `key_type = ec`) for the fleet benchmark: ten
// thousand node certificates in seconds, where RSA key generation would take many minutes. DER is
// assembled here by hand (node-forge has no EC certificates); node:crypto generates and signs.
import { X509Certificate, createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";

const len = (n: number) => (n < 128 ? Buffer.from([n]) : n < 256 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 255]));
const tlv = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...p: Buffer[]) => tlv(0x30, ...p);
const set = (...p: Buffer[]) => tlv(0x31, ...p);
const int = (n: bigint) => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let b = Buffer.from(hex, "hex");
  if ((b[0] as number) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
};
const oid = (text: string) => {
  const [a, b, ...rest] = text.split(".").map(Number) as [number, number, ...number[]];
  const bytes = [40 * a + b];
  for (const v of rest) {
    const chunk = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) chunk.unshift((x & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
};
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));
const time = (d: Date) => tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z"));
const bool = tlv(0x01, Buffer.from([0xff]));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));
const name = (cn: string) => seq(set(seq(oid("2.5.4.3"), utf8(cn))));
const ext = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool] : []), octets(value));

export interface EcIssued {
  certname: string;
  certPem: string;
  keyPem: string;
}

function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}

export class EcCa {
  readonly certPem: string;
  readonly keyPem: string;
  readonly #key: KeyObject;
  readonly #ski: Buffer;
  readonly #name: Buffer;
  #serial = 2n;

  constructor(cn: string) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.#key = privateKey;
    this.keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const spki = publicKey.export({ type: "spki", format: "der" });
    this.#ski = createHash("sha1").update(spki).digest();
    this.#name = name(`Puppet CA: ${cn}`);
    const exts = [
      ext("2.5.29.19", true, seq(bool)),
      ext("2.5.29.15", true, bits(Buffer.from([0x06]))),
      ext("2.5.29.14", false, octets(this.#ski)),
    ];
    this.certPem = pem(this.#sign(1n, this.#name, spki, exts, 3650));
  }

  issue(certname: string, o: { ips?: string[]; dns?: string[] } = {}): EcIssued {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = publicKey.export({ type: "spki", format: "der" });
    const exts = [
      ext("2.5.29.19", false, seq()),
      ext("2.5.29.15", true, bits(Buffer.from([0xa0]))),
      ext("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"), oid("1.3.6.1.5.5.7.3.2"))),
      ext("2.5.29.35", false, seq(tlv(0x80, this.#ski))),
    ];
    const sans = [...(o.dns ?? []).map((d) => tlv(0x82, Buffer.from(d))), ...(o.ips ?? []).map((ip) => tlv(0x87, Buffer.from(ip.split(".").map(Number))))];
    if (sans.length > 0) exts.push(ext("2.5.29.17", false, seq(...sans)));
    const der = this.#sign(this.#serial++, name(certname), spki, exts, 365);
    return { certname, certPem: pem(der), keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
  }

  #sign(serial: bigint, subject: Buffer, spki: Buffer, exts: Buffer[], days: number): Buffer {
    const now = Date.now();
    const tbs = seq(
      tlv(0xa0, int(2n)), int(serial), ECDSA_SHA256, this.#name,
      seq(time(new Date(now - 86_400_000)), time(new Date(now + days * 86_400_000))), subject, spki, tlv(0xa3, seq(...exts)),
    );
    return seq(tbs, ECDSA_SHA256, bits(sign("sha256", tbs, this.#key)));
  }
}

/** Self-check used by the benchmark before it relies on the certificates. */
export function checkEcPki(ca: EcCa, leaf: EcIssued): void {
  const c = new X509Certificate(ca.certPem);
  const l = new X509Certificate(leaf.certPem);
  if (!l.checkIssued(c) || !l.verify(c.publicKey)) throw new Error("EC PKI: leaf does not verify against the CA");
}
