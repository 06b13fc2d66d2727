// The one error catalog (src/errors.ts) and the one renderer (src/http-error.ts): every code any
// error class uses is catalogued and belongs to exactly one class; statuses come from the catalog;
// the renderer picks JSON or text by Accept and never shows an untyped error's message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CATALOG, NoHealthyBackendError, PuppetHaError, UsageError } from "../../src/errors.js";
import { describeHttpError, preferredFormat } from "../../src/http-error.js";
import { AdminConflictError, UnknownBackendError } from "../../src/health/admin-errors.js";
import { AgentDisabledError, RateLimitedError } from "../../src/twitch/errors.js";
import { DivergenceError, FencingError } from "../../src/sync/errors.js";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []);
}

test("every error code in src/ is in the catalog and used by one class only", () => {
  const owners = new Map<string, string[]>();
  for (const file of sources("src")) {
    const text = readFileSync(file, "utf8");
    // `super("E_X"` in a class body, `new PuppetHaError("E_X"` for one-off failures.
    for (const m of text.matchAll(/(?:super|new PuppetHaError)\(\s*(?:[^"]*\?\s*)?"(E_[A-Z0-9_]+)"(?:\s*:\s*"(E_[A-Z0-9_]+)")?/g)) {
      for (const code of [m[1], m[2]].filter((c): c is string => c !== undefined)) {
        const cls = [...text.slice(0, m.index).matchAll(/\bclass (\w+) extends/g)].at(-1)?.[1] ?? "(function)";
        owners.set(code, [...(owners.get(code) ?? []), `${file}:${cls}`]);
      }
    }
  }
  assert.ok(owners.size > 30, `the scan finds the codes (${owners.size})`);
  for (const [code, where] of owners) {
    assert.ok(code in ERROR_CATALOG, `${code} (${where.join(", ")}) is missing from ERROR_CATALOG in src/errors.ts`);
    assert.equal(new Set(where.map((w) => w.split(":")[1])).size, 1, `${code} is defined by more than one class: ${where.join(", ")}`);
  }
});

test("statuses come from the catalog", () => {
  const table: [PuppetHaError, number][] = [
    [new UsageError("x"), 400], [new UnknownBackendError("m9"), 404], [new AdminConflictError("x"), 409],
    [new NoHealthyBackendError("ca"), 503], [new FencingError("old"), 409], [new DivergenceError("ca2", []), 409],
    [new AgentDisabledError("m"), 423], [new RateLimitedError(1000), 429],
  ];
  for (const [err, status] of table) assert.equal(err.status, status, err.code);
  assert.deepEqual(describeHttpError(new Error("db password is hunter2")), { status: 500, code: "E_INTERNAL", message: "internal error (see the log)", headers: {} });
});

test("JSON or text by Accept; the listener's default when Accept does not decide", () => {
  const table: [string | undefined, "json" | "text", "json" | "text"][] = [
    [undefined, "text", "text"], [undefined, "json", "json"], ["*/*", "text", "text"], ["*/*", "json", "json"],
    ["application/json", "text", "json"], ["text/plain", "json", "text"], ["text/html", "json", "json"], ["text/html", "text", "text"],
    ["application/json, text/plain", "text", "json"], ["text/plain, application/json", "json", "text"],
    ["text/plain;q=0.5, application/json", "text", "json"], ["application/*", "text", "json"], ["image/png", "json", "json"],
  ];
  for (const [accept, fallback, want] of table) assert.equal(preferredFormat(accept, fallback), want, `${accept} (${fallback})`);
});
