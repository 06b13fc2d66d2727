// What an error reaching the top of a command prints and exits with (2 for bad input, 1 for
// failures, never a stack trace); apart from src/cli-run.ts so that twitch's entry needs no commander.
import { ConfigError, PuppetHaError } from "./errors.js";

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
