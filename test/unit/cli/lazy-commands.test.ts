// Regression: `puppet-ha twitch` runs on every node and must stay small (idle RSS target 60 MB),
// so registering the subcommands loads no part's implementation, and the twitch command path
// loads nothing of the proxy, sync or health parts (undici, http-proxy-3, prom-client,
// chokidar...) and no express (its own HTTP app is plain node:http). It used to import every part eagerly (82 MB idle).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { traceModules } from "./module-trace.js";

const trace = traceModules();

/** Source files of src/<part>/ among the URLs (relative to src/), and the packages loaded. */
const SRC = new URL("../../../src/", import.meta.url).href;

function summarise(urls: string[]) {
  const src = urls.filter((u) => u.startsWith(SRC)).map((u) => u.slice(SRC.length).replace(/\.[jt]s$/, ""));
  const packages = new Set(urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean));
  return { src, packages };
}

const PROXY_ONLY_PACKAGES = ["http-proxy-3", "undici", "prom-client", "chokidar", "node-forge"];

test("registering the subcommands loads no part's implementation, then the twitch path loads nothing of proxy, sync or health", async (t) => {
  const { buildProgram } = await import("../../../src/main.js");
  const program = buildProgram();
  const registered = summarise(await trace.urls());
  assert.ok(registered.src.includes("main"), "the trace sees src/ modules");
  // token: the small token module (node:crypto and node:fs only), which the demo reads its tokens with.
  const commandModules = /^(main|cli-run|cli-errors|errors|token|version|(config|proxy|sync|twitch|twitch\/fleet|admin-cli)\/command|health\/(check-command|plugin-output))$/;
  const ours = registered.src.filter((f) => !f.startsWith("demo/"));
  assert.deepEqual(ours.filter((f) => !commandModules.test(f)), [], "only command definitions are loaded to build the CLI");
  for (const p of ["express", "zod", "pino", ...PROXY_ONLY_PACKAGES]) assert.ok(!registered.packages.has(p), `${p} is not loaded to build the CLI`);

  // Run the real twitch action; a puppet that does not exist stops it right after loading.
  const dir = mkdtempSync(join(tmpdir(), "lazy-twitch-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "puppet-ha.yaml");
  writeFileSync(file, `twitch:\n  listen: "127.0.0.1:0"\n  puppet: { command: ["${join(dir, "no-such-puppet")}"] }\nlog: { level: silent }\n`);
  await assert.rejects(program.parseAsync(["node", "puppet-ha", "twitch", "-c", file]), /puppet/);
  const twitch = summarise(await trace.urls());
  assert.ok(twitch.src.includes("twitch/server"), "the twitch server was loaded");
  // The config loader validates every section of the file, so the section schemas load.
  const foreign = twitch.src.filter((f) => /^(proxy|sync|health)\//.test(f) && !/\/(config|command|check-command|plugin-output)$/.test(f) && f !== "proxy/control/timing");
  assert.deepEqual(foreign, [], "nothing of proxy, sync or health beyond their config schemas");
  // twitch's HTTP app is plain node:http (issue 16: idle footprint on every node).
  for (const p of ["express", ...PROXY_ONLY_PACKAGES]) assert.ok(!twitch.packages.has(p), `${p} is not loaded by twitch`);
});
