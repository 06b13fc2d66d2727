// `puppet-ha demo --proxies N` through the real CLI: a bad N stops the demo with exit 2 and one
// line naming the flag and the value, before it installs, binds or creates anything.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../helpers/cli.js";

test("demo --proxies 0, 3, two and --scenario cluster --proxies 1: exit 2, one clear line, nothing created", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "puppet-ha-demo-flag-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const stateDir = join(root, "state");
  const cases: [string[], RegExp][] = [
    [["--proxies", "0"], /--proxies must be 1 or 2, not 0/],
    [["--proxies", "3"], /--proxies 3 is not supported/],
    [["--proxies", "two"], /--proxies must be a whole number \(1 or 2\), not "two"/],
    [["--scenario", "cluster", "--proxies", "1"], /--scenario cluster needs two proxies/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(["demo", "--state-dir", stateDir, ...args]);
    assert.equal(r.exitCode, 2, `${args.join(" ")}: ${String(r.stderr)}`);
    const lines = String(r.stderr).trim().split("\n");
    assert.equal(lines.length, 1, `one line for ${args.join(" ")}: ${String(r.stderr)}`);
    assert.match(lines[0] ?? "", message);
    assert.doesNotMatch(String(r.stderr), /\n\s+at /, "no stack trace");
    assert.ok(!existsSync(stateDir), "no state dir created");
  }
});
