// `puppet-ha proxy -c FILE`: run the balancer and its admin listener until SIGTERM/SIGINT;
// SIGHUP reloads the config file (a bad one is logged and the running config kept).
import type { Command } from "commander";
import type { AddressInfo } from "node:net";
import { configPath, loadConfigFile } from "../config/load.js";
import { UsageError } from "../errors.js";
import { startProxyAdmin, stopProxyAdmin } from "../health/proxy-admin.js";
import { createLogger } from "../log.js";
import { createAccessLogger } from "./access-log.js";
import { ProxyServer } from "./server.js";

export async function runProxy(file: string): Promise<void> {
  const cfg = loadConfigFile(file);
  if (!cfg.proxy) throw new UsageError(`${file} has no proxy section`);
  const log = createLogger(cfg.log);
  const accessLog = createAccessLogger(cfg.log, log);
  const proxy = await ProxyServer.start({ config: cfg.proxy, log, accessLog });
  let admin;
  try {
    admin = await startProxyAdmin(proxy, cfg.admin.listen);
  } catch (err) {
    await proxy.stop(0);
    throw err;
  }
  const a = admin.address() as AddressInfo;
  log.info({ part: "admin", listen: { host: a.address, port: a.port } }, "admin listening");

  const onHup = () => {
    try {
      const next = loadConfigFile(file);
      if (!next.proxy) throw new UsageError(`${file} has no proxy section`);
      proxy.reload(next.proxy);
      log.level = next.log.level;
      accessLog.level = next.log.level;
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err), problems: (err as { problems?: unknown }).problems }, "config reload refused; keeping the running config");
    }
  };
  process.on("SIGHUP", onHup);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping: draining in-flight requests");
      process.off("SIGHUP", onHup);
      void Promise.all([proxy.stop(), stopProxyAdmin(admin)]).then(() => {
        accessLog.flush();
        resolve();
      });
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}

export function registerProxyCommand(program: Command): void {
  program
    .command("proxy")
    .description("run the HTTPS balancer (CA pool with hot standby, compile masters) and its admin listener")
    .option("-c, --config <file>", "config file (default: $PUPPET_HA_CONFIG or /etc/puppet-ha/puppet-ha.yaml)")
    .action(async (opts: { config?: string }) => {
      await runProxy(configPath(opts.config));
    });
}
