// 200 rapid changes to the active cadir while the watch, the schedule and requests all trigger
// passes: one rsync at a time per destination (counted by a wrapper that logs start and end of
// each run), and both sides equal at the end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { differingPaths, fakeExecutable, makeHarness, nextPass, realRsync } from "./harness.js";

test("200 rapid changes with schedule and requests firing: never two rsyncs at once, equal at the end", async (t) => {
  const h = makeHarness(t, { watch: true, fill: true, config: { maxDeletes: 1000 } });
  const log = join(h.root, "rsync.log");
  writeFileSync(log, "");
  fakeExecutable(h.bin, "rsync", [
    `echo "start $$" >> "${log}"`,
    `${realRsync()} "$@"`,
    "rc=$?",
    `echo "end $$" >> "${log}"`,
    "exit $rc",
  ].join("\n"));
  const ready = nextPass(h.service, (r) => r.reasons.includes("watch-ready"), 10_000);
  await h.service.start();
  await ready;

  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    writeFileSync(join(h.ca1, "requests", `node${i % 50}.pem`), `csr ${i}`);
    writeFileSync(join(h.ca1, "serial"), (0x100 + i).toString(16).toUpperCase().padStart(4, "0"));
    if (i % 20 === 0) h.cron();
    if (i % 50 === 0) pending.push(h.service.requestPass("ca2", "test"));
    // ~2 s of changes, so passes run while the source keeps changing under them.
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(pending);
  const [last] = await h.service.requestPass("ca2", "final");
  assert.equal(last?.result, "in-sync", last?.error?.message);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
  assert.equal(readFileSync(join(h.ca2, "serial"), "utf8"), (0x100 + 199).toString(16).toUpperCase().padStart(4, "0"));

  // A watch-triggered pass may still be running: stopping waits for it, so every rsync that
  // started has ended before the log is read.
  await h.service.stop();
  let running = 0;
  let max = 0;
  let runs = 0;
  for (const line of readFileSync(log, "utf8").trim().split("\n")) {
    if (line.startsWith("start")) {
      runs++;
      max = Math.max(max, ++running);
    } else running--;
  }
  assert.equal(running, 0);
  assert.equal(max, 1, "two rsyncs overlapped");
  assert.ok(runs >= 2);
  t.diagnostic(`${runs} rsync runs for 200 changes`);
});
