// The report: one Markdown table over every scenario (figures per system, ratios, target and
// PASS/FAIL), the notes under it, and bench/results/latest.json with everything measured.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname } from "node:path";
import type { Row, ScenarioResult } from "./context.js";

const SYSTEMS = [
  "puppet-ha", "haproxy", "haproxy (tuned)", "nginx", "cron rsync", "direct",
  "puppet-ha (1 worker)", "puppet-ha (2 workers)", "puppet-ha (cluster off)", "puppet-ha (cluster on)",
];

function fmt(x: number | undefined): string {
  if (x === undefined) return "";
  if (!Number.isFinite(x)) return "n/a";
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString("en-US");
  return String(Math.round(x * 1000) / 1000);
}

export function machine(): Record<string, unknown> {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? "unknown", cores: c.length, memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version, loadavgAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function markdown(results: ScenarioResult[], mode: string): string {
  const rows = results.flatMap((r) => r.rows);
  const used = SYSTEMS.filter((s) => rows.some((r) => r.values[s] !== undefined));
  const head = ["scenario", "metric", ...used, "ratio", "target", "result"];
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const out = [line(head), line(head.map(() => "---"))];
  for (const r of rows) out.push(line(rowCells(r, used)));
  const notes = results.flatMap((r) => r.notes.map((n) => `- ${r.name}: ${n}`));
  return [`Mode: ${mode}.`, "", ...out, "", ...(notes.length ? ["Notes:", ...notes, ""] : [])].join("\n");
}

function rowCells(r: Row, used: string[]): string[] {
  const ratios = Object.entries(r.ratios ?? {}).map(([k, v]) => `${k} ${fmt(v)}`).join("; ");
  return [
    r.scenario, `${r.metric}${r.unit ? ` (${r.unit})` : ""}${r.note ? ` [${r.note}]` : ""}`,
    ...used.map((s) => fmt(r.values[s])), ratios, r.target?.text ?? "", r.target ? (r.target.pass ? "PASS" : "FAIL") : "",
  ];
}

/**
 * Write latest.json. With `merge` (an --only run), scenarios of the previous file that were not
 * run now are kept, each with the mode and time of the run that measured it.
 */
export function writeJson(file: string, results: ScenarioResult[], mode: string, startedAt: Date, merge: boolean): void {
  mkdirSync(dirname(file), { recursive: true });
  let previous: Record<string, unknown> = {};
  if (merge && existsSync(file)) {
    try {
      previous = (JSON.parse(readFileSync(file, "utf8")) as { scenarios?: Record<string, unknown> }).scenarios ?? {};
    } catch {
      previous = {};
    }
  }
  const at = { mode, startedAt: startedAt.toISOString(), machine: machine() };
  writeFileSync(file, JSON.stringify({
    mode, startedAt: at.startedAt, finishedAt: new Date().toISOString(), machine: at.machine,
    scenarios: { ...previous, ...Object.fromEntries(results.map((r) => [r.name, { ...at, rows: r.rows, notes: r.notes, data: r.data }])) },
  }, null, 2) + "\n");
}
