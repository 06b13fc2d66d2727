// package.json's dependencies are what src/ imports, no more, no less (issue 14 item 6: a runtime
// dependency src/ never imported, http-proxy-3, and one only tests used, node-forge): every npm
// package src/ imports is a runtime dependency, every runtime dependency is imported by src/, and
// each is pinned with `~` (common rules). The engines field states the supported Node line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { repoRoot } from "../helpers/cli.js";

interface Manifest {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as Manifest;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []);
}

/** npm package names in import specifiers (static, dynamic and inside a worker's eval'd source). */
function importedPackages(text: string): string[] {
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)["']([^"'.\s/][^"'\s]*)["']/g)].map((m) => m[1]!);
  return specs.filter((s) => !s.startsWith("node:")).map((s) => (s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]!));
}

/** Imported by src/ only to run src/ itself from a checkout (tsx registers in the sync worker there). */
const CHECKOUT_ONLY = new Set(["tsx"]);

test("every npm package src/ imports is a runtime dependency, and every runtime dependency is imported by src/", () => {
  const used = new Map<string, string>();
  for (const f of sources(join(repoRoot, "src"))) {
    for (const p of importedPackages(readFileSync(f, "utf8"))) if (!used.has(p)) used.set(p, relative(repoRoot, f));
  }
  const runtime = new Set(Object.keys(manifest.dependencies));
  for (const [p, file] of used) {
    if (CHECKOUT_ONLY.has(p)) continue;
    assert.ok(runtime.has(p), `${file} imports ${p}, which is not in package.json's dependencies`);
  }
  for (const p of runtime) assert.ok(used.has(p), `${p} is a runtime dependency that src/ never imports: remove it or move it to devDependencies`);
  for (const p of ["http-proxy-3", "node-forge"]) assert.ok(!runtime.has(p), `${p} is not a runtime dependency`);
});

test("dependencies and devDependencies are pinned with ~ and the engines field names Node 20.19 or later", () => {
  for (const [p, spec] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) assert.match(spec, /^~\d/, `${p}: "${spec}" is not pinned with ~`);
  assert.equal(manifest.engines.node, ">=20.19");
});

test("the import scanner sees static, dynamic and scoped imports and skips node: built-ins", () => {
  const text = `import a from "zod";\nimport { b } from "@nats-io/kv/lib";\nconst c = await import("pino");\nimport d from "node:fs";\nimport e from "./local.js";`;
  assert.deepEqual(importedPackages(text), ["zod", "@nats-io/kv", "pino"]);
});
