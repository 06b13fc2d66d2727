// `puppet-ha config check` as a real process: exit codes, messages, no stack traces.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "puppet-ha-cfg-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test("the example config passes and prints the normalised config", async () => {
  const r = await runCli(["config", "check", "-c", "config/puppet-ha.example.yaml"]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.match(String(r.stdout), /OK/);
  assert.match(String(r.stdout), /serialGap: 4096/);
});

test("three mistakes exit 2 and are all named with key path and line", async () => {
  const file = join(dir, "bad.yaml");
  writeFileSync(file, `proxy:
  tls: { cert: /c.pem, key: /k.pem, ca: /ca.pem, crl: /crl.pem }
  bogus: 1
  ca:
    workers: [{ name: ca1, url: "htp:/x y" }]
  masters:
    workers: [{ name: m1, url: "http://127.0.0.1:18140" }]
  timeouts: { connect: soon }
`);
  const r = await runCli(["config", "check", "-c", file]);
  assert.equal(r.exitCode, 2);
  const err = String(r.stderr);
  assert.match(err, /3 problem\(s\)/);
  assert.match(err, /proxy\.bogus: unknown key \(line 3\)/);
  assert.match(err, /proxy\.ca\.workers\[0\]\.url: not a URL.*\(line 5\)/);
  assert.match(err, /proxy\.timeouts\.connect: not a duration.*\(line 8\)/);
  assert.doesNotMatch(err, /\n\s+at /, "no stack trace");
  assert.equal(String(r.stdout), "");
});

test("a missing file is one clear line and exit 2", async () => {
  const r = await runCli(["config", "check", "-c", join(dir, "nope.yaml")]);
  assert.equal(r.exitCode, 2);
  assert.equal(String(r.stderr).trim().split("\n").length, 1);
  assert.match(String(r.stderr), /cannot read config file .*nope\.yaml: no such file or directory/);
});

test("PUPPET_HA_CONFIG is used when -c is absent", async () => {
  const file = join(dir, "env.yaml");
  writeFileSync(file, "log: { level: warn }\n");
  const r = await runCli(["config", "check"], { env: { PUPPET_HA_CONFIG: file } });
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.match(String(r.stdout), /level: warn/);
});

test("--help and --version exit 0; an unknown command exits 2", async () => {
  const help = await runCli(["--help"]);
  assert.equal(help.exitCode, 0);
  assert.match(String(help.stdout), /config/);
  const version = await runCli(["--version"]);
  assert.equal(version.exitCode, 0);
  assert.match(String(version.stdout), /^\d+\.\d+\.\d+/);
  const bad = await runCli(["frobnicate"]);
  assert.equal(bad.exitCode, 2);
  assert.match(String(bad.stderr), /unknown command/);
});
