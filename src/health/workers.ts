// The workers' part of /health (proxy.workers > 1): their requests, CA writes and connections added
// to the primary's report (the primary forwards nothing itself), one line per worker, and the
// judgement "degraded" while fewer workers serve than configured or one does not answer.
import type { HealthCore } from "./health-status.js";
import type { PoolReport, WorkersReport } from "./report.js";

export interface WorkerSnapshot {
  id: number;
  pid: number;
  /** When it was started (ms since the epoch). */
  since: number;
  listening: boolean;
  appliedEpoch: number;
  caWritesInFlight: number;
  /** Its numbers, when it answered in time. */
  stats?: {
    backends: { pool: "ca" | "masters"; name: string; inFlight: number; requests: number; errors: number }[];
    heldRequests: number;
    connections: number;
  };
}

export interface WorkersSnapshot {
  configured: number;
  restarts: number;
  workers: WorkerSnapshot[];
}

function addBackends(pools: PoolReport[], workers: readonly WorkerSnapshot[]): PoolReport[] {
  return pools.map((p) => ({
    ...p,
    backends: p.backends.map((b) => {
      let { inFlight, requests, errors } = b;
      for (const w of workers) {
        const s = w.stats?.backends.find((x) => x.pool === p.name && x.name === b.name);
        if (!s) continue;
        inFlight += s.inFlight;
        requests += s.requests;
        errors += s.errors;
      }
      return { ...b, inFlight, requests, errors };
    }),
  }));
}

export function workersReport(w: WorkersSnapshot): WorkersReport {
  return {
    configured: w.configured, running: w.workers.filter((x) => x.listening).length, restarts: w.restarts,
    list: w.workers.map((x) => ({
      id: x.id, pid: x.pid, since: new Date(x.since).toISOString(), listening: x.listening, answered: x.stats !== undefined,
      appliedEpoch: x.appliedEpoch, caWritesInFlight: x.caWritesInFlight, connections: x.stats?.connections ?? 0,
    })),
  };
}

/** The primary's judged report with every worker's numbers summed in. */
export function withWorkers(core: HealthCore, w: WorkersSnapshot): HealthCore {
  const report = workersReport(w);
  const held = w.workers.reduce((n, x) => n + (x.stats?.heldRequests ?? 0), 0);
  const reasons: string[] = [];
  if (report.running < w.configured) reasons.push(`${report.running} of ${w.configured} proxy workers serving`);
  const silent = report.list.filter((x) => x.listening && !x.answered).map((x) => x.id);
  if (silent.length > 0) reasons.push(`proxy worker(s) ${silent.join(", ")} did not answer`);
  if (held > 0) reasons.push(`${held} CA write(s) held`);
  const status = core.status === "ok" && reasons.length > 0 ? "degraded" : core.status;
  return {
    ...core, status, reasons: [...core.reasons, ...reasons], pools: addBackends(core.pools, w.workers),
    arbiter: { ...core.arbiter, heldWrites: core.arbiter.heldWrites + held }, workers: report,
  };
}
