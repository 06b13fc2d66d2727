// `puppet-ha twitch -c FILE` as a real process: serves until SIGTERM, refuses to bind a
// non-loopback address without auth (exit 2), reports an unusable puppet in one line (exit 1).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { cliArgv, repoRoot, runCli } from "../../helpers/cli.js";
import { fakePuppet } from "./fake-puppet.js";

const dir = mkdtempSync(join(tmpdir(), "twitch-cli-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, twitch: string): string {
  const file = join(dir, name);
  writeFileSync(file, `twitch:\n${twitch}\nlog: { format: json }\n`);
  return file;
}

test("binding a non-loopback address without auth is refused: exit 2, one clear line", async () => {
  const file = config("open.yaml", '  listen: "0.0.0.0:2023"');
  const r = await runCli(["twitch", "-c", file]);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /twitch\.listen: without auth \(auth\.tokenFile or auth\.tls\) twitch only binds loopback, not "0\.0\.0\.0"/);
  assert.doesNotMatch(String(r.stderr), /\n\s+at /);
  const check = await runCli(["config", "check", "-c", file]);
  assert.equal(check.exitCode, 2, "config check reports it too");
});

test("an allowlist without auth.tls, and a missing token file, are exit 2", async () => {
  const allow = await runCli(["twitch", "-c", config("allow.yaml", "  auth: { allow: [admin] }")]);
  assert.equal(allow.exitCode, 2);
  assert.match(String(allow.stderr), /twitch\.auth\.allow: needs auth\.tls/);
  const token = await runCli(["twitch", "-c", config("token.yaml", `  auth: { tokenFile: ${join(dir, "nope.token")} }`)]);
  assert.equal(token.exitCode, 2);
  assert.match(String(token.stderr), /cannot read token file .*nope\.token: no such file or directory/);
});

test("a puppet whose `config print` fails stops the start with exit 1 and one line", async (t) => {
  const fake = fakePuppet(t);
  writeFileSync(join(fake.dir, "config-fail"), "");
  const r = await runCli(["twitch", "-c", config("fail.yaml", `  listen: "127.0.0.1:0"\n  puppet: { command: ["${fake.bin}"] }`)]);
  assert.equal(r.exitCode, 1);
  assert.match(String(r.stderr), /^puppet-ha: cannot ask puppet for its lock file paths .*exit code 1: Error: Could not parse configuration$/);
});

test("the real command serves triggers; SIGHUP reloads; SIGTERM waits for the run in flight, then exits 0", async (t) => {
  const fake = fakePuppet(t);
  const file = config("ok.yaml", `  listen: "127.0.0.1:0"\n  puppet: { command: ["${fake.bin}"] }`);
  const [node, pre] = cliArgv();
  const sub = execa(node, [...pre, "twitch", "-c", file], { cwd: repoRoot, reject: false });
  t.after(() => sub.kill("SIGKILL"));
  let seen = "";
  let errors = "";
  sub.stdout.on("data", (chunk: Buffer) => (seen += chunk.toString("utf8")));
  sub.stderr.on("data", (chunk: Buffer) => (errors += chunk.toString("utf8")));
  /** Resolves with the first match of `re` in the output so far or to come. */
  const output = (re: RegExp) => new Promise<RegExpExecArray>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`no ${re} within 20s: ${seen} ${errors}`)), 20_000);
    const check = () => {
      const m = re.exec(seen);
      if (!m) return;
      clearTimeout(deadline);
      sub.stdout.off("data", check);
      resolve(m);
    };
    sub.stdout.on("data", check);
    check();
  });
  const url = (await output(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/))[1] as string;
  const r = await fetch(`${url}/puppet/twitch?async=false`);
  assert.equal(r.status, 200);
  assert.deepEqual(fake.argvs(), [["agent", "--onetime", "--no-daemonize", "--detailed-exitcodes"]]);

  // SIGHUP (systemctl reload) re-reads the token and TLS files and never stops twitch.
  sub.kill("SIGHUP");
  await output(/reloaded the token and TLS files/);
  assert.equal(sub.exitCode, null, "still running after SIGHUP");
  assert.equal((await fetch(`${url}/puppet/status`)).status, 200);

  fake.hold();
  assert.equal((await fetch(`${url}/puppet/twitch`)).status, 202);
  await fake.started();
  sub.kill("SIGTERM");
  await output(/twitch stopping; waiting for the puppet run in flight/);
  assert.equal(sub.exitCode, null, "still running while the agent runs");
  fake.release();
  const done = await sub;
  assert.equal(done.exitCode, 0, errors);
  assert.equal(fake.calls(), 2);
  assert.equal(seen.match(/"msg":"puppet agent finished: no changes"/g)?.length, 2);
});
