// `puppet-ha fleet twitch`: the command's definition only; ./run.ts does the work when it runs.
import { Option, type Command } from "commander";
import type { FleetCliOptions } from "./run.js";

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerFleetCommand(program: Command): void {
  const fleet = program.command("fleet").description("act on many nodes at once");
  fleet
    .command("twitch")
    .description("trigger puppet runs on many nodes through their twitch; exit 1 when any node failed")
    .option("-t, --targets <file>", "one host[:port] or URL a line, # comments")
    .option("--ca-url <url>", "also target every signed certname of this CA (e.g. https://puppet:8140), needs --cert/--key/--cacert")
    .option("-m, --match <glob>", "only nodes whose name matches (repeatable; * and ?)", collect, [])
    .option("--port <n>", "twitch port for targets given without one", "2023")
    .addOption(new Option("--scheme <scheme>", "scheme for targets given without one (default https with --cert, else http)").choices(["http", "https"]))
    .option("-j, --concurrency <n>", "requests in flight at most", "10")
    .option("--splay", "ask each node to wait a random time (up to its splayMax) before running")
    .option("--wait", "wait for each run to finish (async=false) and report its outcome")
    .option("--noop", "run in noop mode")
    .option("--tags <list>", "comma list of Puppet tags")
    .option("--environment <name>", "Puppet environment")
    .option("--timeout <duration>", "per-node timeout (default 30s, or 35m with --wait)")
    .option("--token-file <file>", "bearer token for the nodes' twitch")
    .option("--cert <file>", "client certificate (mTLS to the nodes and the CA)")
    .option("--key <file>", "client key")
    .option("--cacert <file>", "Puppet CA certificate to verify the nodes and the CA")
    .option("--json", "print the results as JSON")
    .option("--no-progress", "no progress bar (it is shown on a TTY only anyway)")
    .action(async (opts: FleetCliOptions) => {
      const { runFleet } = await import("./run.js");
      await runFleet(opts, { stdout: process.stdout, stderr: process.stderr });
    });
}
