// The `puppet-ha` command line: registers each part's subcommand, and is the one place where
// errors become messages and exit codes (2 for bad input, 1 for failures, never a stack trace).
// Each register* only defines its command; the implementation is imported when the command runs,
// so that `twitch`, idle on every node, does not carry the proxy (test/unit/cli/lazy-commands).
import { Command } from "commander";
import { runProgram } from "./cli-run.js";
import { registerConfigCommand } from "./config/command.js";
import { registerProxyCommand } from "./proxy/command.js";
import { registerCheckCommand } from "./health/check-command.js";
import { registerSyncCommand } from "./sync/command.js";
import { registerTwitchCommand } from "./twitch/command.js";
import { registerFleetCommand } from "./twitch/fleet/command.js";
import { registerDemoCommand } from "./demo/command.js";
import { registerAdminCommands } from "./admin-cli/command.js";
import { VERSION } from "./version.js";


export function buildProgram(): Command {
  const program = new Command("puppet-ha")
    .description("High availability for a Puppet CA: TLS front end with CA hot standby, guarded CA sync and failback")
    .version(VERSION, "-V, --version")
    .exitOverride()
    .showHelpAfterError(false);
  registerConfigCommand(program);
  registerProxyCommand(program);
  registerCheckCommand(program);
  registerAdminCommands(program);
  registerSyncCommand(program);
  registerTwitchCommand(program);
  registerFleetCommand(program);
  registerDemoCommand(program);
  return program;
}

export { describeError } from "./cli-run.js";

export async function main(argv: string[]): Promise<number> {
  return runProgram(buildProgram(), argv);
}
