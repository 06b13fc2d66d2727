// The sync worker thread's entry: runs Inspector calls (hashing, parsing, the guard) off the
// event loop of the process that hosts sync (often the proxy). One call at a time, in order.
import { parentPort } from "node:worker_threads";
import { Inspector } from "./inspect.js";
import { callInspector } from "./scan-call.js";
import type { ScanRequest } from "./scanner.js";

const inspector = new Inspector();

parentPort?.on("message", (msg: ScanRequest) => {
  try {
    parentPort?.postMessage({ id: msg.id, ok: true, result: callInspector(inspector, msg) });
  } catch (err) {
    parentPort?.postMessage({ id: msg.id, ok: false, message: (err as Error).message });
  }
});
