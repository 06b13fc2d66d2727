#!/usr/bin/env node
// Test runner: finds test/<tier>/**/*.test.ts itself (Node 20 does not glob .ts test files) and
// runs them with node's test runner through tsx and the spec reporter. Fails when a tier has no
// test file. The e2e tier also runs test/e2e-demo/ (the demo's own cluster) after test/e2e/.
// Usage: node scripts/run-tests.mjs unit|integration|e2e|all [extra node --test args]
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const tiers = ["unit", "integration", "e2e"];
const [which = "all", ...extra] = process.argv.slice(2);
const selected = which === "all" ? tiers : [which];
if (!selected.every((t) => tiers.includes(t))) {
  console.error(`run-tests: unknown tier "${which}" (expected ${tiers.join(", ")} or all)`);
  process.exit(2);
}

function find(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

let failed = false;
for (const tier of selected) {
  const files = find(join(root, "test", tier));
  if (files.length === 0) {
    console.error(`run-tests: no test files under test/${tier}`);
    process.exit(1);
  }
  console.log(`\n=== ${tier}: ${files.length} file(s)`);
  // End-to-end tests share one real puppetserver cluster: test/e2e/cluster/run-with-cluster.ts
  // starts it once, runs the node test command with its descriptor in the environment, and always
  // tears it down. They run one file at a time because they kill and restart servers.
  const concurrency = tier === "e2e" ? ["--test-concurrency=1"] : [];
  const args = [
    "--import", "tsx",
    "--test", "--test-reporter=spec",
    ...concurrency,
    ...extra,
    ...files.map((f) => relative(root, f)),
  ];
  const withCluster = tier === "e2e" && existsSync(join(root, "test/e2e/cluster/run-with-cluster.ts"));
  const r = withCluster
    ? spawnSync(process.execPath, ["--import", "tsx", "test/e2e/cluster/run-with-cluster.ts", ...args], { cwd: root, stdio: "inherit" })
    : spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) failed = true;
  // `puppet-ha demo` builds its own 4-JVM cluster: its tests run after the shared cluster is torn
  // down, so two clusters never compete for the 2 cores and the RAM.
  const demoFiles = tier === "e2e" ? find(join(root, "test", "e2e-demo")) : [];
  if (demoFiles.length > 0) {
    console.log(`\n=== e2e-demo: ${demoFiles.length} file(s)`);
    const d = spawnSync(process.execPath, [
      "--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=1", ...extra, ...demoFiles.map((f) => relative(root, f)),
    ], { cwd: root, stdio: "inherit" });
    if (d.status !== 0) failed = true;
  }
}
process.exit(failed ? 1 : 0);
