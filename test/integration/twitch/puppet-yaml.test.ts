// twitch reads Puppet's YAML with js-yaml (src/twitch/puppet-yaml.ts) instead of the `yaml` package
// (issue 16's footprint): the files the real Debian puppet writes give the same values both ways.
// puppet runs isolated under a temp dir (`puppet apply` writes last_run_summary.yaml; `puppet facts
// find` prints the facts cache format with its Ruby tag; `facts show` the plain one).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { parse } from "yaml";
import { parsePuppetYaml } from "../../../src/twitch/puppet-yaml.js";
import { parseLastRunSummary } from "../../../src/twitch/summary.js";
import { parseFacts } from "../../../src/twitch/broker/facts.js";
import { summaryYaml } from "./fake-puppet.js";

const PUPPET = "/usr/bin/puppet";
const skip = existsSync(PUPPET) ? false : "puppet is not installed";
const dir = mkdtempSync(join(tmpdir(), "puppet-yaml-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const isolate = ["confdir", "vardir", "codedir", "logdir", "rundir", "ssldir", "publicdir"].flatMap((d) => [`--${d}`, join(dir, d)]);

/** What the `yaml` package reads (the Ruby tag dropped, as twitch did before it used js-yaml). */
const withYamlPackage = (text: string): unknown => parse(text.replace(/^--- !ruby\/object:\S+/m, "---"), { logLevel: "error" });

async function puppet(args: string[]): Promise<string> {
  const r = await execa(PUPPET, [...args, ...isolate], { reject: false });
  assert.equal(r.exitCode, 0, `puppet ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

test("last_run_summary.yaml written by a real puppet run reads the same with js-yaml as with yaml", { skip }, async () => {
  await puppet(["apply", "-e", 'notify { "hello": }']);
  const text = readFileSync(join(dir, "publicdir", "last_run_summary.yaml"), "utf8");
  assert.deepEqual(parsePuppetYaml(text), withYamlPackage(text));
  const s = parseLastRunSummary(text);
  assert.ok(s, "a run summary");
  assert.equal(s.outcome, "changed");
  assert.equal(s.resources.changed, 1);
  assert.match(s.puppetVersion ?? "", /^\d+\.\d+\.\d+$/);
  assert.ok(s.time && Date.now() - Date.parse(s.time) < 3_600_000, "time.last_run read as a number");
});

test("the facts cache format (`--- !ruby/object:Puppet::Node::Facts`) and plain facts YAML read the same both ways", { skip }, async () => {
  const cached = await puppet(["facts", "find", "--render-as", "yaml"]);
  assert.match(cached, /^--- !ruby\/object:Puppet::Node::Facts\n/);
  assert.deepEqual(parsePuppetYaml(cached), withYamlPackage(cached));
  const plain = await puppet(["facts", "show", "--render-as", "yaml"]);
  assert.deepEqual(parsePuppetYaml(plain), withYamlPackage(plain));
  const facts = parseFacts(cached);
  assert.equal((facts.os as { family?: unknown }).family, "Debian", "the values of the cache");
  assert.equal(typeof (facts.processors as { count?: unknown }).count, "number", "numbers stay numbers");
});

test("the summaries the tests' fake puppet writes read the same both ways", () => {
  for (const o of [{}, { changed: 3 }, { failed: 2, changed: 1, lastRun: 1763715600, total: 2.25 }]) {
    const text = summaryYaml(o);
    assert.deepEqual(parsePuppetYaml(text), withYamlPackage(text));
  }
});
