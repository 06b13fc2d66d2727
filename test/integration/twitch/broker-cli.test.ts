// The broker commands as an operator meets them: bad input is one clear line naming it and exit
// 2, before anything is sent; `twitch` with a broken broker section stops instead of hanging;
// `fleet broker-config` prints a config nats-server itself accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { runCli } from "../../helpers/cli.js";
import { createTestCa, writePkiFiles } from "../../helpers/pki.js";

const dir = mkdtempSync(join(tmpdir(), "broker-cli-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const ca = createTestCa("cli");
const { ca: caFile } = writePkiFiles(dir, ca, [ca.issue("controller.example"), ca.issue("nats.example", { sans: ["127.0.0.1"] })]);
const id = ["--broker", "tls://127.0.0.1:1", "--cert", join(dir, "controller.example.pem"), "--key", join(dir, "controller.example.key"), "--cacert", caFile];

test("fleet run refuses a bad filter, a bad duration and a missing broker before connecting", async () => {
  let r = await runCli(["fleet", "run", "node1.example", ...id, "--fact", "role=~(web"]);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /^puppet-ha: fact filter "role=~\(web": bad regex/m);
  r = await runCli(["fleet", "run", "node1.example", ...id, "--class", "Not A Class"]);
  assert.match(String(r.stderr), /class filter "Not A Class" is not a Puppet class name/);
  r = await runCli(["fleet", "run", "node1.example", ...id, "--start-timeout", "soon"]);
  assert.match(String(r.stderr), /--start-timeout: not a duration: "soon"/);
  r = await runCli(["fleet", "run", "node1.example", "--cert", "/x", "--key", "/y", "--cacert", "/z"]);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /give --broker URL/);
  r = await runCli(["fleet", "run", "bad/name", ...id]);
  assert.match(String(r.stderr), /not a certname: "bad\/name"/);
});

test("fleet broker-config: needs a controller; its output is a config nats-server accepts", async () => {
  const nodes = join(dir, "nodes.txt");
  writeFileSync(nodes, "node1.example\nnode2.example\n");
  const base = ["fleet", "broker-config", "--cert", join(dir, "nats.example.pem"), "--key", join(dir, "nats.example.key"), "--cacert", caFile, "--nodes", nodes, "--store-dir", join(dir, "js")];
  let r = await runCli(base);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /name at least one controller certname/);
  const conf = join(dir, "nats.conf");
  r = await runCli([...base, "--controller", "controller.example", "--listen", "127.0.0.1:4222", "-o", conf]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  const check = await execa("nats-server", ["-c", conf, "-t"], { reject: false });
  assert.equal(check.exitCode, 0, String(check.stderr) + String(check.stdout));
});

test("twitch with a broker cert that cannot be read exits 2 naming the file, and does not hang", async () => {
  const file = join(dir, "twitch.yaml");
  writeFileSync(file, `twitch:
  listen: "127.0.0.1:0"
  puppet: { command: ["/bin/false"], runLockFile: "${dir}/run.lock", disabledLockFile: "${dir}/disabled.lock", lastRunSummary: "${dir}/summary.yaml" }
  broker:
    urls: ["tls://127.0.0.1:1"]
    tls: { cert: "${dir}/missing.pem", key: "${dir}/missing.key", ca: "${caFile}" }
    allow: ["controller.example"]
`);
  const r = await runCli(["twitch", "-c", file], { timeout: 30_000 });
  assert.equal(r.timedOut, false);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /cannot read broker TLS certificate .*missing\.pem: no such file or directory/);
});
