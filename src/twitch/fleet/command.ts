// `puppet-ha fleet twitch|run|status|broker-config`: the commands' definitions only; each
// implementation is imported when its command runs.
import { Option, type Command } from "commander";
import type { FleetCliOptions } from "./run.js";
import type { FleetRunCliOptions } from "./broker-run.js";
import type { FleetStatusCliOptions } from "./broker-status.js";
import type { BrokerConfigCliOptions } from "./broker-config.js";

const collect = (v: string, prev: string[]) => [...prev, v];

/** The flags `fleet run` and `fleet status` share: broker, identity, expected nodes. */
function brokerFlags(c: Command): Command {
  return c
    .option("-c, --config <file>", "config file with a fleet section (flags win over it)")
    .option("--broker <url>", "NATS URL, e.g. tls://nats.example.com:4222 (repeatable)", collect, [])
    .option("--cert <file>", "the controller's Puppet certificate (client cert, and signs requests)")
    .option("--key <file>", "the controller's Puppet key")
    .option("--cacert <file>", "Puppet CA certificate (verifies the broker and every reply)")
    .option("--crl <file>", "Puppet CRL (replies signed by revoked certs are rejected)")
    .option("--nodes <file>", "expected nodes: one certname a line, # comments")
    .option("--ca-url <url>", "expected nodes: every signed certname of this CA (e.g. https://puppet:8140)")
    .option("--certname <glob>", "only nodes whose certname matches (repeatable; * and ?)", collect, [])
    .option("--subject-prefix <prefix>", "NATS subject prefix (default puppet-ha.fleet)")
    .option("--bucket <name>", "status key-value bucket (default puppet_ha_fleet)")
    .option("--json", "print the results as JSON");
}

async function controllerLog() {
  const { createLogger } = await import("../../log.js");
  return createLogger({ level: process.env.PUPPET_HA_DEBUG ? "debug" : "warn", format: "text" }, process.stderr);
}

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

  brokerFlags(fleet
    .command("run")
    .argument("[nodes...]", "certnames to run on (default: the expected nodes)")
    .description("trigger puppet runs over the fleet broker (NATS) in waves; exit 1 when any node failed, refused or did not answer"))
    .option("--fact <expr>", "only nodes whose fact matches: os.family=Debian, role=~^web, x!=y, x!~re (repeatable, all must match)", collect, [])
    .option("--class <name>", "only nodes whose last catalog has this class (classes.txt; repeatable)", collect, [])
    .option("--in-environment <name>", "only nodes whose last run was in this environment")
    .option("--canary <n>", "nodes run first, alone; any failure among them stops the wave (default 1)")
    .option("-j, --concurrency <n>", "runs asked or in flight at most (default 100)")
    .option("--max-failures <n>", "stop asking new nodes once more than n failed", "0")
    .option("--start-timeout <duration>", "a node that neither starts nor says NOOP within this is no-answer", "30s")
    .option("--timeout <duration>", "a started run without COMPLETE within this is no-answer", "35m")
    .option("--ttl <duration>", "how long a request stays valid on the nodes", "2m")
    .option("--reask <duration>", "ask a started or asked node again when silent this long (it answers again, never runs twice)", "30s")
    .option("--noop", "run in noop mode")
    .option("--tags <list>", "comma list of Puppet tags")
    .option("--environment <name>", "Puppet environment to run in")
    .option("--splay", "each node waits a random time (up to its splayMax) before running")
    .option("--no-progress", "no progress line (it is shown on a TTY only anyway)")
    .action(async (nodes: string[], opts: FleetRunCliOptions) => {
      const { runFleetBroker } = await import("./broker-run.js");
      await runFleetBroker(nodes, opts, { stdout: process.stdout, stderr: process.stderr }, await controllerLog());
    });

  brokerFlags(fleet
    .command("status")
    .description("every node's last run from the fleet broker's status bucket; exit 1 when a node is silent, failed or never reported"))
    .option("--silent-after <duration>", "flag nodes that have not reported for longer (default 2h)")
    .action(async (opts: FleetStatusCliOptions) => {
      const { runFleetStatus } = await import("./broker-status.js");
      await runFleetStatus(opts, { stdout: process.stdout, stderr: process.stderr }, await controllerLog());
    });

  fleet
    .command("broker-config")
    .description("print (or write) the nats-server config for the fleet: Puppet CA client certs, per-node permissions")
    .option("--cert <file>", "the broker's own Puppet certificate")
    .option("--key <file>", "the broker's own Puppet key")
    .option("--cacert <file>", "Puppet CA certificate (clients must present a cert of it)")
    .option("--controller <certname>", "a certname allowed to send requests and read the fleet (repeatable)", collect, [])
    .option("--nodes <file>", "node certnames, one a line")
    .option("--ca-url <url>", "node certnames: every signed certname of this CA (needs a cert with pp_cli_auth)")
    .option("--listen <host:port>", "where nats-server listens", "0.0.0.0:4222")
    .option("--store-dir <dir>", "JetStream storage directory", "/var/lib/nats/jetstream")
    .option("--subject-prefix <prefix>", "NATS subject prefix", "puppet-ha.fleet")
    .option("--bucket <name>", "status key-value bucket", "puppet_ha_fleet")
    .option("--max-payload <size>", "largest message", "1MiB")
    .option("-o, --output <file>", "write the config here (atomically) instead of stdout")
    .action(async (opts: BrokerConfigCliOptions) => {
      const { runBrokerConfig } = await import("./broker-config.js");
      await runBrokerConfig(opts, { stdout: process.stdout, stderr: process.stderr });
    });
}
