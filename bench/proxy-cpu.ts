// CPU per proxied request of puppet-ha alone, for A/B work on the proxy's hot path: keep-alive TLS
// GETs with a client cert (wrk -> haproxy TLS originator -> puppet-ha on CPU 0 -> nginx), the
// proxy's utime+stime from /proc before/after each run. Several builds run interleaved in one
// session (the machine is shared and noisy: compare medians of the same session, never across),
// each started fresh for each of its runs, each round starting with the next build.
//
//   node --import tsx bench/proxy-cpu.ts                      # the current source, 3 rounds of 5 s
//   node --import tsx bench/proxy-cpu.ts --build a            # also keep that build, named "a"
//   node --import tsx bench/proxy-cpu.ts a b --rounds 5 --access-log both   # kept builds a and b
//   node --import tsx bench/proxy-cpu.ts a a@--max-semi-space-size=64   # build a, with a node flag
//   node --import tsx bench/proxy-cpu.ts --prof /tmp/prof     # node --cpu-prof on each proxy, then
//                                                             # the split of each (profile-split.ts)
//   node --import tsx bench/proxy-cpu.ts base --floor         # also the floor: bare Node https +
//                                                             # undici (floor-proxy.ts), with a bare
//                                                             # net.Socket client ("floor-raw"), and
//                                                             # Node answering by itself ("floor-self")
//   ... --keep                                                # keep configs and proxy logs
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { parse, stringify } from "yaml";
import { haproxyOriginator, nginxBackend, puppetHaConfig } from "./lib/configs.js";
import { launchHelper, repoRoot } from "./lib/frontends.js";
import { wrk } from "./lib/generators.js";
import { freePorts, get, waitUntil } from "./lib/net.js";
import { createBenchPki } from "./lib/pki.js";
import { cpuSeconds, installTeardown, start, stopAll, type Proc } from "./lib/procs.js";
import { percentile } from "./lib/stats.js";
import { splitProfile } from "./profile-split.js";

const PATH = "/puppet/v3/node/agent-bench-1?environment=production";
const CPU = { proxy: "0", load: "1" };

interface Variant {
  label: string;
  /** A directory holding the compiled cli.js. */
  dist: string;
  /** Extra node flags. */
  flags: string[];
  accessLog: boolean;
  /** For the floor variants: floor-proxy.ts answering by itself instead of forwarding. */
  floor?: "undici" | "raw" | "self";
}

interface Running extends Variant {
  runs: { cpuUs: number; rps: number }[];
}

// Builds live under node_modules/.cache (ignored by git and eslint) so dependencies resolve.
const buildRoot = join(repoRoot, "node_modules", ".cache", "proxy-cpu");

/** Compile the current src/ into dir/dist (with package.json beside it, which main.js reads). */
async function build(dir: string): Promise<string> {
  const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
  const r = await execa(process.execPath, [tsc, "-p", join(repoRoot, "tsconfig.build.json"), "--outDir", join(dir, "dist")], { cwd: repoRoot, reject: false });
  // tsc still emits on type errors; others' half-done edits elsewhere in src/ should not block us.
  if (r.exitCode !== 0) process.stderr.write(`[proxy-cpu] tsc reported errors (output kept):\n${r.stdout.split("\n").slice(0, 5).join("\n")}\n`);
  if (!existsSync(join(dir, "dist", "cli.js"))) throw new Error(`build failed:\n${r.stdout}`);
  copyFileSync(join(repoRoot, "package.json"), join(dir, "package.json"));
  return join(dir, "dist");
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      build: { type: "string" },
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "5" },
      connections: { type: "string", default: "32" },
      "access-log": { type: "string", default: "off" },
      prof: { type: "string" },
      floor: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
    },
  });
  installTeardown();
  const scratch = mkdtempSync(join(tmpdir(), "proxy-cpu-"));
  const log = (m: string) => process.stderr.write(`[proxy-cpu] ${m}\n`);
  const builds = positionals.map((p) => {
    const [name, ...flags] = p.split("@") as [string, ...string[]];
    return { label: p, dist: join(buildRoot, name, "dist"), flags };
  });
  if (builds.length === 0 || values.build) {
    const name = values.build ?? "src";
    log(`building src/ into ${join(buildRoot, name)}`);
    builds.push({ label: name, dist: await build(join(buildRoot, name)), flags: [] });
  }
  const logModes = values["access-log"] === "both" ? [false, true] : [values["access-log"] === "on"];
  const variants: Variant[] = builds.flatMap((b) => logModes.map((a) => ({ ...b, label: `${b.label}${logModes.length > 1 ? (a ? "+log" : "-log") : ""}`, accessLog: a })));
  if (values.floor) for (const floor of ["undici", "raw", "self"] as const) variants.push({ label: `floor-${floor}`, dist: "", flags: [], accessLog: false, floor });

  const pki = createBenchPki(join(scratch, "pki"));
  const [m1, m2, ca1, ...ports] = await freePorts(3 + 3 * variants.length);
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const running: Running[] = variants.map((v) => ({ ...v, runs: [] }));
  const medians: number[] = [];
  let ok = false;

  /**
   * Start variant i afresh with its originator, warm it up, measure one run, stop both: kept
   * running side by side, the proxy started last paid up to 40% more CPU per request.
   */
  const measure = async (i: number, r: number): Promise<void> => {
    const v = running[i] as Running;
    const [port, admin, origin] = ports.slice(3 * i, 3 * i + 3) as [number, number, number];
    const dir = join(scratch, `v${i}`);
    mkdirSync(dir, { recursive: true });
    const cfg = parse(puppetHaConfig({
      port, adminPort: admin, pki, stateDir: join(dir, "state"), serverTimeout: "300s",
      caWorkers: [{ name: "ca1", port: ca1 as number }], masters: [{ name: "m1", port: m1 as number }, { name: "m2", port: m2 as number }],
      health: { interval: "1s", timeout: "1s", rise: 2, fall: 2 },
    })) as { proxy: { accessLog: boolean }; log: { level: string } };
    cfg.proxy.accessLog = v.accessLog;
    cfg.log.level = "info"; // access lines are info: at "warn" pino would drop them unwritten
    writeFileSync(join(dir, "puppet-ha.yaml"), stringify(cfg));
    // Only the last round is profiled (one profile per variant).
    const prof = values.prof && r === rounds - 1 ? ["--cpu-prof", "--cpu-prof-dir", resolve(values.prof), "--cpu-prof-name", `v${i}.cpuprofile`] : [];
    // stdout (the access log) goes to a file, as it would under systemd's journal or a pipe.
    const floorArgs = [join(repoRoot, "bench", "lib", "floor-proxy.ts"), String(port), pki.serverCert, pki.serverKey, pki.ca, pki.crl,
      ...(v.floor === "self" ? ["self"] : v.floor === "raw" ? ["raw", String(m1), String(m2)] : [`http://127.0.0.1:${m1}`, `http://127.0.0.1:${m2}`])];
    const args = v.floor ? ["--import", "tsx", ...prof, ...floorArgs] : [...v.flags, ...prof, join(v.dist, "cli.js"), "proxy", "-c", join(dir, "puppet-ha.yaml")];
    const proc = start(v.label, process.execPath, args, { cpu: CPU.proxy, cwd: repoRoot, logFile: join(dir, "proxy.log") });
    let orig: Proc | undefined;
    try {
      await waitUntil(`${v.label} ready`, async () => (await get(`https://127.0.0.1:${port}/status/v1/simple`, { tls: pki.text, timeoutMs: 2000 })).status === 200,
        30_000, () => (proc.alive() ? undefined : `exited; see ${dir}/proxy.log`));
      orig = await launchHelper("haproxy", `originator-${i}`, join(dir, "originator"), haproxyOriginator(origin, { port, tls: true }, pki), CPU.load,
        async () => (await get(`http://127.0.0.1:${origin}/status/v1/simple`, { timeoutMs: 2000 })).status === 200);
      const url = `http://127.0.0.1:${origin}${PATH}`;
      await wrk(url, { connections, seconds: 2, cpu: CPU.load }); // JIT, connections
      const c0 = cpuSeconds(proc.pid);
      const w = await wrk(url, { connections, seconds, cpu: CPU.load });
      const cpu = cpuSeconds(proc.pid) - c0;
      if (w.errors + w.non2xx > 0) log(`${v.label}: ${w.errors} socket errors, ${w.non2xx} non-2xx`);
      v.runs.push({ cpuUs: (cpu * 1e6) / Math.max(1, w.requests), rps: w.rps });
      log(`round ${r + 1}/${rounds} ${v.label}: ${v.runs.at(-1)?.cpuUs.toFixed(1)} µs/req, ${Math.round(w.rps)} req/s`);
    } finally {
      await Promise.all([proc.stop(), orig?.stop()]);
    }
  };

  try {
    const backendPorts = [m1, m2, ca1] as number[];
    await launchHelper("nginx", "backend", join(scratch, "backend"), nginxBackend(backendPorts, join(scratch, "backend")), CPU.load,
      async () => (await get(`http://127.0.0.1:${m1}/status/v1/simple`, { timeoutMs: 1000 })).status === 200);
    // Each round starts with the next variant, so neither a slow spell nor the order favours one.
    for (let r = 0; r < rounds; r++) for (let k = 0; k < running.length; k++) await measure((k + r) % running.length, r);
    process.stdout.write(`\n| build | CPU µs/req median | best | req/s median | one-core req/s (median) |\n|---|---|---|---|---|\n`);
    for (const v of running) {
      const us = v.runs.map((x) => x.cpuUs);
      const med = percentile(us, 50);
      medians.push(med);
      process.stdout.write(`| ${v.label} | ${med.toFixed(1)} | ${Math.min(...us).toFixed(1)} | ${Math.round(percentile(v.runs.map((x) => x.rps), 50))} | ${Math.round(1e6 / med)} |\n`);
    }
    ok = true;
    process.stdout.write(`\n${rounds} rounds of ${seconds} s, wrk -t1 -c${connections}; proxy on CPU ${CPU.proxy}, wrk/originator/nginx on CPU ${CPU.load}.\n`);
  } finally {
    await stopAll();
    if (ok && !values.keep) rmSync(scratch, { recursive: true, force: true });
    else log(`logs kept in ${scratch}`);
  }
  if (values.prof) {
    // Written by each proxy as it exits (stopAll above). Profiling costs CPU too: the shares are
    // what counts, the µs are the shares of the median measured while profiling.
    for (const [i, v] of running.entries()) {
      const file = join(resolve(values.prof), `v${i}.cpuprofile`);
      if (existsSync(file)) process.stdout.write(`\n${v.label} (${file}):\n\n${splitProfile(file, medians[i])}`);
    }
  }
}

await main();
