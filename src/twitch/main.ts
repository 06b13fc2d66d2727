// The command line of `puppet-ha twitch` alone. twitch idles on every node, so src/cli.ts sends
// `puppet-ha twitch ...` here: the full CLI would load every command's definition and the demo's
// code (issue 16); test/unit/cli/twitch-entry.test.ts checks what this path loads.
import { Command } from "commander";
import { runProgram } from "../cli-run.js";
import { registerTwitchCommand } from "./command.js";

export function twitchProgram(): Command {
  const program = new Command("puppet-ha").exitOverride().showHelpAfterError(false);
  registerTwitchCommand(program);
  return program;
}

export function twitchMain(argv: string[]): Promise<number> {
  return runProgram(twitchProgram(), argv);
}
