// Output of `fleet run` over the broker: a one-line progress on a TTY, then a table of every node
// (or --json) with a count per state. Pure formatting.
import { FAILURES, type NodeRow, type NodeState } from "./waves.js";
import { formatDurationMs } from "./report.js";

const STATES: NodeState[] = ["ok", "changed", "failed", "refused", "skipped", "no-answer", "not-started"];

export function counts(rows: readonly NodeRow[]): Record<string, number> {
  const c: Record<string, number> = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const r of rows) c[r.state] = (c[r.state] ?? 0) + 1;
  return c;
}

export function failedCount(rows: readonly NodeRow[]): number {
  return rows.filter((r) => FAILURES.has(r.state)).length;
}

function summaryLine(rows: readonly NodeRow[]): string {
  const c = counts(rows);
  return `${rows.length} node(s): ${STATES.map((s) => `${c[s]} ${s}`).join(", ")}`;
}

export function waveTable(rows: readonly NodeRow[]): string {
  const head = ["NODE", "RESULT", "EXIT", "CHANGED", "FAILED", "DURATION", "MESSAGE"];
  const dash = (v: number | null) => (v === null ? "-" : String(v));
  const body = rows.map((r) => [
    r.certname, r.state, dash(r.exitCode), dash(r.changed), dash(r.failed),
    r.durationMs === null ? "-" : formatDurationMs(r.durationMs), r.message.replace(/\s+/g, " ").slice(0, 120),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return [line(head), ...body.map(line), "", summaryLine(rows)].join("\n") + "\n";
}

export function waveJson(rows: readonly NodeRow[], elapsedMs: number): string {
  const results = rows.map((r) => ({
    node: r.certname, result: r.state, exitCode: r.exitCode, outcome: r.outcome, changed: r.changed, failed: r.failed,
    durationMs: r.durationMs, message: r.message,
  }));
  return JSON.stringify({ total: rows.length, counts: counts(rows), failures: failedCount(rows), elapsedMs, results }, null, 2) + "\n";
}

export function progressLine(rows: readonly NodeRow[]): string {
  let asked = 0;
  let running = 0;
  let done = 0;
  let failed = 0;
  for (const r of rows) {
    if (r.state === "asked") asked++;
    else if (r.state === "running") running++;
    else if (r.state !== "pending") done++;
    if (FAILURES.has(r.state)) failed++;
  }
  return `\r\x1b[K${done}/${rows.length} done, ${running} running, ${asked} asked, ${failed} failed`;
}
