// The command line of `puppet-ha twitch` alone, read by hand: twitch idles on every node, so
// src/cli.ts sends `puppet-ha twitch ...` here, which loads neither commander nor any other
// command (issue 16); test/unit/cli/twitch-entry.test.ts checks what this path loads.
import { describeError } from "../cli-errors.js";
import { UsageError } from "../errors.js";

const HELP = `Usage: puppet-ha twitch [options]

serve GET|POST /puppet/twitch (trigger a puppet agent run) and GET /puppet/status on this node

Options:
  -c, --config <file>  config file (default: $PUPPET_HA_CONFIG or /etc/puppet-ha/puppet-ha.yaml)
  -h, --help           display help for command
`;

/** The options after `twitch`; "help" for -h/--help. Throws UsageError naming a bad argument. */
export function parseTwitchArgs(args: readonly string[]): { config?: string } | "help" {
  const out: { config?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "-h" || a === "--help") return "help";
    let value: string | undefined;
    if (a === "-c" || a === "--config") {
      value = args[++i];
      if (value === undefined) throw new UsageError(`option '${a}' needs a file`);
    } else if (a.startsWith("--config=")) value = a.slice("--config=".length);
    else if (a.startsWith("-c") && a.length > 2) value = a.slice(2);
    else throw new UsageError(a.startsWith("-") ? `unknown option '${a}' (see puppet-ha twitch --help)` : `twitch takes no argument '${a}'`);
    if (value === "") throw new UsageError("option '--config' needs a file");
    out.config = value;
  }
  return out;
}

/** `argv` as process.argv (node, script, "twitch", ...); throws what runTwitch throws. */
export async function twitchEntry(argv: readonly string[], out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const opts = parseTwitchArgs(argv.slice(3));
  if (opts === "help") {
    out.write(HELP);
    return;
  }
  const { runTwitch } = await import("./run.js");
  await runTwitch(opts);
}

export async function twitchMain(argv: string[]): Promise<number> {
  try {
    await twitchEntry(argv);
    return 0;
  } catch (err) {
    const { code, lines } = describeError(err);
    process.stderr.write(lines.join("\n") + "\n");
    if (process.env.PUPPET_HA_DEBUG && err instanceof Error) process.stderr.write(`${err.stack ?? ""}\n`);
    return code;
  }
}
