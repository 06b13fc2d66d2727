// Runs the puppet-ha CLI from source (through tsx) as a child process, for integration tests.
import { execa, type Options } from "execa";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const cliEntry = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));

/** The argument vector that starts the CLI from source: [node, --import, tsx, src/cli.ts]. */
export function cliArgv(): [string, string[]] {
  return [process.execPath, ["--import", "tsx", cliEntry]];
}

export async function runCli(args: string[], options: Options = {}) {
  const [cmd, pre] = cliArgv();
  return execa(cmd, [...pre, ...args], { cwd: repoRoot, reject: false, ...options });
}
