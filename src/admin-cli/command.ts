// `puppet-ha ca status|failover|failback`, `puppet-ha backend drain|enable NAME` and
// `puppet-ha ready`: the admin API of a running proxy from the command line, with the admin URL and
// token file read from the config (admin.listen, admin.tokenFile). The client (./run.js) is loaded
// when a command runs.
import type { Command } from "commander";
import type { AdminCliOptions } from "./run.js";

const CONFIG_HELP = "config file with the admin section (default: $PUPPET_HA_CONFIG or /etc/puppet-ha/puppet-ha.yaml)";

function common(cmd: Command, timeout = "10s"): Command {
  return cmd
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--url <url>", "the admin listener (default: from admin.listen; https with admin.tls)")
    .option("--token-file <file>", "the admin token (default: admin.tokenFile)")
    .option("--timeout <duration>", "give up after this long", timeout)
    .option("--json", "print the API's JSON answer");
}

async function run(action: string, opts: AdminCliOptions, name?: string): Promise<void> {
  const { runAdminCommand } = await import("./run.js");
  await runAdminCommand(action, opts, name);
}

export function registerAdminCommands(program: Command): void {
  const ca = program.command("ca").description("the CA state of a running proxy: show it, fail over to a standby, fail back to the primary");
  common(ca.command("status").description("active CA, epoch, failback state and the CA workers' health (GET /api/ca, /health)"))
    .action((o: AdminCliOptions) => run("status", o));
  common(ca.command("failover").description("make the first healthy standby the active CA now (POST /api/ca/failover)"))
    .action((o: AdminCliOptions) => run("failover", o));
  common(ca.command("failback").description("guarded failback to the primary CA: pull, hold writes, switch (POST /api/ca/failback)"), "5m")
    .action((o: AdminCliOptions) => run("failback", o));

  const backend = program.command("backend").description("take a CA worker or compile master out of rotation and back");
  common(backend.command("drain").argument("<name>", "backend name (proxy.ca.workers or proxy.masters.workers)")
    .description("send no new requests to NAME; requests in flight finish (POST /api/backends/NAME/drain)"))
    .action((name: string, o: AdminCliOptions) => run("drain", o, name));
  common(backend.command("enable").argument("<name>", "backend name")
    .description("put a drained backend back into rotation (POST /api/backends/NAME/enable)"))
    .action((name: string, o: AdminCliOptions) => run("enable", o, name));

  program.command("ready")
    .description("wait until the proxy's admin listener answers /health/live (systemd ExecStartPost); exit 1 on timeout")
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--url <url>", "the admin listener (default: from admin.listen)")
    .option("--timeout <duration>", "give up after this long", "60s")
    .action((o: AdminCliOptions) => run("ready", o));
}
