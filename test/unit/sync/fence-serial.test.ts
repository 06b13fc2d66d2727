// Fencing (a pass acts for one epoch; older epochs and the active CA's dir are refused) and the
// serial advance on promotion (pure value, atomic write that keeps mode).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fencePass, fenceRecheck } from "../../../src/sync/fence.js";
import { advancedSerial, advanceSerialFile } from "../../../src/sync/serial.js";
import { CadirError } from "../../../src/sync/errors.js";

test("fencing: table of arbiter answers", () => {
  const cases: [string, number | undefined, { epoch: number; active: string }, string, number | undefined, boolean, RegExp?][] = [
    ["current epoch, standby destination", 3, { epoch: 3, active: "ca1" }, "ca2", undefined, true],
    ["newer epoch", 3, { epoch: 4, active: "ca1" }, "ca2", undefined, true],
    ["first answer ever", undefined, { epoch: 0, active: "ca1" }, "ca2", undefined, true],
    ["older epoch than known", 5, { epoch: 4, active: "ca1" }, "ca2", undefined, false, /epoch 4, older than the latest known 5/],
    ["destination is the active CA", 3, { epoch: 3, active: "ca2" }, "ca2", undefined, false, /ca2 is the active CA at epoch 3 and is never written/],
    ["pull for the epoch asked", 3, { epoch: 3, active: "ca1" }, "ca2", 3, true],
    ["pull for an epoch the arbiter has left", 3, { epoch: 4, active: "ca1" }, "ca2", 3, false, /asked for epoch 3, the arbiter is at epoch 4/],
  ];
  for (const [name, latest, state, dest, want, ok, re] of cases) {
    const d = fencePass(latest, state, dest, want);
    assert.equal(d.ok, ok, name);
    if (!d.ok && re) assert.match(d.reason, re, name);
  }
});

test("fencing: a pass is refused just before the copy when the arbiter moved on", () => {
  assert.equal(fenceRecheck({ epoch: 3, active: "ca1" }, { epoch: 3, active: "ca1" }, "ca2").ok, true);
  const moved = fenceRecheck({ epoch: 3, active: "ca1" }, { epoch: 4, active: "ca2" }, "ca2");
  assert.ok(!moved.ok);
  assert.match(moved.reason, /stale/);
});

test("serial advance: uppercase hex, at least 4 digits", () => {
  assert.equal(advancedSerial("0009", 0x1000), "1009");
  assert.equal(advancedSerial("0009\n", 0), "0009");
  assert.equal(advancedSerial("FFFF", 1n), "10000");
  assert.equal(advancedSerial("00a0", 16), "00B0");
  assert.throws(() => advancedSerial("0x10", 1), /not hex/);
  assert.throws(() => advancedSerial("0010", -1), RangeError);
});

test("serial advance on disk: atomic, no trailing newline, mode kept, no temp file left", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "serial-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "serial"), "002A", { mode: 0o640 });
  const r = await advanceSerialFile(dir, 0x1000, 7);
  assert.deepEqual(r, { cadir: dir, epoch: 7, before: "002A", after: "102A" });
  assert.equal(readFileSync(join(dir, "serial"), "utf8"), "102A");
  assert.equal(statSync(join(dir, "serial")).mode & 0o777, 0o640);
  assert.deepEqual(readdirSync(dir), ["serial"]);
  writeFileSync(join(dir, "serial"), "junk");
  await assert.rejects(advanceSerialFile(dir, 1, 8), CadirError);
  assert.equal(readFileSync(join(dir, "serial"), "utf8"), "junk", "a bad serial is left alone");
  await assert.rejects(advanceSerialFile(join(dir, "missing"), 1, 8), /cannot read/);
});
