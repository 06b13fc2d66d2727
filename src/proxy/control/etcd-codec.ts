// How etcd's JSON gateway spells keys, values and revisions: base64 bytes and int64 as strings,
// with proto3's habit of leaving out every field that holds its default (0, false, "").

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The lease the key is bound to ("" when none); a decimal string, IDs exceed 2^53. */
  lease: string;
}

export interface RawKv {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
  lease?: string;
}

export function encode(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

export function decode(b64: string | undefined): string {
  return Buffer.from(b64 ?? "", "base64").toString("utf8");
}

/** The range_end that selects every key starting with `prefix` (its last byte plus one). */
export function rangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] as number) < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = (bytes[i] as number) + 1;
      return end.toString("base64");
    }
  }
  return Buffer.from([0]).toString("base64"); // all 0xff (or empty): to the end of the key space
}

export function decodeKv(kv: RawKv): KeyValue {
  return {
    key: decode(kv.key),
    value: decode(kv.value),
    createRevision: Number(kv.create_revision ?? 0),
    modRevision: Number(kv.mod_revision ?? 0),
    version: Number(kv.version ?? 0),
    lease: kv.lease && kv.lease !== "0" ? kv.lease : "",
  };
}
