// `puppet-ha sync -c FILE [--once]`: the command's definition only; the sync agent itself
// (./run.ts, with execa, chokidar, node-cron, express) is loaded when the command runs.
import type { Command } from "commander";

export function registerSyncCommand(program: Command): void {
  program
    .command("sync")
    .description("keep the non-active CA dirs equal to the active one (guarded rsync)")
    .option("-c, --config <file>", "config file (default: $PUPPET_HA_CONFIG or /etc/puppet-ha/puppet-ha.yaml)")
    .option("--once", "one guarded pass per destination, then exit: 0 and silent when in sync, 1 and one line when diverged or failed")
    .action(async (opts: { config?: string; once?: boolean }) => {
      const { runSync } = await import("./run.js");
      await runSync(opts);
    });
}
