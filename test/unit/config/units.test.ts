// Durations, sizes and listen addresses as written in the config file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, isLoopback, parseDuration, parseListen, parseSize } from "../../../src/config/units.js";

test("durations parse to milliseconds", () => {
  const cases: [string, number | undefined][] = [
    ["500ms", 500], ["2s", 2000], ["1.5s", 1500], ["5m", 300_000], ["1h", 3_600_000], ["1d", 86_400_000],
    ["2", undefined], ["2 s", undefined], ["-1s", undefined], ["1w", undefined], ["", undefined], ["s", undefined],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test("durations format back to the shortest exact unit", () => {
  assert.equal(formatDuration(90_000), "90s");
  assert.equal(formatDuration(120_000), "2m");
  assert.equal(formatDuration(1500), "1500ms");
});

test("sizes parse to bytes", () => {
  const cases: [string | number, number | undefined][] = [
    ["64KiB", 65536], ["16MiB", 16 * 1024 * 1024], ["1GiB", 1024 ** 3], ["10KB", 10_000], ["512", 512], [4096, 4096],
    ["1.5MiB", undefined], ["-1", undefined], [-5, undefined], [1.5, undefined], ["12 parsecs", undefined],
  ];
  for (const [v, bytes] of cases) assert.equal(parseSize(v), bytes, String(v));
});

test("listen addresses accept host:port and [v6]:port only", () => {
  assert.deepEqual(parseListen("127.0.0.1:8141"), { host: "127.0.0.1", port: 8141 });
  assert.deepEqual(parseListen("[::1]:8140"), { host: "::1", port: 8140 });
  assert.deepEqual(parseListen("localhost:0"), { host: "localhost", port: 0 });
  for (const bad of ["8140", "host:", ":8140", "host:70000", "::1:8140", "a b:1"]) assert.equal(parseListen(bad), undefined, bad);
});

test("loopback detection", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) assert.equal(isLoopback(h), true, h);
  for (const h of ["0.0.0.0", "10.0.0.1", "::", "128.0.0.1"]) assert.equal(isLoopback(h), false, h);
});
