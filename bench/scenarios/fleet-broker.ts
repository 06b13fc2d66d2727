// Scenario: fleet-broker. 10,000 simulated nodes (own certname and EC key each, 4 processes, runs
// taking 1 s) behind one nats-server: `puppet-ha fleet run -j 1000` time to the last COMPLETE,
// controller CPU and peak memory; the same trigger over the HTTP fan-out (`fleet twitch --wait`
// against 10,000 fake twitch listeners); `fleet status` over the 10,000 status records; idle RSS
// of `puppet-ha twitch` joined to the broker, from dist/ and from the Debian package's bundle
// (scripts/bundle.mjs), beside a bare Node HTTP server.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import type { BenchContext, Row, ScenarioResult } from "../lib/context.js";
import { EcCa, checkEcPki } from "../lib/ec-pki.js";
import { puppetHaCli, repoRoot } from "../lib/frontends.js";
import { freePorts, get, sleep, waitUntil } from "../lib/net.js";
import { rssMb, start, type Proc } from "../lib/procs.js";
import { round } from "../lib/stats.js";
import { connectBroker } from "../../src/twitch/broker/connect.js";
import { bindBucket } from "../../src/twitch/broker/status.js";
import { silentLogger } from "../../src/log.js";

const RUN_MS = 1000;
/** NODE_OPTIONS of deploy/systemd/puppet-ha-twitch.service (what nodes run). */
const UNIT_NODE_OPTIONS = /^Environment="NODE_OPTIONS=([^"]*)"$/m.exec(readFileSync(join(repoRoot, "deploy", "systemd", "puppet-ha-twitch.service"), "utf8"))?.[1] ?? "";
const SIMS = 4;
/** How long the idle processes sit before their RSS is read (past V8's memory reducer). */
const IDLE_MS = 20_000;

interface Timed { seconds: number; cpuSeconds: number; maxRssMb: number; stdout: string; stderr: string; exitCode: number | undefined }

/** utime + stime of a live process, in seconds (clock ticks of 10 ms). */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Run a command under GNU time: wall, user+sys CPU and peak RSS of the process (FLEET_PROF=DIR: and a --cpu-prof profile in DIR). */
async function timed(cmd: string, args: string[], cpu: string): Promise<Timed> {
  const prof = process.env.FLEET_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.FLEET_PROF}`] : [];
  const r = await execa("/usr/bin/time", ["-f", "TIME %e %U %S %M", "taskset", "-c", cpu, cmd, ...prof, ...args], { cwd: repoRoot, reject: false, timeout: 300_000 });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`no timing from /usr/bin/time: ${r.stderr.slice(-500)}`);
  return { seconds: Number(m[1]), cpuSeconds: Number(m[2]) + Number(m[3]), maxRssMb: Number(m[4]) / 1024, stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
}

export async function fleetBroker(ctx: BenchContext): Promise<ScenarioResult> {
  const nodesN = ctx.quick ? 1000 : 10_000;
  const inFlight = ctx.quick ? 100 : 1000;
  const dir = join(ctx.dir, "fleet-broker");
  mkdirSync(join(dir, "js"), { recursive: true });
  const [node, pre] = await puppetHaCli(ctx.log);
  const procs: Proc[] = [];
  try {
    ctx.log(`fleet-broker: ${nodesN} EC node certificates`);
    const ca = new EcCa("fleet-bench");
    const w = (name: string, text: string) => {
      writeFileSync(join(dir, name), text, { mode: 0o600 });
      return join(dir, name);
    };
    const caFile = w("ca.pem", ca.certPem);
    const broker = ca.issue("broker.bench", { ips: ["127.0.0.1"], dns: ["localhost"] });
    const ctl = ca.issue("controller.bench");
    const idle = ca.issue("idle-node.bench");
    const nodes = Array.from({ length: nodesN }, (_, i) => ca.issue(`node${String(i).padStart(5, "0")}.bench`));
    checkEcPki(ca, nodes[0] as (typeof nodes)[number]);
    const [port] = (await freePorts(1)) as [number];
    const conf = w("nats.conf", `listen: "127.0.0.1:${port}"
max_payload: 1048576
max_connections: 1000
tls { cert_file: "${w("broker.pem", broker.certPem)}", key_file: "${w("broker.key", broker.keyPem)}", ca_file: "${caFile}", verify: true, timeout: 5 }
jetstream { store_dir: "${join(dir, "js")}" }
`);
    const nats = start("nats-server", "nats-server", ["-c", conf], { logFile: join(dir, "nats.log") });
    procs.push(nats);
    const url = `tls://127.0.0.1:${port}`;
    const ctlCert = w("controller.pem", ctl.certPem);
    const ctlKey = w("controller.key", ctl.keyPem);
    await waitUntil("nats-server", () => readFileSync(join(dir, "nats.log"), "utf8").includes("Server is ready"), 20_000, () => (nats.alive() ? undefined : "exited"));
    const nc = await connectBroker({ urls: [url], cert: ctlCert, key: ctlKey, ca: caFile, name: "bench" }, silentLogger());
    await bindBucket(nc, "puppet_ha_fleet", true);
    await nc.close();

    // --- simulated nodes
    const per = Math.ceil(nodesN / SIMS);
    for (let s = 0; s < SIMS; s++) {
      const share = nodes.slice(s * per, (s + 1) * per);
      const first = share[0] as (typeof nodes)[number];
      const readyFile = join(dir, `sim-${s}.ready`);
      const spec = w(`sim-${s}.json`, JSON.stringify({
        url, ca: caFile, tlsCert: w(`sim-${s}.pem`, first.certPem), tlsKey: w(`sim-${s}.key`, first.keyPem), nodes: share, runMs: RUN_MS,
        prefix: "puppet-ha.fleet", bucket: "puppet_ha_fleet", allow: ["controller.bench"], readyFile,
      }));
      // Not pinned: the simulated nodes stand for 10,000 machines; the controller's own CPU is measured.
      procs.push(start(`fleet-sim-${s}`, process.execPath, ["--import", "tsx", join(repoRoot, "bench", "lib", "fleet-sim.ts"), spec], { cwd: repoRoot, logFile: join(dir, `sim-${s}.log`) }));
      await waitUntil(`fleet sim ${s}`, () => existsSync(readyFile), 120_000, () => (procs[procs.length - 1]?.alive() ? undefined : "exited"));
    }
    const nodesFile = w("nodes.txt", nodes.map((n) => n.certname).join("\n") + "\n");
    const brokerArgs = ["--broker", url, "--cert", ctlCert, "--key", ctlKey, "--cacert", caFile, "--nodes", nodesFile, "--json"];

    ctx.log(`fleet-broker: fleet run over ${nodesN} nodes, -j ${inFlight}`);
    const others = () => ({ sims: procs.filter((p) => p.name.startsWith("fleet-sim")).reduce((a, p) => a + cpuOf(p.pid), 0), nats: cpuOf(nats.pid) });
    const cpu0 = others();
    const run = await timed(node, [...pre, "fleet", "run", ...brokerArgs, "-j", String(inFlight), "--canary", "0", "--start-timeout", "60s", "--no-progress"], ctx.cpu.frontEnd);
    const runJson = JSON.parse(run.stdout) as { elapsedMs: number; counts: Record<string, number> };
    const cpu1 = others();
    const simCpu = cpu1.sims - cpu0.sims;
    const natsCpu = cpu1.nats - cpu0.nats;
    await sleep(2000); // the last status puts
    ctx.log("fleet-broker: fleet status");
    const status = await timed(node, [...pre, "fleet", "status", ...brokerArgs, "--silent-after", "1h"], ctx.cpu.frontEnd);
    const statusJson = JSON.parse(status.stdout) as { total: number; nodes: { state: string }[] };
    const statusOk = statusJson.nodes.filter((n) => n.state === "ok").length;

    // --- idle RSS: twitch joined to the broker vs a bare Node HTTP server
    const fakePuppet = join(dir, "fake-puppet");
    writeFileSync(fakePuppet, "#!/bin/sh\nexit 0\n");
    chmodSync(fakePuppet, 0o755);
    const [twPort] = (await freePorts(1)) as [number];
    const twCfg = w("twitch.yaml", stringify({
      twitch: {
        listen: `127.0.0.1:${twPort}`,
        puppet: { command: [fakePuppet], runLockFile: join(dir, "run.lock"), disabledLockFile: join(dir, "disabled.lock"), lastRunSummary: join(dir, "last_run_summary.yaml") },
        broker: {
          urls: [url], tls: { cert: w("idle.pem", idle.certPem), key: w("idle.key", idle.keyPem), ca: caFile }, allow: ["controller.bench"],
          factsFile: w("facts.json", JSON.stringify({ os: { family: "Debian" } })),
        },
      },
      log: { level: "info" },
    }));
    const twLog = join(dir, "twitch.log");
    const tw = start("twitch-broker", node, [...pre, "twitch", "-c", twCfg], { cpu: ctx.cpu.frontEnd, cwd: repoRoot, logFile: twLog });
    procs.push(tw);
    await waitUntil("twitch joined the broker", () => existsSync(twLog) && readFileSync(twLog, "utf8").includes("joined the fleet broker"), 30_000, () => (tw.alive() ? undefined : "exited"));
    // The same, with the V8 flags deploy/systemd/puppet-ha-twitch.service sets (what nodes run).
    const unitCfg = w("twitch-unit.yaml", readFileSync(twCfg, "utf8").replace(`127.0.0.1:${twPort}`, `127.0.0.1:${(await freePorts(1))[0]}`));
    const unitLog = join(dir, "twitch-unit.log");
    const unitTw = start("twitch-broker-unit-flags", node, [...pre, "twitch", "-c", unitCfg], { cpu: ctx.cpu.frontEnd, cwd: repoRoot, logFile: unitLog, env: { NODE_OPTIONS: UNIT_NODE_OPTIONS } });
    procs.push(unitTw);
    await waitUntil("twitch (unit flags) joined the broker", () => existsSync(unitLog) && readFileSync(unitLog, "utf8").includes("joined the fleet broker"), 30_000, () => (unitTw.alive() ? undefined : "exited"));
    // The same twitch without its broker section, to show what the broker itself adds.
    const [plainPort] = (await freePorts(1)) as [number];
    const plainCfg = w("twitch-plain.yaml", stringify({
      twitch: {
        listen: `127.0.0.1:${plainPort}`,
        puppet: { command: [fakePuppet], runLockFile: join(dir, "run.lock"), disabledLockFile: join(dir, "disabled.lock"), lastRunSummary: join(dir, "last_run_summary.yaml") },
      },
      log: { level: "info" },
    }));
    const plainLog = join(dir, "twitch-plain.log");
    const plain = start("twitch-plain", node, [...pre, "twitch", "-c", plainCfg], { cpu: ctx.cpu.frontEnd, cwd: repoRoot, logFile: plainLog });
    procs.push(plain);
    await waitUntil("twitch without broker", async () => (await get(`http://127.0.0.1:${plainPort}/puppet/status`, { timeoutMs: 1000 })).status === 200, 30_000, () => (plain.alive() ? undefined : "exited"));
    // The same two from the package's bundle (scripts/bundle.mjs), as /usr/bin/puppet-ha runs it.
    const bundleBin = join(dir, "bundle", "puppet-ha");
    await execa(process.execPath, [join(repoRoot, "scripts", "bundle.mjs"), bundleBin], { cwd: repoRoot });
    const bundleCfg = w("twitch-bundle.yaml", readFileSync(twCfg, "utf8").replace(`127.0.0.1:${twPort}`, `127.0.0.1:${(await freePorts(1))[0]}`));
    const bundleLog = join(dir, "twitch-bundle.log");
    const bundleTw = start("twitch-bundle-broker", process.execPath, [bundleBin, "twitch", "-c", bundleCfg], { cpu: ctx.cpu.frontEnd, cwd: "/", logFile: bundleLog });
    procs.push(bundleTw);
    await waitUntil("twitch (bundle) joined the broker", () => existsSync(bundleLog) && readFileSync(bundleLog, "utf8").includes("joined the fleet broker"), 30_000, () => (bundleTw.alive() ? undefined : "exited"));
    const [bundlePlainPort] = (await freePorts(1)) as [number];
    const bundlePlainCfg = w("twitch-bundle-plain.yaml", readFileSync(plainCfg, "utf8").replace(`127.0.0.1:${plainPort}`, `127.0.0.1:${bundlePlainPort}`));
    const bundlePlain = start("twitch-bundle-plain", process.execPath, [bundleBin, "twitch", "-c", bundlePlainCfg], { cpu: ctx.cpu.frontEnd, cwd: "/", logFile: join(dir, "twitch-bundle-plain.log") });
    procs.push(bundlePlain);
    await waitUntil("twitch (bundle) without broker", async () => (await get(`http://127.0.0.1:${bundlePlainPort}/puppet/status`, { timeoutMs: 1000 })).status === 200, 30_000, () => (bundlePlain.alive() ? undefined : "exited"));
    const bare = start("bare-node-http", process.execPath, ["-e", "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1')"], { cpu: ctx.cpu.frontEnd });
    procs.push(bare);
    // Startup (3 s) and idle: V8's memory reducer runs a few seconds after the allocation rate drops
    // (~8 s) and returns the startup garbage; a node's twitch idles for hours, so the row is the idle
    // figure, sampled once every process has sat idle for IDLE_MS. The startup figures are in the note.
    await sleep(3000);
    const startup = { twitch: rssMb(tw.pid), unit: rssMb(unitTw.pid), plain: rssMb(plain.pid), bundle: rssMb(bundleTw.pid), bundlePlain: rssMb(bundlePlain.pid), bare: rssMb(bare.pid) };
    await sleep(IDLE_MS - 3000);
    const twitchRss = rssMb(tw.pid);
    const unitRss = rssMb(unitTw.pid);
    await unitTw.stop();
    const bundleRss = rssMb(bundleTw.pid);
    const bundlePlainRss = rssMb(bundlePlain.pid);
    await bundleTw.stop();
    await bundlePlain.stop();
    const bareRss = rssMb(bare.pid);
    const plainRss = rssMb(plain.pid);
    await plain.stop();
    await tw.stop();
    await bare.stop();
    await Promise.all(procs.filter((p) => p.name.startsWith("fleet-sim")).map((p) => p.stop()));

    // --- the same trigger over HTTP: fleet twitch --wait against fake twitch listeners
    ctx.log(`fleet-broker: fleet twitch over ${nodesN} HTTP listeners, -j ${inFlight}`);
    const addrFile = w("addresses", Array.from({ length: nodesN }, (_, i) => `127.0.2.${(i % 40) + 1}`).join("\n") + "\n");
    const targets = join(dir, "targets");
    const fake = start("fake-fleet", process.execPath, [ctx.fakes.fleet, String(RUN_MS), addrFile, targets], { cpu: ctx.cpu.load, logFile: join(dir, "fake-fleet.log") });
    procs.push(fake);
    await waitUntil("fake fleet", () => existsSync(targets) && readFileSync(targets, "utf8").split("\n").filter(Boolean).length === nodesN, 60_000, () => (fake.alive() ? undefined : "exited"));
    const http = await timed(node, [...pre, "fleet", "twitch", "-t", targets, "--wait", "-j", String(inFlight), "--json", "--timeout", "60s", "--no-progress"], ctx.cpu.frontEnd);
    let httpOk = NaN;
    try {
      httpOk = (JSON.parse(http.stdout) as { ok: number }).ok;
    } catch {
      // reported as NaN
    }

    const ideal = (nodesN / inFlight) * (RUN_MS / 1000);
    const S = "fleet-broker";
    const rows: Row[] = [
      {
        scenario: S, metric: `fleet run over NATS: ${nodesN} nodes, 1 s runs, -j ${inFlight}: request to last COMPLETE`, unit: "s",
        values: { "puppet-ha": round(runJson.elapsedMs / 1000) }, target: { text: "≤ 15 s, every node ok", pass: runJson.elapsedMs <= 15_000 && run.exitCode === 0 },
        note: `${runJson.counts.ok ?? 0} ok; ideal ${ideal} s; process wall ${round(run.seconds)} s; CPU meanwhile: simulated nodes ${round(simCpu)} s, nats-server ${round(natsCpu)} s`,
      },
      { scenario: S, metric: "fleet run controller CPU (user+sys) / peak RSS", unit: "s", values: { "puppet-ha": round(run.cpuSeconds) }, note: `peak RSS ${round(run.maxRssMb, 1)} MB` },
      {
        scenario: S, metric: `same trigger over HTTP (fleet twitch --wait -j ${inFlight})`, unit: "s", values: { "puppet-ha": round(http.seconds) },
        note: `${httpOk} ok, exit ${http.exitCode}; CPU ${round(http.cpuSeconds)} s, peak RSS ${round(http.maxRssMb, 1)} MB`,
      },
      {
        scenario: S, metric: `fleet status over ${nodesN} nodes`, unit: "s", values: { "puppet-ha": round(status.seconds) },
        note: `${statusOk} ok of ${statusJson.total}; CPU ${round(status.cpuSeconds)} s, peak RSS ${round(status.maxRssMb, 1)} MB`,
      },
      {
        scenario: S, metric: `idle RSS after ${IDLE_MS / 1000} s: puppet-ha twitch joined to the broker (bare Node HTTP server beside it)`, unit: "MB", values: { "puppet-ha": round(twitchRss, 1) },
        target: { text: "≤ 55 MB", pass: twitchRss <= 55 },
        note: `with the systemd unit's V8 flags (${UNIT_NODE_OPTIONS}) ${round(unitRss, 1)} MB; same twitch without broker ${round(plainRss, 1)} MB; bare Node HTTP server ${round(bareRss, 1)} MB; `
          + `3 s after start: ${round(startup.twitch, 1)} / ${round(startup.unit, 1)} / ${round(startup.plain, 1)} / ${round(startup.bare, 1)} MB`,
      },
      {
        scenario: S, metric: `idle RSS after ${IDLE_MS / 1000} s: twitch from the Debian package's bundle (scripts/bundle.mjs) joined to the broker`, unit: "MB", values: { "puppet-ha": round(bundleRss, 1) },
        target: { text: "≤ 55 MB", pass: bundleRss <= 55 },
        note: `same bundle without broker ${round(bundlePlainRss, 1)} MB; from dist/ ${round(twitchRss, 1)} MB; bare Node HTTP server ${round(bareRss, 1)} MB; 3 s after start: ${round(startup.bundle, 1)} / ${round(startup.bundlePlain, 1)} MB`,
      },
    ];
    return {
      name: S, rows,
      data: { nodes: nodesN, inFlight, runMs: RUN_MS, run: { elapsedMs: runJson.elapsedMs, counts: runJson.counts, wall: run.seconds, cpu: run.cpuSeconds, maxRssMb: run.maxRssMb, simCpu, natsCpu }, http: { ok: httpOk, wall: http.seconds, cpu: http.cpuSeconds, maxRssMb: http.maxRssMb, exitCode: http.exitCode }, status: { wall: status.seconds, cpu: status.cpuSeconds, maxRssMb: status.maxRssMb, ok: statusOk, total: statusJson.total }, idleRss: { afterMs: IDLE_MS, twitchBroker: twitchRss, twitchBrokerUnitFlags: unitRss, twitchWithoutBroker: plainRss, bundleBroker: bundleRss, bundleWithoutBroker: bundlePlainRss, bareNode: bareRss, startup } },
      notes: [
        `fleet-broker: ${nodesN} simulated nodes in ${SIMS} processes (the real node-side handler per node, own EC P-256 certificate and key, stand-in runner of ${RUN_MS} ms) and nats-server not pinned; the controller pinned to CPU ${ctx.cpu.frontEnd}. Controller figures from GNU time.`,
      ],
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}
