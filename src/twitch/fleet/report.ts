// Fleet output: a progress bar on stderr (TTY only), a result table or JSON on stdout.
import type { NodeResult } from "./trigger.js";

export function formatDurationMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export function resultTable(results: readonly NodeResult[], waited: boolean): string {
  const head = ["NODE", "STATUS", "OUTCOME", "DURATION", ...(waited ? ["CHANGED", "FAILED"] : []), "MESSAGE"];
  const rows = results.map((r) => [
    r.node,
    r.status === null ? "-" : String(r.status),
    r.outcome,
    formatDurationMs(r.durationMs),
    ...(waited ? [r.changed === null ? "-" : String(r.changed), r.failed === null ? "-" : String(r.failed)] : []),
    r.ok ? "" : r.message.replace(/\s+/g, " ").slice(0, 120),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  const ok = results.filter((r) => r.ok).length;
  return [line(head), ...rows.map(line), "", `${results.length} node(s): ${ok} ok, ${results.length - ok} failed`].join("\n") + "\n";
}

export function resultJson(results: readonly NodeResult[]): string {
  const ok = results.filter((r) => r.ok).length;
  return JSON.stringify({ total: results.length, ok, failed: results.length - ok, results }, null, 2) + "\n";
}

/** `[#####-----] 10/20 ok 9 failed 1`, redrawn in place. */
export class ProgressBar {
  readonly #out: NodeJS.WritableStream;
  readonly #total: number;
  #done = 0;
  #failed = 0;

  constructor(out: NodeJS.WritableStream, total: number) {
    this.#out = out;
    this.#total = total;
    this.#draw();
  }

  tick(ok: boolean): void {
    this.#done++;
    if (!ok) this.#failed++;
    this.#draw();
  }

  end(): void {
    this.#out.write("\r\x1b[K");
  }

  #draw(): void {
    const width = 30;
    const filled = this.#total === 0 ? width : Math.round((this.#done / this.#total) * width);
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    this.#out.write(`\r\x1b[K[${bar}] ${this.#done}/${this.#total} ok ${this.#done - this.#failed} failed ${this.#failed}`);
  }
}
