// What `puppet-ha fleet status` does: read every node's status record from the broker's key-value
// bucket, verify each, and list last run time, outcome and counts; flag nodes silent for longer
// than --silent-after and expected certnames (CA or file) that never reported. Exit 1 if any is.
import type { Logger } from "../../log.js";
import { UsageError } from "../../errors.js";
import { parseDuration } from "../../config/units.js";
import { FleetStatusError } from "../broker/errors.js";
import type { StatusRecord } from "../broker/status.js";
import { expectedNodes, resolveBroker, type BrokerCliOptions } from "./broker-options.js";
import type { FleetIo } from "./run.js";

export interface FleetStatusCliOptions extends BrokerCliOptions {
  silentAfter?: string;
  json?: boolean;
}

export interface StatusRow {
  node: string;
  state: "ok" | "silent" | "never-reported" | "failed";
  lastRun: string | null;
  outcome: string | null;
  changed: number | null;
  failed: number | null;
  total: number | null;
  reportedAt: string | null;
  facts: Record<string, string>;
}

/** Pure: records and the expected set into rows, sorted by certname. */
export function statusRows(records: readonly StatusRecord[], expected: readonly string[] | undefined, silentAfterMs: number, now: number): StatusRow[] {
  const rows = new Map<string, StatusRow>();
  for (const r of records) {
    const last = r.lastRun;
    const seen = Math.max(r.published, last?.time ? Date.parse(last.time) : 0);
    rows.set(r.certname, {
      node: r.certname,
      state: now - seen > silentAfterMs ? "silent" : last && last.failed > 0 ? "failed" : "ok",
      lastRun: last?.time ?? null, outcome: last?.outcome ?? null, changed: last?.changed ?? null, failed: last?.failed ?? null,
      total: last?.total ?? null, reportedAt: new Date(r.published).toISOString(), facts: r.facts ?? {},
    });
  }
  for (const n of expected ?? []) {
    if (!rows.has(n)) rows.set(n, { node: n, state: "never-reported", lastRun: null, outcome: null, changed: null, failed: null, total: null, reportedAt: null, facts: {} });
  }
  return [...rows.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

export function statusTable(rows: readonly StatusRow[]): string {
  const head = ["NODE", "STATE", "LAST RUN", "OUTCOME", "CHANGED", "FAILED", "TOTAL", "OS"];
  const dash = (v: string | number | null) => (v === null ? "-" : String(v));
  const body = rows.map((r) => [r.node, r.state, dash(r.lastRun), dash(r.outcome), dash(r.changed), dash(r.failed), dash(r.total), r.facts["os.name"] ?? r.facts["os.family"] ?? "-"]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  const count = (s: StatusRow["state"]) => rows.filter((r) => r.state === s).length;
  return [line(head), ...body.map(line), "", `${rows.length} node(s): ${count("ok")} ok, ${count("failed")} failed, ${count("silent")} silent, ${count("never-reported")} never reported`].join("\n") + "\n";
}

export async function runFleetStatus(o: FleetStatusCliOptions, io: FleetIo, log: Logger): Promise<StatusRow[]> {
  const b = await resolveBroker(o);
  const silentAfterMs = o.silentAfter === undefined ? b.fleet.silentAfter : parseDuration(o.silentAfter);
  if (silentAfterMs === undefined || silentAfterMs <= 0) throw new UsageError(`--silent-after: not a duration: "${o.silentAfter}"`);
  const expected = o.nodes || o.caUrl ? await expectedNodes(o, [], b) : undefined;
  const [{ PuppetTrust }, { connectBroker }, { bindBucket, readAllStatus }] = await Promise.all([
    import("../broker/trust.js"), import("../broker/connect.js"), import("../broker/status.js"),
  ]);
  const trust = PuppetTrust.fromFiles(b.ca, b.crl);
  const nc = await connectBroker({ urls: b.urls, cert: b.cert, key: b.key, ca: b.ca, name: "fleet-status" }, log);
  try {
    const kv = await bindBucket(nc, b.bucket, true);
    const { records, rejected } = await readAllStatus(kv, trust, 1024 * 1024);
    for (const r of rejected) log.warn(r, "status record rejected");
    let rows = statusRows(records, expected, silentAfterMs, Date.now());
    if (o.certname.length > 0) {
      const { matchesAny } = await import("../auth.js");
      rows = rows.filter((r) => matchesAny(r.node, o.certname));
    }
    io.stdout.write(o.json ? JSON.stringify({ total: rows.length, rejected, nodes: rows }, null, 2) + "\n" : statusTable(rows));
    const flagged = rows.filter((r) => r.state !== "ok").length;
    if (flagged > 0) throw new FleetStatusError(flagged, rows.length);
    return rows;
  } finally {
    await nc.close();
  }
}
