// How the proxy reaches the sync agent that writes one CA worker's cadir: the in-process sync
// service (one host) or the `puppet-ha sync` agent on the CA host over its HTTP API. Failback and
// promotion talk only to this interface, so they do not care where the agent runs.
import { readTokenFile } from "../../token.js";
import { PuppetHaError } from "../../errors.js";
import type { SyncDestinationReport } from "../../health/report.js";
import { DivergenceError, FencingError } from "../../sync/errors.js";
import type { Difference } from "../../sync/guard.js";
import type { SerialAdvance } from "../../sync/serial.js";
import type { PassReport, SyncService } from "../../sync/service.js";
import { healthReports, type DestinationStatus } from "../../sync/status.js";

/** A verified pull: the worker's cadir equals the active one's at `epoch`. */
export interface PullResult {
  destination: string;
  epoch: number | null;
  result: string;
  durationMs: number;
  bytes: number;
  manifest?: string;
  files?: number;
}

export interface SyncPeer {
  /** The CA worker whose cadir this agent writes. */
  readonly worker: string;
  /** "in-process" or the agent's URL, for messages. */
  readonly where: string;
  /**
   * Pull the active cadir onto the worker for `epoch` (final: the last pull of a failback, under
   * the write hold). Resolves only when in sync at that epoch; throws DivergenceError (nothing
   * copied), FencingError (older epoch) or SyncPeerError.
   */
  pull(epoch: number, final: boolean, timeoutMs: number): Promise<PullResult>;
  /** Promotion: skip `gap` serials in the worker's cadir, once per epoch. */
  advanceSerial(gap: number, epoch: number, timeoutMs: number): Promise<SerialAdvance>;
  /** The worker's cadir as a sync destination (undefined when the agent does not write it). */
  status(timeoutMs: number): Promise<SyncDestinationReport | undefined>;
}

/** The sync agent could not be reached or answered something unusable. */
export class SyncPeerError extends PuppetHaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("E_SYNC_PEER", message, options);
  }
}

function pullResult(r: PassReport | Record<string, unknown>): PullResult {
  const x = r as unknown as PullResult;
  return {
    destination: x.destination, epoch: x.epoch, result: x.result, durationMs: x.durationMs, bytes: x.bytes,
    ...(x.manifest !== undefined ? { manifest: x.manifest, files: x.files } : {}),
  };
}

/** Bound a promise in time (the work itself may go on; nobody waits for it). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new SyncPeerError(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The sync service running inside the proxy. */
export function localSyncPeer(service: SyncService, worker: string): SyncPeer {
  return {
    worker,
    where: "in-process",
    async pull(epoch, final, timeoutMs) {
      const run = final ? service.finalPull(worker, epoch) : service.pullNow(worker, epoch);
      return pullResult(await within(run, timeoutMs, `${final ? "final pull" : "pull"} into ${worker}`));
    },
    advanceSerial(gap, epoch, timeoutMs) {
      return within(service.advanceSerial(worker, gap, epoch), timeoutMs, `serial advance of ${worker}`);
    },
    status() {
      const d = service.status().destinations[worker];
      return Promise.resolve(d ? healthReports({ [worker]: d })[0] : undefined);
    },
  };
}

/** The `puppet-ha sync` agent on the worker's host (proxy.ca.workers[].sync), with the admin token. */
export function httpSyncPeer(o: { worker: string; url: string; tokenFile: string | undefined }): SyncPeer {
  const call = async (method: "GET" | "POST", path: string, timeoutMs: number): Promise<{ status: number; body: Record<string, unknown> }> => {
    const headers: Record<string, string> = { accept: "application/json" };
    if (o.tokenFile) {
      let token: string;
      try {
        token = readTokenFile(o.tokenFile, "admin token file");
      } catch (cause) {
        throw new SyncPeerError((cause as Error).message, { cause });
      }
      headers.authorization = `Bearer ${token}`;
    }
    let res: Response;
    try {
      res = await fetch(`${o.url}${path}`, { method, headers, signal: AbortSignal.timeout(timeoutMs) });
    } catch (cause) {
      throw new SyncPeerError(`cannot reach the sync agent of ${o.worker} at ${o.url}: ${(cause as Error).message}`, { cause });
    }
    let body: Record<string, unknown>;
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch (cause) {
      throw new SyncPeerError(`the sync agent of ${o.worker} at ${o.url}${path.split("?")[0]} answered HTTP ${res.status} without JSON`, { cause });
    }
    return { status: res.status, body };
  };
  const fail = (path: string, r: { status: number; body: Record<string, unknown> }): never => {
    const e = r.body.error as { code?: string; message?: string; differences?: Difference[]; savedTo?: string } | string | undefined;
    const message = typeof e === "string" ? e : e?.message ?? `HTTP ${r.status}`;
    if (typeof e === "object" && e.code === "E_DIVERGED") throw new DivergenceError(o.worker, e.differences ?? [], e.savedTo);
    if (typeof e === "object" && e.code === "E_FENCED") throw new FencingError(message);
    throw new SyncPeerError(`the sync agent of ${o.worker} at ${o.url}${path.split("?")[0]} answered HTTP ${r.status}: ${message}`);
  };
  const q = encodeURIComponent(o.worker);
  return {
    worker: o.worker,
    where: o.url,
    async pull(epoch, final, timeoutMs) {
      const path = `/pull?destination=${q}&epoch=${epoch}${final ? "&final=1" : ""}`;
      const r = await call("POST", path, timeoutMs);
      return r.status === 200 ? pullResult(r.body) : fail(path, r);
    },
    async advanceSerial(gap, epoch, timeoutMs) {
      const path = `/advance-serial?cadir=${q}&gap=${gap}&epoch=${epoch}`;
      const r = await call("POST", path, timeoutMs);
      return r.status === 200 ? (r.body as unknown as SerialAdvance) : fail(path, r);
    },
    async status(timeoutMs) {
      const r = await call("GET", "/status", timeoutMs);
      if (r.status !== 200) return fail("/status", r);
      const d = (r.body.destinations as Record<string, DestinationStatus> | undefined)?.[o.worker];
      return d ? healthReports({ [o.worker]: d })[0] : undefined;
    },
  };
}
