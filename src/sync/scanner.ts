// The event-loop side of the sync worker thread: typed calls into an Inspector that runs in a
// worker_threads Worker, so that hashing and parsing 100,000 files never stalls the proxy. The
// worker starts on the first call and is unref'ed while idle (it never keeps a process alive).
import { Worker } from "node:worker_threads";
import { CadirError } from "./errors.js";
import type { Dirty, InspectRequest, InspectResult, Inspector, TreeRef, VerifyResult } from "./inspect.js";
import { callInspector } from "./scan-call.js";
import { BUNDLED, bundleEntry } from "../version.js";

/** workerData that makes src/cli.ts run the scan worker instead of the command (the bundle). */
export const SCAN_WORKER = { puppetHaWorker: "scan" } as const;

type Ops = {
  stageLocal: { args: [TreeRef, string, Dirty]; result: ReturnType<Inspector["stageLocal"]> };
  inspect: { args: [InspectRequest]; result: InspectResult };
  verify: { args: [TreeRef, TreeRef, readonly string[]]; result: VerifyResult };
  forget: { args: [Pick<TreeRef, "cache">]; result: void };
  save: { args: []; result: void };
};

export type ScanRequest = { [K in keyof Ops]: { id: number; op: K; args: Ops[K]["args"] } }[keyof Ops];

export interface Scanner {
  call<K extends keyof Ops>(op: K, ...args: Ops[K]["args"]): Promise<Ops[K]["result"]>;
  close(): Promise<void>;
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  message?: string;
}

/** Run the Inspector in a worker thread (from source under tsx, the worker registers tsx itself). */
export function workerScanner(): Scanner {
  let worker: Worker | undefined;
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  const failAll = (err: Error) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
    worker = undefined;
  };
  const start = (): Worker => {
    const fromSource = import.meta.url.endsWith(".ts");
    const entry = new URL(fromSource ? "./scan-worker.ts" : "./scan-worker.js", import.meta.url);
    // The bundle has no scan-worker.js beside it: the worker runs the bundle's entry (src/cli.ts).
    const w = BUNDLED
      ? new Worker(bundleEntry(), { workerData: SCAN_WORKER })
      : fromSource
        ? new Worker(`import { register } from "tsx/esm/api"; register(); await import(${JSON.stringify(entry.href)});`, { eval: true })
        : new Worker(entry);
    w.on("message", (m: Reply) => {
      const p = waiting.get(m.id);
      waiting.delete(m.id);
      if (waiting.size === 0) w.unref();
      if (!p) return;
      if (m.ok) p.resolve(m.result);
      else p.reject(new CadirError(`sync worker: ${m.message ?? "failed"}`));
    });
    w.on("error", (err) => failAll(new CadirError(`sync worker crashed: ${err.message}`, { cause: err })));
    w.on("exit", (code) => failAll(new CadirError(`sync worker exited (${code})`)));
    return w;
  };
  return {
    call(op, ...args) {
      worker ??= start();
      worker.ref();
      const id = nextId++;
      const w = worker;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        w.postMessage({ id, op, args });
      });
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}

/** Run an Inspector on this thread (tests that inject its clock; tools with no event loop to protect). */
export function inProcessScanner(inspector: Inspector): Scanner {
  let id = 0;
  return {
    call(op, ...args) {
      try {
        return Promise.resolve(callInspector(inspector, { id: ++id, op, args } as ScanRequest) as never);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
    close: () => Promise.resolve(),
  };
}
