// What the guard knows of a cadir: a manifest (path, size, sha256) of every file, and the parsed
// serial, inventory.txt, ca_crl.pem, ca_crt.pem/ca_key.pem. Pure: the manifest and file contents
// come from the caller (tree.ts and snapshot.ts in the sync worker, file maps in tests).
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { caCrlOf, type CrlInfo } from "../pki.js";

export interface InventoryEntry {
  serial: bigint;
  /** As written in the file: "0x0005". */
  serialText: string;
  notBefore: string;
  notAfter: string;
  subject: string;
  line: number;
}

export interface InventoryProblem {
  line: number;
  text: string;
  reason: string;
}

export interface Inventory {
  entries: InventoryEntry[];
  problems: InventoryProblem[];
}

const INVENTORY_LINE = /^0x([0-9A-Fa-f]+) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dUTC) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dUTC) (\/\S.*)$/;

/** Parse inventory.txt: "0x0005 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC /CN=smoke-1". */
export function parseInventory(text: string): Inventory {
  const entries: InventoryEntry[] = [];
  const problems: InventoryProblem[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") return;
    const m = INVENTORY_LINE.exec(line);
    if (!m) {
      problems.push({ line: i + 1, text: line, reason: "not \"0xSERIAL NOTBEFORE NOTAFTER /SUBJECT\"" });
      return;
    }
    entries.push({ serial: BigInt(`0x${m[1]}`), serialText: `0x${m[1]}`, notBefore: m[2] as string, notAfter: m[3] as string, subject: m[4] as string, line: i + 1 });
  });
  return { entries, problems };
}

/** Parse `serial` (the NEXT serial, hex; Puppet writes no newline, older versions one). */
export function parseSerial(text: string): bigint {
  const t = text.replace(/\r?\n$/, "");
  if (!/^[0-9A-Fa-f]+$/.test(t)) throw new Error(`serial is not hex: ${JSON.stringify(t.slice(0, 40))}`);
  return BigInt(`0x${t}`);
}

/** The `serial` file text for a value: uppercase hex, at least 4 digits, no trailing newline. */
export function formatSerial(value: bigint): string {
  return value.toString(16).toUpperCase().padStart(4, "0");
}

export interface ManifestEntry {
  size: number;
  sha256: string;
}

export type Manifest = ReadonlyMap<string, ManifestEntry>;

export interface CadirSnapshot {
  /** How the dir was named in the config (path or host:path). */
  location: string;
  /** False when the directory does not exist. */
  present: boolean;
  manifest: Manifest;
  serial?: bigint;
  serialError?: string;
  /** Parsed inventory.txt. The incremental path parses only appended lines: `entries` may then be partial. */
  inventory?: Inventory;
  /**
   * Set on a destination by the incremental path: its inventory.txt is byte for byte a prefix of
   * the source's ending at a line end, so every line it has is a source line (no line-by-line check).
   */
  inventoryIsSourcePrefix?: boolean;
  crl?: CrlInfo;
  crlError?: string;
  caCertError?: string;
  caKeyError?: string;
  /** signed/*.pem files that are not one parseable certificate (e.g. caught mid-write). */
  badSigned?: string[];
}

/** What a snapshot is made of: the manifest, a reader for the few small files parsed, and cert checks. */
export interface CadirParts {
  location: string;
  present: boolean;
  manifest: Manifest;
  read: (path: string) => Buffer | undefined;
  /** Whether signed/<path> is one parseable certificate. */
  isCert: (path: string) => boolean;
  /** An inventory already parsed (incrementally); otherwise inventory.txt is read and parsed whole. */
  inventory?: Inventory;
}

export const REQUIRED_FILES = ["ca_crt.pem", "ca_key.pem", "ca_crl.pem", "serial", "inventory.txt"] as const;

/**
 * Names of files in flight: rsync's --delay-updates dir and `.name.XXXXXX` temp files, and
 * puppetserver's own atomic-write temp files `<name><digits>tmp` (Java File.createTempFile, e.g.
 * `serial4722710060100920021tmp`, `signed/node1.pem6035182597211263242tmp`). A pass that staged
 * one of those while the CA was writing must not later see it as a file only the destination has
 * (a false divergence, seen in the e2e burst test).
 */
export function isTransient(path: string): boolean {
  return path.split("/").some(isTransientName);
}

/** One path segment of isTransient. */
export function isTransientName(seg: string): boolean {
  return seg === ".~tmp~" || /^\..+\.[A-Za-z0-9]{6}$/.test(seg) || /^.+\d+tmp$/.test(seg);
}

export function manifestOf(files: ReadonlyMap<string, Buffer>): Manifest {
  const m = new Map<string, ManifestEntry>();
  for (const [path, data] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    m.set(path, { size: data.length, sha256: createHash("sha256").update(data).digest("hex") });
  }
  return m;
}

/** Parse a cadir from its files (relative path → content), e.g. in tests. Never throws. */
export function snapshotOf(location: string, files: ReadonlyMap<string, Buffer>, present = true): CadirSnapshot {
  return describeCadir({ location, present, manifest: manifestOf(files), read: (p) => files.get(p), isCert: (p) => parsesAsCert(files.get(p) as Buffer) });
}

/** Parse the small files of a cadir (serial, CA cert and key, CRL) and gather problems. Never throws. */
export function describeCadir(parts: CadirParts): CadirSnapshot {
  const { location, present, manifest } = parts;
  const snap: CadirSnapshot = { location, present, manifest };
  const text = (p: string) => (manifest.has(p) ? parts.read(p)?.toString("utf8") : undefined);
  const serial = text("serial");
  if (serial !== undefined) {
    try {
      snap.serial = parseSerial(serial);
    } catch (err) {
      snap.serialError = (err as Error).message;
    }
  }
  if (parts.inventory) snap.inventory = parts.inventory;
  else {
    const inventory = text("inventory.txt");
    if (inventory !== undefined) snap.inventory = parseInventory(inventory);
  }
  const cert = text("ca_crt.pem");
  if (cert !== undefined) {
    try {
      new X509Certificate(cert);
    } catch (err) {
      snap.caCertError = `ca_crt.pem does not parse: ${(err as Error).message}`;
    }
  }
  const key = text("ca_key.pem");
  if (key !== undefined) {
    try {
      createPrivateKey(key);
    } catch (err) {
      snap.caKeyError = `ca_key.pem does not parse: ${(err as Error).message}`;
    }
  }
  const badSigned = [...manifest.keys()].filter((p) => p.startsWith("signed/") && !parts.isCert(p));
  if (badSigned.length > 0) snap.badSigned = badSigned;
  const crl = text("ca_crl.pem");
  if (crl !== undefined) {
    try {
      snap.crl = caCrlOf(crl, cert ?? "");
    } catch (err) {
      snap.crlError = `ca_crl.pem does not parse: ${(err as Error).message}`;
    }
  }
  return snap;
}

export function parsesAsCert(pem: Buffer): boolean {
  try {
    new X509Certificate(pem);
    return /-----END CERTIFICATE-----\s*$/.test(pem.toString("latin1"));
  } catch {
    return false;
  }
}

/** Why a snapshot is not a complete CA dir (empty list: complete). */
export function completenessProblems(s: CadirSnapshot): string[] {
  if (!s.present) return ["the directory does not exist"];
  const out: string[] = REQUIRED_FILES.filter((f) => !s.manifest.has(f)).map((f) => `${f} is missing`);
  for (const e of [s.caCertError, s.caKeyError, s.crlError]) if (e) out.push(e);
  if (s.serialError) out.push(s.serialError);
  if (s.crl && s.crl.number === undefined) out.push("ca_crl.pem has no CRL Number");
  for (const p of s.badSigned ?? []) out.push(`${p} is not a certificate`);
  for (const p of s.inventory?.problems ?? []) out.push(`inventory.txt line ${p.line} does not parse: ${JSON.stringify(p.text)}`);
  return out;
}
