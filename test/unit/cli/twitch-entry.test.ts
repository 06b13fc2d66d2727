// Issue 16 (footprint on every node): `puppet-ha twitch` starts through its own entry
// (src/twitch/main.ts, chosen by src/cli.ts) and loads only what it needs: no express, no proxy,
// sync, health or demo code, no other command's definition, no proxy-only package, and neither
// commander, zod, pino, execa nor the `yaml` package (what twitch loads is what every node pays in idle RSS).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { traceModules } from "./module-trace.js";

const trace = traceModules();
const SRC = new URL("../../../src/", import.meta.url).href;

test("the twitch entry starts twitch loading none of the other parts, commands or express", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "twitch-entry-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "puppet-ha.yaml");
  writeFileSync(file, `twitch:\n  listen: "127.0.0.1:0"\n  puppet: { command: ["${join(dir, "no-such-puppet")}"] }\nlog: { level: silent }\n`);
  const { twitchEntry } = await import("../../../src/twitch/main.js");
  // A puppet that does not exist stops the start right after everything was loaded.
  await assert.rejects(twitchEntry(["node", "puppet-ha", "twitch", "-c", file]), /puppet/);

  const urls = await trace.urls();
  const src = urls.filter((u) => u.startsWith(SRC)).map((u) => u.slice(SRC.length).replace(/\.[jt]s$/, ""));
  const packages = new Set(urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean));
  assert.ok(src.includes("twitch/server") && src.includes("twitch/app"), "the trace saw twitch start");
  // twitch checks its own sections by hand (src/twitch/config-check.ts): no schema of any part.
  const foreign = src.filter((f) => /^(proxy|sync|health|demo)\//.test(f) || f === "config/schema" || f === "config/load" || f === "twitch/config" || f === "twitch/broker/config");
  assert.deepEqual(foreign, [], "nothing of proxy, sync, health or demo, and no zod schema");
  assert.ok(!src.includes("main"), "the full command line (src/main.ts) is not built");
  assert.deepEqual(src.filter((f) => f.endsWith("/command") && f !== "twitch/command" && f !== "config/command"), [], "no other command's definition");
  for (const p of ["express", "http-proxy-3", "undici", "prom-client", "chokidar", "node-forge", "supertest", "commander", "execa", "pino", "zod", "node-cron"]) {
    assert.ok(!packages.has(p), `${p} is not loaded by twitch`);
  }
  // A good config file is read with js-yaml (~2 MB); the `yaml` package (~7.6 MB) only for a file with a problem.
  assert.ok(packages.has("js-yaml") && !packages.has("yaml"), "js-yaml, not the yaml package, reads the config");
});

test("the twitch entry reads -c/--config and --help by hand, and names a bad argument", async () => {
  const { parseTwitchArgs, twitchEntry } = await import("../../../src/twitch/main.js");
  assert.deepEqual(parseTwitchArgs([]), {});
  assert.deepEqual(parseTwitchArgs(["-c", "/etc/a.yaml"]), { config: "/etc/a.yaml" });
  assert.deepEqual(parseTwitchArgs(["--config", "/etc/a.yaml"]), { config: "/etc/a.yaml" });
  assert.deepEqual(parseTwitchArgs(["--config=/etc/b.yaml"]), { config: "/etc/b.yaml" });
  assert.deepEqual(parseTwitchArgs(["-c/etc/c.yaml"]), { config: "/etc/c.yaml" });
  assert.equal(parseTwitchArgs(["-c", "x", "--help"]), "help");
  assert.throws(() => parseTwitchArgs(["-c"]), (e: Error & { code?: string }) => e.code === "E_USAGE" && /'-c' needs a file/.test(e.message));
  assert.throws(() => parseTwitchArgs(["--port", "1"]), /unknown option '--port'/);
  assert.throws(() => parseTwitchArgs(["extra"]), /no argument 'extra'/);
  let help = "";
  await twitchEntry(["node", "puppet-ha", "twitch", "--help"], { write: (s: string) => (help += s) } as unknown as NodeJS.WritableStream);
  assert.match(help, /^Usage: puppet-ha twitch \[options\][\s\S]*-c, --config <file>/);
});
