// A tiny DER reader: just enough ASN.1 to read a CRL's issuer, number and revoked serials and a
// certificate's subject. Node's crypto has no CRL parser and node-forge has none either; running
// `openssl crl` per pass would add a process and a dependency on openssl's output format.

export interface DerNode {
  /** The identifier octet (class, constructed bit, tag number < 31). */
  tag: number;
  /** The whole encoding (header + content), e.g. to compare two Names byte for byte. */
  raw: Buffer;
  content: Buffer;
}

export const TAG = { INTEGER: 0x02, OCTET_STRING: 0x04, OID: 0x06, SEQUENCE: 0x30, UTC_TIME: 0x17, GENERALIZED_TIME: 0x18 } as const;

export class DerParseError extends Error {}

/** Read one DER element at `offset`; returns it and the offset after it. */
export function readDer(buf: Buffer, offset = 0): { node: DerNode; next: number } {
  if (offset + 2 > buf.length) throw new DerParseError("truncated DER header");
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerParseError("multi-byte DER tags are not supported");
  let len = buf[offset + 1] as number;
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerParseError("unsupported DER length");
    if (offset + 2 + n > buf.length) throw new DerParseError("truncated DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[offset + 2 + i] as number);
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new DerParseError("DER element runs past the end");
  return { node: { tag, raw: buf.subarray(offset, end), content: buf.subarray(offset + header, end) }, next: end };
}

/** The child elements of a constructed element. */
export function children(node: DerNode): DerNode[] {
  if (!(node.tag & 0x20)) throw new DerParseError(`DER tag 0x${node.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  let off = 0;
  while (off < node.content.length) {
    const { node: child, next } = readDer(node.content, off);
    out.push(child);
    off = next;
  }
  return out;
}

/** A non-negative INTEGER as a bigint. */
export function integerOf(node: DerNode): bigint {
  if (node.tag !== TAG.INTEGER || node.content.length === 0) throw new DerParseError("expected an INTEGER");
  if ((node.content[0] as number) & 0x80) throw new DerParseError("negative INTEGER");
  return BigInt(`0x${node.content.toString("hex")}`);
}

/** Dotted text of an OBJECT IDENTIFIER. */
export function oidOf(node: DerNode): string {
  if (node.tag !== TAG.OID || node.content.length === 0) throw new DerParseError("expected an OBJECT IDENTIFIER");
  const c = node.content;
  const first = c[0] as number;
  const parts = [Math.min(2, Math.floor(first / 40)), first - Math.min(2, Math.floor(first / 40)) * 40];
  let v = 0;
  for (let i = 1; i < c.length; i++) {
    const b = c[i] as number;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** Every DER body between `-----BEGIN <label>-----` and `-----END <label>-----`, in file order. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, "g");
  return [...text.matchAll(re)].map((m) => Buffer.from((m[1] ?? "").replace(/\s+/g, ""), "base64"));
}
