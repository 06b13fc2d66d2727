// The sync worker thread's entry: runs Inspector calls (hashing, parsing, the guard) off the
// event loop of the process that hosts sync (often the proxy). One call at a time, in order.
import { parentPort } from "node:worker_threads";
import { Inspector } from "./inspect.js";
import type { ScanRequest } from "./scanner.js";

const inspector = new Inspector();

parentPort?.on("message", (msg: ScanRequest) => {
  try {
    parentPort?.postMessage({ id: msg.id, ok: true, result: callInspector(inspector, msg) });
  } catch (err) {
    parentPort?.postMessage({ id: msg.id, ok: false, message: (err as Error).message, stack: (err as Error).stack });
  }
});

/** Dispatch one request (shared with the in-process scanner). */
export function callInspector(i: Inspector, msg: ScanRequest): unknown {
  switch (msg.op) {
    case "statSource": return i.statSource(msg.args[0], msg.args[1]);
    case "inspect": return i.inspect(msg.args[0]);
    case "verify": return i.verify(msg.args[0], msg.args[1], msg.args[2]);
    case "forget": return i.forget(msg.args[0]);
    case "save": return i.save();
  }
}
