// The guard run before every copy: a pure decision over snapshots of the source (the active CA's
// cadir) and the destination. It allows the copy only when the source is a complete CA dir and the
// destination holds nothing the source lacks; otherwise it says exactly what differs.
import { completenessProblems, formatSerial, type CadirSnapshot } from "./cadir.js";

export type DifferenceKind =
  | "ca-cert" | "ca-key"
  | "inventory-serial" | "inventory-subject" | "inventory-line"
  | "signed-missing" | "signed-differs"
  | "serial" | "serial-unreadable"
  | "crl-number" | "crl-revoked" | "crl-unreadable";

/** One thing the destination has that the source lacks. */
export interface Difference {
  kind: DifferenceKind;
  message: string;
  /** The destination file that holds it (saved aside before anything else happens). */
  path: string;
  serial?: string;
  subject?: string;
  sourceSubject?: string;
  source?: string;
  destination?: string;
}

export type GuardVerdict =
  | { verdict: "copy"; fill: boolean }
  | { verdict: "incomplete-source"; problems: string[] }
  | { verdict: "diverged"; differences: Difference[] };

const hex = (n: bigint) => `0x${formatSerial(n)}`;

export function guard(source: CadirSnapshot, dest: CadirSnapshot): GuardVerdict {
  const problems = completenessProblems(source);
  if (problems.length > 0) return { verdict: "incomplete-source", problems };
  if (!dest.present || dest.manifest.size === 0) return { verdict: "copy", fill: true };
  const differences = [
    ...caFileDifferences(source, dest),
    ...inventoryDifferences(source, dest),
    ...signedDifferences(source, dest),
    ...serialDifferences(source, dest),
    ...crlDifferences(source, dest),
  ];
  return differences.length > 0 ? { verdict: "diverged", differences } : { verdict: "copy", fill: false };
}

function caFileDifferences(source: CadirSnapshot, dest: CadirSnapshot): Difference[] {
  const out: Difference[] = [];
  for (const [path, kind] of [["ca_crt.pem", "ca-cert"], ["ca_key.pem", "ca-key"]] as const) {
    const d = dest.manifest.get(path);
    if (d && d.sha256 !== source.manifest.get(path)?.sha256) {
      out.push({ kind, path, message: `${path} differs: the destination belongs to another CA` });
    }
  }
  return out;
}

function inventoryDifferences(source: CadirSnapshot, dest: CadirSnapshot): Difference[] {
  if (!dest.inventory || dest.inventoryIsSourcePrefix) return [];
  const bySerial = new Map((source.inventory?.entries ?? []).map((e) => [e.serial, e]));
  const out: Difference[] = [];
  for (const e of dest.inventory.entries) {
    const s = bySerial.get(e.serial);
    if (!s) {
      out.push({ kind: "inventory-serial", path: "inventory.txt", serial: hex(e.serial), subject: e.subject, message: `serial ${hex(e.serial)} (${e.subject}) is not in the source inventory` });
    } else if (s.subject !== e.subject) {
      out.push({ kind: "inventory-subject", path: "inventory.txt", serial: hex(e.serial), subject: e.subject, sourceSubject: s.subject, message: `serial ${hex(e.serial)} is ${e.subject} here but ${s.subject} in the source` });
    }
  }
  // The source parsed without problems (else the guard stopped at "incomplete-source"), so no
  // unparseable destination line can be one of its lines.
  for (const p of dest.inventory.problems) {
    out.push({ kind: "inventory-line", path: "inventory.txt", message: `inventory.txt line ${p.line} does not parse and is not in the source: ${JSON.stringify(p.text)}` });
  }
  return out;
}

function signedDifferences(source: CadirSnapshot, dest: CadirSnapshot): Difference[] {
  const out: Difference[] = [];
  for (const [path, d] of dest.manifest) {
    if (!path.startsWith("signed/")) continue;
    const s = source.manifest.get(path);
    if (!s) out.push({ kind: "signed-missing", path, message: `${path} is not in the source` });
    else if (s.sha256 !== d.sha256) out.push({ kind: "signed-differs", path, message: `${path} differs from the source's` });
  }
  return out;
}

function serialDifferences(source: CadirSnapshot, dest: CadirSnapshot): Difference[] {
  if (!dest.manifest.has("serial")) return [];
  if (dest.serial === undefined) {
    if (dest.manifest.get("serial")?.sha256 === source.manifest.get("serial")?.sha256) return [];
    return [{ kind: "serial-unreadable", path: "serial", message: `serial does not parse here (${dest.serialError ?? "?"}) and differs from the source` }];
  }
  const src = source.serial as bigint;
  if (dest.serial > src) {
    return [{ kind: "serial", path: "serial", source: hex(src), destination: hex(dest.serial), message: `next serial ${hex(dest.serial)} is higher than the source's ${hex(src)}` }];
  }
  return [];
}

function crlDifferences(source: CadirSnapshot, dest: CadirSnapshot): Difference[] {
  if (!dest.manifest.has("ca_crl.pem")) return [];
  if (!dest.crl) {
    if (dest.manifest.get("ca_crl.pem")?.sha256 === source.manifest.get("ca_crl.pem")?.sha256) return [];
    return [{ kind: "crl-unreadable", path: "ca_crl.pem", message: `${dest.crlError ?? "ca_crl.pem does not parse"} and differs from the source` }];
  }
  const out: Difference[] = [];
  const src = source.crl?.number ?? 0n;
  if (dest.crl.number !== undefined && dest.crl.number > src) {
    out.push({ kind: "crl-number", path: "ca_crl.pem", source: String(src), destination: String(dest.crl.number), message: `CRL number ${dest.crl.number} is higher than the source's ${src}` });
  }
  const revoked = new Set(source.crl?.revoked ?? []);
  for (const serial of dest.crl.revoked) {
    if (!revoked.has(serial)) {
      out.push({ kind: "crl-revoked", path: "ca_crl.pem", serial: `0x${serial.padStart(4, "0")}`, message: `serial 0x${serial.padStart(4, "0")} is revoked here but not in the source's CRL` });
    }
  }
  return out;
}

/** The destination files to save aside for a set of differences (each once, sorted). */
export function filesToSave(differences: readonly Difference[]): string[] {
  return [...new Set(differences.map((d) => d.path))].sort();
}
