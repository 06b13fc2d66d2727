// One request to an Inspector, by name: shared by the worker thread and the in-process scanner.
import type { Inspector } from "./inspect.js";
import type { ScanRequest } from "./scanner.js";

export function callInspector(i: Inspector, msg: ScanRequest): unknown {
  switch (msg.op) {
    case "stageLocal": return i.stageLocal(msg.args[0], msg.args[1], msg.args[2]);
    case "inspect": return i.inspect(msg.args[0]);
    case "verify": return i.verify(msg.args[0], msg.args[1], msg.args[2]);
    case "forget": return i.forget(msg.args[0]);
    case "save": return i.save();
  }
}
