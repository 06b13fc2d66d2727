// The checker of the cluster chaos test (issue 17, done-means 5): given the history of client
// operations, the writes every CA worker logged (with the epoch the proxy sent) and the final cadirs,
// it lists every violation of the three CA invariants and the run's figures. Pure: no I/O here.

/** One client operation through one proxy, as the client saw it. */
export interface ClientOp {
  client: string;
  proxy: string;
  kind: "csr" | "sign";
  certname: string;
  start: number;
  end: number;
  /** ok: 2xx; fail: a definite refusal (4xx/5xx); unknown: no answer (timeout, reset). */
  result: "ok" | "fail" | "unknown";
  status: number;
  /** Signed: the serial the CA issued (hex, 0x...), the CA that answered, the epoch it was sent at. */
  serial?: string;
  ca?: string;
  epoch?: number;
}

/** A write as a CA worker took it (logged by the CA itself). */
export interface CaWrite {
  ca: string;
  /** X-Puppet-HA-Epoch of the request (undefined: the proxy sent none). */
  epoch: number | undefined;
  at: number;
  kind: "csr" | "sign";
  certname: string;
  serial?: string;
}

export interface Fault {
  at: number;
  kind: string;
  target: string;
}

/** One line of a cadir's inventory.txt. */
export interface InventoryLine {
  serial: string;
  subject: string;
}

export interface FinalCadir {
  name: string;
  inventory: InventoryLine[];
  /** Certnames with a signed/<certname>.pem. */
  signed: ReadonlySet<string>;
}

export interface History {
  ops: readonly ClientOp[];
  writes: readonly CaWrite[];
  faults: readonly Fault[];
  cadirs: readonly FinalCadir[];
  /** The active CA worker after the final failback. */
  finalActive: string;
}

export interface Figures {
  operations: number;
  byResult: Record<string, number>;
  signedSeen: number;
  caWrites: Record<string, number>;
  epochs: number[];
  faults: Record<string, number>;
  violations: number;
}

const norm = (serial: string) => BigInt(serial.startsWith("0x") ? serial : `0x${serial}`).toString(16);
const count = (into: Record<string, number>, key: string) => {
  into[key] = (into[key] ?? 0) + 1;
};

/** Every violation, described (empty when the history is safe). */
export function violations(h: History): string[] {
  return [...duplicateSerials(h), ...lostCertificates(h), ...splitEpochs(h)];
}

/** No serial issued to two different certificates, on any CA, in any final cadir. */
function duplicateSerials(h: History): string[] {
  const subjects = new Map<string, Map<string, string>>(); // serial -> subject -> where first seen
  const note = (serial: string, subject: string, where: string) => {
    const s = norm(serial);
    const m = subjects.get(s) ?? new Map<string, string>();
    subjects.set(s, m);
    if (!m.has(subject)) m.set(subject, where);
  };
  const out: string[] = [];
  for (const w of h.writes) if (w.kind === "sign" && w.serial) note(w.serial, `/CN=${w.certname}`, `${w.ca} at epoch ${w.epoch}`);
  for (const d of h.cadirs) {
    const inOne = new Map<string, number>();
    for (const l of d.inventory) {
      note(l.serial, l.subject, `${d.name}'s inventory`);
      inOne.set(norm(l.serial), (inOne.get(norm(l.serial)) ?? 0) + 1);
    }
    for (const [s, n] of inOne) if (n > 1) out.push(`serial 0x${s} appears ${n} times in ${d.name}'s inventory`);
  }
  for (const [s, m] of subjects) {
    if (m.size > 1) out.push(`serial 0x${s} issued twice: ${[...m].map(([subject, where]) => `${subject} (${where})`).join(", ")}`);
  }
  return out;
}

/** Every certificate a client saw signed is on the final active CA: inventory line and signed/ file. */
function lostCertificates(h: History): string[] {
  const active = h.cadirs.find((d) => d.name === h.finalActive);
  if (!active) return [`the final active CA ${h.finalActive} has no cadir in the history`];
  const lines = new Set(active.inventory.map((l) => `${norm(l.serial)} ${l.subject}`));
  const out: string[] = [];
  for (const op of h.ops) {
    if (op.kind !== "sign" || op.result !== "ok") continue;
    if (!op.serial) {
      out.push(`${op.client} saw ${op.certname} signed through ${op.proxy} without a serial`);
      continue;
    }
    const missing = [
      ...(lines.has(`${norm(op.serial)} /CN=${op.certname}`) ? [] : ["inventory line"]),
      ...(active.signed.has(op.certname) ? [] : ["signed/ file"]),
    ];
    if (missing.length > 0) {
      out.push(`${op.certname} (serial ${op.serial}, signed by ${op.ca ?? "?"} at epoch ${op.epoch ?? "?"}, seen by ${op.client}) lacks its ${missing.join(" and ")} on the final active CA ${h.finalActive}`);
    }
  }
  return out;
}

/** Never two CA workers taking writes in the same epoch; every write carries one. */
function splitEpochs(h: History): string[] {
  const cas = new Map<number, Set<string>>();
  const out: string[] = [];
  for (const w of h.writes) {
    if (w.epoch === undefined) {
      out.push(`${w.ca} took a ${w.kind} of ${w.certname} without an epoch`);
      continue;
    }
    const s = cas.get(w.epoch) ?? new Set<string>();
    cas.set(w.epoch, s);
    s.add(w.ca);
  }
  for (const [epoch, s] of [...cas].sort((a, b) => a[0] - b[0])) {
    if (s.size > 1) out.push(`epoch ${epoch}: writes taken by ${[...s].sort().join(" and ")}`);
  }
  return out;
}

/** The run's figures (what the test prints). */
export function figures(h: History): Figures {
  const byResult: Record<string, number> = {};
  const caWrites: Record<string, number> = {};
  const faults: Record<string, number> = {};
  for (const op of h.ops) count(byResult, `${op.kind} ${op.result}`);
  for (const w of h.writes) count(caWrites, w.ca);
  for (const f of h.faults) count(faults, f.kind);
  const epochs = [...new Set(h.writes.flatMap((w) => (w.epoch === undefined ? [] : [w.epoch])))].sort((a, b) => a - b);
  return {
    operations: h.ops.length, byResult, signedSeen: h.ops.filter((o) => o.kind === "sign" && o.result === "ok").length,
    caWrites, epochs, faults, violations: violations(h).length,
  };
}

/** Parse inventory.txt ("0x0005 <not before> <not after> /CN=name" per line). */
export function parseInventory(text: string): InventoryLine[] {
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => {
    const parts = l.trim().split(/\s+/);
    return { serial: parts[0] ?? "", subject: parts.slice(3).join(" ") };
  });
}
