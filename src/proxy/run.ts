// What `puppet-ha proxy -c FILE` runs: the balancer, its admin listener and (with a sync section)
// the in-process sync until SIGTERM/SIGINT; SIGHUP reloads the config file (a bad one is logged
// and the running config kept). With proxy.workers > 1 this process is the primary (control plane,
// admin listener) and forks the data-plane workers (./workers/); a worker process runs runWorker.
import cluster from "node:cluster";
import { loadConfigFile } from "../config/load.js";
import { UsageError } from "../errors.js";
import { createLogger } from "../log.js";
import { createAccessLogger } from "./access-log.js";
import { ProxyRuntime } from "./runtime.js";

export async function runProxy(file: string): Promise<void> {
  if (cluster.isWorker) {
    const { runWorker } = await import("./workers/worker.js");
    return runWorker();
  }
  const cfg = loadConfigFile(file);
  if (!cfg.proxy) throw new UsageError(`${file} has no proxy section`);
  const log = createLogger(cfg.log);
  const accessLog = createAccessLogger(cfg.log, log);
  const workers = cfg.proxy.workers > 1 ? new (await import("./workers/primary.js")).WorkerPool({ count: cfg.proxy.workers, log }) : undefined;
  const rt = await ProxyRuntime.start({ config: cfg, log, accessLog, ...(workers ? { plane: workers } : {}) });
  workers?.start(rt, cfg);

  const onHup = () => {
    try {
      const next = loadConfigFile(file);
      if (!next.proxy) throw new UsageError(`${file} has no proxy section`);
      rt.reload(next);
      workers?.reload(next);
      rt.proxy.metrics.operator.configReloaded(true);
      log.level = next.log.level;
      accessLog.level = next.log.level;
    } catch (err) {
      rt.proxy.metrics.operator.configReloaded(false);
      log.error({ err: err instanceof Error ? err.message : String(err), problems: (err as { problems?: unknown }).problems }, "config reload refused; keeping the running config");
    }
  };
  process.on("SIGHUP", onHup);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping: draining in-flight requests");
      process.off("SIGHUP", onHup);
      const grace = cfg.proxy?.timeouts.shutdown ?? 30_000;
      void (workers ? workers.stop(grace) : Promise.resolve()).then(() => rt.stop()).then(() => {
        accessLog.flush();
        resolve();
      });
    };
    // `on`, not `once`: execa's signal-exit handler (installed while an in-process rsync runs)
    // re-raises the signal when no other listener is left, which would kill us mid-pass.
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}
