// Where errors reaching the top of a command become messages and exit codes (2 for bad input, 1
// for failures, never a stack trace); shared by the full CLI (main.ts) and twitch's own entry.
import { CommanderError, type Command } from "commander";
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

/** Parse and run; the exit code (errors are printed here, on stderr). */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
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
