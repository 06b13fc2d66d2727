// Owner of the e2e cluster: starts it, writes its descriptor, runs `node <args>` (the e2e test
// command from scripts/run-tests.mjs) with PUPPET_HA_E2E_CLUSTER set, and ALWAYS tears every
// server down again (normal exit, failure, SIGINT, SIGTERM), exiting with the tests' code.
// Usage: node --import tsx test/e2e/cluster/run-with-cluster.ts <node args...>
//   PUPPET_HA_E2E_FRONTEND=puppet-ha|haproxy (default puppet-ha), PUPPET_HA_E2E_KEEP=1 keeps the
//   temp root, PUPPET_HA_E2E_READY_TIMEOUT_MS bounds each readiness wait (default 300000).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { Cluster } from "../../../src/demo/cluster/cluster.js";
import { startControlServer } from "./control-server.js";
import { DESCRIPTOR_ENV } from "../../../src/demo/cluster/descriptor.js";
import type { FrontEndKind } from "../../../src/demo/cluster/frontend.js";

const t0 = Date.now();
const say = (msg: string) => process.stderr.write(`[e2e-cluster +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

async function main(args: string[]): Promise<number> {
  const started = Date.now();
  const kind = (process.env.PUPPET_HA_E2E_FRONTEND ?? "puppet-ha") as FrontEndKind;
  if (kind !== "haproxy" && kind !== "puppet-ha") {
    say(`PUPPET_HA_E2E_FRONTEND must be haproxy or puppet-ha, not "${String(kind)}"`);
    return 2;
  }
  let cluster: Cluster;
  try {
    cluster = await Cluster.create({
      frontEnd: kind,
      keepRoot: process.env.PUPPET_HA_E2E_KEEP === "1",
      readyTimeoutMs: Number(process.env.PUPPET_HA_E2E_READY_TIMEOUT_MS) || undefined,
      log: say,
    });
  } catch (err) {
    say(`cannot set up the cluster: ${(err as Error).message}`);
    return 1;
  }
  let control: Awaited<ReturnType<typeof startControlServer>> | undefined;
  let child: ReturnType<typeof execa> | undefined;
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    say(`${sig}: stopping the tests and the cluster`);
    stopping = true;
    child?.kill(sig);
    void cluster.stop().finally(() => process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGHUP" ? 1 : 15)));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  try {
    await cluster.start();
    if (stopping) return 130;
    control = await startControlServer(cluster);
    const startupMs = Date.now() - started;
    const descriptorFile = join(cluster.root, "cluster.json");
    await writeFile(descriptorFile, JSON.stringify(cluster.descriptor(control.url, startupMs), null, 2));
    say(`ready in ${(startupMs / 1000).toFixed(1)} s; descriptor ${descriptorFile}`);
    child = execa(process.execPath, args, {
      stdio: "inherit",
      reject: false,
      env: { [DESCRIPTOR_ENV]: descriptorFile },
    });
    const r = await child;
    if (r.exitCode !== 0) cluster.failed = true;
    return r.exitCode ?? 1;
  } catch (err) {
    cluster.failed = true;
    say(`cluster failed: ${(err as Error).message}`);
    return 1;
  } finally {
    await control?.close();
    const t = Date.now();
    await cluster.stop();
    say(`torn down in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`unexpected: ${String(err)}`);
    process.exit(1);
  },
);
