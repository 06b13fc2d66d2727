// `puppet-ha twitch` checks its config by hand (src/twitch/config-check.ts) instead of loading zod:
// held equal to the zod schemas here, output for output and problem path for problem path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { logSection } from "../../../src/config/schema.js";
import { twitchSection } from "../../../src/twitch/config.js";
import { checkTwitchConfig } from "../../../src/twitch/config-check.js";

const tls = { cert: "/s/c.pem", key: "/s/k.pem", ca: "/s/ca.pem" };
const VALID: unknown[] = [
  {},
  { listen: "0.0.0.0:2023", auth: { tokenFile: "/etc/t", tls: { ...tls, crl: "/s/crl.pem" }, allow: ["admin*"] }, allowedHosts: ["web1"] },
  { puppet: { command: ["sudo", "-n", "/usr/bin/puppet"], args: ["--confdir", "/x"], runLockFile: "/a", disabledLockFile: "/b", lastRunSummary: "/c", timeout: "5m" } },
  { rateLimit: { max: 3, per: "10s" }, splayMax: "0s", listen: "[::1]:0" },
  { broker: { urls: ["tls://nats.example.com:4222"], tls, allow: ["admin.example.com"] } },
  {
    broker: {
      urls: ["nats://127.0.0.1:4222", "tls://b:4223/"], tls: { ...tls, crl: "/s/crl.pem" }, allow: ["a", "b*"], subjectPrefix: "x.y", statusBucket: "b_1",
      publishStatus: false, maxSkew: "1m", maxTtl: "1s", maxMessageSize: 1000, factsFile: "/f.json", classesFile: "/c.txt", lastRunReport: "/r.yaml",
    },
  },
];

const INVALID: unknown[] = [
  { bogus: 1 },
  { listen: "nohost" },
  { listen: 2023 },
  { listen: "10.0.0.1:2023" },
  { auth: { allow: ["x"] } },
  { auth: { tls: { cert: "rel.pem", key: "/k", ca: "/ca", extra: 1 } } },
  { puppet: { command: [] } },
  { puppet: { command: [""], timeout: "soon", args: "x" } },
  { rateLimit: { max: 0, per: 5 } },
  { rateLimit: { max: 1.5 } },
  { splayMax: "10" },
  { broker: {} },
  { broker: { urls: [], tls, allow: [] } },
  { broker: { urls: ["http://x:1", "tls://u:p@x:1"], tls, allow: ["a"], subjectPrefix: "a..b", statusBucket: "b.c", publishStatus: "yes" } },
  { broker: { urls: ["tls://x:1"], tls, allow: ["a"], maxSkew: "x", maxTtl: "10ms", maxMessageSize: "lots", factsFile: "f", unknown: true } },
  "a string",
  { allowedHosts: [""] },
];

const zodPaths = (input: unknown): string[] => {
  const r = twitchSection.safeParse(input);
  assert.ok(!r.success, `zod refuses ${JSON.stringify(input)}`);
  return r.error.issues.flatMap((i) => (i.code === "unrecognized_keys" ? i.keys.map((k) => [...i.path, k]) : [i.path])).map((p) => ["twitch", ...p].join(".")).sort();
};

test("every valid twitch section gives exactly what the zod schema gives (defaults included)", () => {
  for (const input of VALID) {
    const r = checkTwitchConfig({ twitch: input });
    assert.ok(r.ok, `accepted: ${JSON.stringify(input)} ${r.ok ? "" : JSON.stringify(r.problems)}`);
    assert.deepEqual(r.config.twitch, twitchSection.parse(input), JSON.stringify(input));
  }
  const none = checkTwitchConfig({});
  assert.ok(none.ok);
  assert.deepEqual(none.config, { twitch: twitchSection.parse({}), log: logSection.parse(undefined) });
});

test("every invalid twitch section is refused with the problems at the key paths zod names", () => {
  for (const input of INVALID) {
    const r = checkTwitchConfig({ twitch: input });
    assert.ok(!r.ok, `refused: ${JSON.stringify(input)}`);
    assert.deepEqual(r.problems.map((p) => p.path.join(".")).sort(), zodPaths(input), JSON.stringify(input));
    for (const p of r.problems) assert.ok(p.message.length > 5, "each problem says what is wrong");
  }
});

test("log section as the zod schema; other sections are left to their commands; unknown sections refused", () => {
  const r = checkTwitchConfig({ log: { level: "debug", format: "text" }, proxy: { anything: 1 }, sync: {}, admin: {}, fleet: {} });
  assert.ok(r.ok);
  assert.deepEqual(r.config.log, logSection.parse({ level: "debug", format: "text" }));
  const bad = checkTwitchConfig({ log: { level: "loud", colour: true }, extra: {} });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => `${p.path.join(".")}: ${p.message}`).sort(), [
    "extra: unknown key", "log.colour: unknown key", "log.level: must be one of fatal, error, warn, info, debug, trace, silent",
  ]);
});
