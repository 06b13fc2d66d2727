// What `puppet-ha sync -c FILE [--once]` runs: the sync agent on a CA host. Long-running by
// default (status API, schedule, watch) until SIGTERM/SIGINT; SIGHUP re-reads the token file and
// logs that other changes need a restart (it must never end the agent). `--once` runs one guarded
// pass per destination for system cron, exit 0 when all are in sync, else exit 1 with one line each.
import type { Server } from "node:http";
import { configPath, loadConfigFile } from "../config/load.js";
import { formatListen } from "../config/units.js";
import { ListenError, PuppetHaError, UsageError } from "../errors.js";
import { createLogger, type Logger } from "../log.js";
import { TokenFile } from "../token.js";
import { createSyncApi } from "./api.js";
import { httpArbiter } from "./arbiter.js";
import { createSyncService } from "./service.js";

/** One line for a failed `--once`. */
export class SyncFailedError extends PuppetHaError {
  constructor(message: string) {
    super("E_SYNC_FAILED", message);
  }
}

export async function runSync(opts: { config?: string; once?: boolean }): Promise<void> {
  const file = configPath(opts.config);
  const cfg = loadConfigFile(file);
  const sync = cfg.sync;
  if (!sync) throw new UsageError(`${file} has no sync section`);
  if (!sync.arbiter) throw new UsageError(`${file}: sync.arbiter is required by puppet-ha sync (the proxy's admin API)`);
  // --once is for system cron, which mails any output: nothing on success, one line on
  // failure; log.level debug or trace still shows the pass logs (on stderr).
  const verbose = cfg.log.level === "debug" || cfg.log.level === "trace";
  const log = opts.once
    ? createLogger({ ...cfg.log, level: verbose ? cfg.log.level : "silent" }, process.stderr)
    : createLogger(cfg.log, process.stdout);
  const service = createSyncService({
    config: sync,
    arbiter: httpArbiter({ url: sync.arbiter.url, ...(sync.arbiter.tokenFile ? { tokenFile: sync.arbiter.tokenFile } : {}) }),
    log,
  });
  if (service.destinations.length === 0) throw new UsageError(`${file}: this agent writes into no cadir (sync.writeInto is empty and no cadir is local)`);

  if (opts.once) {
    const reports = await service.requestPass(undefined, "once");
    await service.stop();
    const failed = reports.filter((r) => !r.ok);
    if (failed.length > 0) {
      throw new SyncFailedError(failed.map((r) => `sync ${r.destination}: ${r.result}: ${(r.error?.message ?? r.result).split("\n")[0]}`).join("; "));
    }
    return;
  }

  const token = new TokenFile(sync.arbiter.tokenFile, { what: "arbiter token file", warn: (m) => log.warn({ part: "sync" }, m) });
  const app = createSyncApi(service, { token });
  // From here on SIGHUP must never end the agent (its default action would).
  const hup = () => reload(token, log);
  process.on("SIGHUP", hup);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(sync.listen.port, sync.listen.host);
    s.once("listening", () => resolve(s));
    s.once("error", (err) => reject(new ListenError(`sync API cannot listen on ${formatListen(sync.listen)}: ${err.message}`, { cause: err })));
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  const addr = server.address();
  log.info({ part: "sync", listen: typeof addr === "object" && addr ? `${addr.address}:${addr.port}` : addr, destinations: service.destinations }, "sync agent started");
  await service.start();
  // `on`, not `once`: execa's signal-exit handler (installed while an rsync runs) re-raises
  // the signal when no other listener is left, which would kill us mid-pass.
  let stop = () => undefined as void;
  const stopped = new Promise<void>((resolve) => {
    stop = () => resolve();
  });
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await stopped;
  process.off("SIGHUP", hup);
  log.info({ part: "sync" }, "stopping");
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await service.stop();
  process.off("SIGTERM", stop);
  process.off("SIGINT", stop);
}

/** SIGHUP: re-read the token file (a bad one is logged and the old token kept). */
function reload(token: TokenFile, log: Logger): void {
  try {
    token.reload();
    log.info({ part: "sync", signal: "SIGHUP" }, "reloaded: re-read the token file; other config changes need a restart");
  } catch (err) {
    log.error({ part: "sync", signal: "SIGHUP", err: (err as Error).message }, "reload: cannot re-read the token file; keeping the old token");
  }
}
