// Entry point of the `puppet-ha` command (bin/puppet-ha.js runs the compiled copy of this file).
// Long-running commands (proxy, sync, twitch) keep the process alive and set the exit code on
// shutdown; short ones set it here. `puppet-ha twitch` builds only its own command line.
// In the bundle (scripts/bundle.mjs) this is also the sync scan worker thread's entry (src/sync/scanner.ts).
import { isMainThread, workerData } from "node:worker_threads";

const scanWorker = !isMainThread && (workerData as { puppetHaWorker?: unknown } | null)?.puppetHaWorker === "scan";
const entry = scanWorker
  ? import("./sync/scan-worker.js").then(() => () => Promise.resolve(0))
  : process.argv[2] === "twitch"
  ? import("./twitch/main.js").then((m) => m.twitchMain)
  : import("./main.js").then((m) => m.main);

entry.then((main) => main(process.argv)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`puppet-ha: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
