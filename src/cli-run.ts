// Where errors reaching the top of a commander program become messages and exit codes (the
// mapping itself: ./cli-errors.ts, which twitch's own entry uses without commander).
import { CommanderError, type Command } from "commander";
import { describeError } from "./cli-errors.js";

export { describeError };

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
