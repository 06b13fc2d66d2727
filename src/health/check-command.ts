// `puppet-ha check`: a Nagios/Icinga plugin. Its exit codes are the plugin API (0 OK, 1 WARNING,
// 2 CRITICAL, 3 UNKNOWN), so this command never lets an error reach the CLI's own handler (which
// exits 2 for bad input): usage errors are UNKNOWN, printed as a plugin status line. The plugin
// logic (./check.ts) is loaded when the command runs.
import { CommanderError, type Command } from "commander";
import type { CheckOptions } from "./check.js";
import { formatCheckOutput, PluginState, unknown, type CheckResult } from "./plugin-output.js";

function finish(result: CheckResult): void {
  process.stdout.write(formatCheckOutput(result));
  process.exitCode = PluginState[result.state];
}

export function registerCheckCommand(program: Command): void {
  let usageError = "";
  program
    .command("check")
    .description("Nagios/Icinga plugin: judge a running proxy's /health (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, with perfdata)")
    .option("--url <url>", "the proxy's admin listener", "http://127.0.0.1:8141")
    .option("--token-file <file>", "send this bearer token (when /health sits behind authentication)")
    .option("--warn-days <days>", "WARNING when the CA cert or CRL expires within this many days", "30")
    .option("--crit-days <days>", "CRITICAL when the CA cert or CRL expires within this many days", "7")
    .option("--max-sync-lag <duration>", "WARNING when a sync destination lags more than this", "2m")
    .option("--timeout <duration>", "UNKNOWN when there is no answer within this", "10s")
    .configureOutput({ outputError: (text) => (usageError = text.trim().replace(/^error: /, "")) })
    .exitOverride((err) => {
      if (err.exitCode === 0) throw err; // --help
      finish(unknown(`usage: ${usageError || err.message}`));
      // Exit code 0 tells the CLI's handler that this command already reported; the process still
      // exits with the UNKNOWN code set just above.
      throw new CommanderError(0, "puppet-ha.check.usage", err.message);
    })
    .action(async (o: CheckOptions) => {
      const { runCheckCommand } = await import("./check.js");
      finish(await runCheckCommand(o));
    });
}
