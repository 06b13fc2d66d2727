// `puppet-ha check`: a Nagios/Icinga plugin. Its exit codes are the plugin API (0 OK, 1 WARNING,
// 2 CRITICAL, 3 UNKNOWN), so this command never lets an error reach the CLI's own handler (which
// exits 2 for bad input): usage errors are UNKNOWN, printed as a plugin status line.
import { readFileSync } from "node:fs";
import { CommanderError, type Command } from "commander";
import { parseDuration } from "../config/units.js";
import { errnoText } from "../errors.js";
import { classifyReport, fetchReport, formatCheckOutput, healthUrl, PluginState, unknown, type CheckResult } from "./check.js";

interface CheckOptions {
  url: string;
  tokenFile?: string;
  warnDays: string;
  critDays: string;
  maxSyncLag: string;
  timeout: string;
}

function finish(result: CheckResult): void {
  process.stdout.write(formatCheckOutput(result));
  process.exitCode = PluginState[result.state];
}

export async function runCheckCommand(o: CheckOptions): Promise<CheckResult> {
  const warnDays = Number(o.warnDays);
  const critDays = Number(o.critDays);
  const maxSyncLagMs = parseDuration(o.maxSyncLag);
  const timeoutMs = parseDuration(o.timeout);
  if (!Number.isInteger(warnDays) || warnDays < 0) return unknown(`usage: --warn-days must be a whole number of days, not "${o.warnDays}"`);
  if (!Number.isInteger(critDays) || critDays < 0) return unknown(`usage: --crit-days must be a whole number of days, not "${o.critDays}"`);
  if (critDays > warnDays) return unknown(`usage: --crit-days (${critDays}) must not exceed --warn-days (${warnDays})`);
  if (maxSyncLagMs === undefined) return unknown(`usage: --max-sync-lag must be a duration like 2m, not "${o.maxSyncLag}"`);
  if (timeoutMs === undefined || timeoutMs <= 0) return unknown(`usage: --timeout must be a duration like 10s, not "${o.timeout}"`);
  let url: URL;
  try {
    url = healthUrl(o.url);
  } catch {
    return unknown(`usage: --url must be a URL like http://127.0.0.1:8141, not "${o.url}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return unknown(`usage: --url must start with http:// or https://`);
  let token: string | undefined;
  if (o.tokenFile) {
    try {
      token = readFileSync(o.tokenFile, "utf8").trim();
    } catch (err) {
      return unknown(`cannot read token file ${o.tokenFile}: ${errnoText(err) ?? String(err)}`);
    }
  }
  const report = await fetchReport(url, { timeoutMs, ...(token ? { token } : {}) });
  if (typeof report === "string") return unknown(report);
  return classifyReport(report, { warnDays, critDays, maxSyncLagMs }, new Date());
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
      finish(await runCheckCommand(o));
    });
}
