// Config validation: every problem at once with key path and line, defaults, freezing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseConfig } from "../../../src/config/load.js";
import { ConfigError } from "../../../src/errors.js";

function problems(text: string) {
  try {
    parseConfig(text, "t.yaml");
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

const minimalProxy = `
proxy:
  tls: { cert: /c.pem, key: /k.pem, ca: /ca.pem, crl: /crl.pem }
  ca:
    workers:
      - { name: ca1, url: "http://127.0.0.1:18142" }
  masters:
    workers:
      - { name: m1, url: "http://127.0.0.1:18140" }
`;

test("the example config is valid", () => {
  const cfg = parseConfig(readFileSync("config/puppet-ha.example.yaml", "utf8"));
  assert.equal(cfg.proxy?.ca.workers[0]?.name, "ca1");
  assert.equal(cfg.proxy?.ca.serialGap, 0x1000);
  assert.equal(cfg.sync?.maxDeletes, 50);
});

test("an empty file gives every default and no optional section", () => {
  const cfg = parseConfig("");
  assert.deepEqual(cfg.admin.listen, { host: "127.0.0.1", port: 8141 });
  assert.equal(cfg.log.level, "info");
  assert.equal(cfg.log.format, "json");
  assert.equal(cfg.proxy, undefined);
  assert.equal(cfg.sync, undefined);
});

test("defaults of a minimal proxy section", () => {
  const cfg = parseConfig(minimalProxy);
  const p = cfg.proxy;
  assert.ok(p);
  assert.deepEqual(p.listen, { host: "0.0.0.0", port: 8140 });
  assert.equal(p.health.interval, 1000);
  assert.equal(p.health.rise, 2);
  assert.equal(p.timeouts.connect, 2000);
  assert.equal(p.timeouts.response, 300_000);
  assert.equal(p.limits.headerSize, 32 * 1024);
  assert.equal(p.limits.body, 64 * 1024 * 1024);
  assert.equal(p.masters.balance, "round-robin");
  assert.equal(p.ca.failback, "manual");
  assert.equal(p.stateDir, "/var/lib/puppet-ha");
});

test("the loaded config is deeply frozen", () => {
  const cfg = parseConfig(minimalProxy);
  assert.ok(Object.isFrozen(cfg));
  assert.ok(Object.isFrozen(cfg.proxy?.ca.workers[0]));
  assert.throws(() => {
    (cfg.proxy!.health as { rise: number }).rise = 9;
  }, TypeError);
});

test("three different mistakes are all reported, each with path and line", () => {
  const text = `proxy:
  tls: { cert: /c.pem, key: /k.pem, ca: /ca.pem, crl: /crl.pem }
  colour: blue
  ca:
    workers:
      - { name: ca1, url: "http://127.0.0.1:18142" }
      - { name: ca2, url: "not a url" }
  masters:
    workers:
      - { name: m1, url: "http://127.0.0.1:18140" }
  health:
    interval: 2 seconds
`;
  const ps = problems(text);
  assert.equal(ps.length, 3, JSON.stringify(ps));
  const byPath = new Map(ps.map((p) => [p.path, p]));
  assert.match(byPath.get("proxy.colour")?.message ?? "", /unknown key/);
  assert.equal(byPath.get("proxy.colour")?.line, 3);
  assert.match(byPath.get("proxy.ca.workers[1].url")?.message ?? "", /not a URL/);
  assert.equal(byPath.get("proxy.ca.workers[1].url")?.line, 7);
  assert.match(byPath.get("proxy.health.interval")?.message ?? "", /not a duration/);
  assert.equal(byPath.get("proxy.health.interval")?.line, 12);
});

test("missing required keys are named", () => {
  const ps = problems("proxy:\n  ca: { workers: [] }\n");
  const paths = ps.map((p) => p.path).sort();
  assert.deepEqual(paths, ["proxy.ca.workers", "proxy.masters", "proxy.tls"]);
  assert.match(ps.find((p) => p.path === "proxy.tls")?.message ?? "", /required/);
});

test("a value of the wrong type is named with the type expected and what was given, not as missing", () => {
  const text = `proxy:
  tls: { cert: /c.pem, key: /k.pem, ca: /ca.pem, crl: /crl.pem }
  listen: 8140
  ca:
    workers: "ca1"
  masters:
    workers:
      - { name: m1, url: "http://127.0.0.1:18140" }
  health: { rise: "two" }
admin: { tokenFile: 12, listen: }
sync: [ca1]
`;
  const byPath = new Map(problems(text).map((p) => [p.path, p]));
  assert.deepEqual(byPath.get("proxy.listen"), { path: "proxy.listen", message: "must be a string, not the number 8140", line: 3 });
  assert.deepEqual(byPath.get("proxy.ca.workers"), { path: "proxy.ca.workers", message: 'must be a list, not the string "ca1"', line: 5 });
  assert.equal(byPath.get("proxy.health.rise")?.message, 'must be a number, not the string "two"');
  assert.equal(byPath.get("admin.tokenFile")?.message, "must be a string, not the number 12");
  assert.equal(byPath.get("admin.listen")?.message, "must be a string, not an empty value");
  assert.equal(byPath.get("sync")?.message, "must be a mapping (key: value), not a list (1 item)");
  // A key that is really absent is still "is required".
  const missing = problems("proxy:\n  tls: { cert: /c.pem, key: /k.pem, ca: /ca.pem }\n  ca: { workers: [] }\n  masters: { workers: [] }\n");
  assert.equal(missing.find((p) => p.path === "proxy.tls.crl")?.message, "is required");
});

test("duplicate worker names, unknown sections and YAML syntax errors are refused", () => {
  const dup = problems(minimalProxy + "      - { name: m1, url: \"http://127.0.0.1:18141\" }\n");
  assert.deepEqual(dup.map((p) => [p.path, p.message]), [["proxy.masters.workers[1].name", 'duplicate worker name "m1"']]);
  assert.deepEqual(problems("proxies: {}\n").map((p) => p.path), ["proxies"]);
  const syntax = problems("proxy: [\n");
  assert.equal(syntax.length >= 1, true);
  assert.equal(syntax[0]?.path, "");
  assert.ok(syntax[0]?.line !== undefined);
  assert.ok(problems("- a\n- b\n")[0]?.message.includes("mapping"));
});

test("a header limit below 32KiB is refused, with the reason", () => {
  const ps = problems(minimalProxy + "  limits: { headerSize: 8KiB }\n");
  assert.equal(ps[0]?.path, "proxy.limits.headerSize");
  assert.match(ps[0]?.message ?? "", /32KiB/);
});

test("sync defaults, and a bad schedule is refused with its path", () => {
  const cfg = parseConfig("sync:\n  cadirs: { ca1: /a, ca2: \"root@h:/b\" }\n");
  assert.equal(cfg.sync?.schedule, "* * * * *");
  assert.equal(cfg.sync?.workDir, "/var/lib/puppet-ha/sync");
  assert.equal(cfg.sync?.backupDir, "/var/lib/puppet-ha/backups");
  assert.equal(cfg.sync?.debounce, 100);
  assert.equal(cfg.sync?.rsync.timeout, 60_000);
  const ps = problems("sync:\n  cadirs: { ca1: /a, ca2: /b }\n  schedule: every minute\n  workDir: relative\n");
  assert.deepEqual(ps.map((p) => p.path).sort(), ["sync.schedule", "sync.workDir"]);
  assert.match(ps.find((p) => p.path === "sync.schedule")?.message ?? "", /not a cron schedule/);
});

test("sync cadirs must name CA workers, and writeInto must name cadirs", () => {
  const ps = problems(minimalProxy + "sync:\n  cadirs: { ca1: /a, cax: /b }\n  writeInto: [ca9]\n");
  const paths = ps.map((p) => p.path).sort();
  assert.deepEqual(paths, ["sync.cadirs.cax", "sync.writeInto[0]"]);
});

test("twitch: defaults, puppet.args, and the example's twitch section", () => {
  const example = parseConfig(readFileSync("config/puppet-ha.example.yaml", "utf8")).twitch;
  assert.ok(example);
  assert.deepEqual(example.listen, { host: "127.0.0.1", port: 2023 });
  assert.deepEqual(example.puppet.args, []);
  assert.equal(example.puppet.timeout, 30 * 60_000);
  assert.deepEqual(example.rateLimit, { max: 10, per: 60_000 });
  const cfg = parseConfig("twitch:\n  puppet: { command: [sudo, -n, /usr/bin/puppet], args: [--confdir, /x] }\n").twitch;
  assert.deepEqual(cfg?.puppet.command, ["sudo", "-n", "/usr/bin/puppet"]);
  assert.deepEqual(cfg?.puppet.args, ["--confdir", "/x"]);
  assert.equal(cfg?.splayMax, 60_000);
});

test("twitch without auth may bind loopback only; an allowlist needs tls", () => {
  assert.deepEqual(problems("twitch: { listen: \"0.0.0.0:2023\" }\n").map((p) => p.path), ["twitch.listen"]);
  assert.deepEqual(problems("twitch: { auth: { allow: [a] } }\n").map((p) => p.path), ["twitch.auth.allow"]);
  for (const listen of ["127.0.0.1:2023", "[::1]:2023", "localhost:2023"]) parseConfig(`twitch: { listen: "${listen}" }\n`);
  parseConfig("twitch: { listen: \"0.0.0.0:2023\", auth: { tokenFile: /etc/t } }\n");
});
