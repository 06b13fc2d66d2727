// The `puppet-ha` command line: registers each part's subcommand, and is the one place where
// errors become messages and exit codes (2 for bad input, 1 for failures, never a stack trace).
// Each register* only defines its command; the implementation is imported when the command runs,
// so that `twitch`, idle on every node, does not carry the proxy (test/unit/cli/lazy-commands).
import { Command, CommanderError } from "commander";
import { ConfigError, PuppetHaError } from "./errors.js";
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

/** Exit code and the lines to print on stderr for an error reaching the top. */
export function describeError(err: unknown): { code: number; lines: string[] } {
  if (err instanceof ConfigError) {
    return {
      code: 2,
      lines: [
        `${err.file}: ${err.problems.length} problem(s):`,
        ...err.problems.map((p) => `  ${p.path ? `${p.path}: ` : ""}${p.message}${p.line !== undefined ? ` (line ${p.line})` : ""}`),
      ],
    };
  }
  if (err instanceof PuppetHaError) {
    const userError = ["E_USAGE", "E_FILE"].includes(err.code);
    return { code: userError ? 2 : 1, lines: [`puppet-ha: ${err.message}`] };
  }
  return { code: 1, lines: [`puppet-ha: unexpected error: ${err instanceof Error ? err.message : String(err)}`] };
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; commander already printed its own one-line error otherwise.
      return err.exitCode === 0 ? 0 : 2;
    }
    const { code, lines } = describeError(err);
    process.stderr.write(lines.join("\n") + "\n");
    if (process.env.PUPPET_HA_DEBUG && err instanceof Error) process.stderr.write(`${err.stack ?? ""}\n`);
    return code;
  }
}
