// `puppet-ha proxy -c FILE`: the command's definition only; its implementation (./run.ts, with
// its upstream client, prom-client...) is loaded when the command runs, so that other
// commands (twitch on every node) do not carry it.
import type { Command } from "commander";

export function registerProxyCommand(program: Command): void {
  program
    .command("proxy")
    .description("run the HTTPS balancer (CA pool with hot standby, compile masters), its admin listener and in-process sync")
    .option("-c, --config <file>", "config file (default: $PUPPET_HA_CONFIG or /etc/puppet-ha/puppet-ha.yaml)")
    .action(async (opts: { config?: string }) => {
      const { configPath } = await import("../config/load.js");
      const { runProxy } = await import("./run.js");
      await runProxy(configPath(opts.config));
    });
}
