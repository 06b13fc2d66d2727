// `puppet-ha twitch -c FILE`: the command's definition only; the trigger server (./run.ts) is
// loaded when the command runs. Nothing of the proxy, sync or health parts is loaded for it.
import type { Command } from "commander";

export function registerTwitchCommand(program: Command): void {
  program
    .command("twitch")
    .description("serve GET|POST /puppet/twitch (trigger a puppet agent run) and GET /puppet/status on this node")
    .option("-c, --config <file>", "config file (default: $PUPPET_HA_CONFIG or /etc/puppet-ha/puppet-ha.yaml)")
    .action(async (opts: { config?: string }) => {
      const { runTwitch } = await import("./run.js");
      await runTwitch(opts);
    });
}
