// The chaos test's checker catches each violation it names: a serial issued twice, a certificate a
// client saw signed missing on the final active CA, two CAs taking writes in one epoch, a write
// without an epoch; a safe history has none.
import { test } from "node:test";
import assert from "node:assert/strict";
import { figures, parseInventory, violations, type ClientOp, type History } from "../../helpers/ca-history-checker.js";

const signed = (certname: string, serial: string, ca = "ca1", epoch = 1): ClientOp => ({
  client: "c1", proxy: "proxy-1", kind: "sign", certname, start: 0, end: 1, result: "ok", status: 204, serial, ca, epoch,
});

/** ca1 signed a (0x0002) at epoch 1; failover; ca2 signed b (0x0102) at epoch 2; failback copied b to ca1. */
function safe(): History {
  const inventory = parseInventory("0x0001 2026-01-01T00:00:00UTC 2041-01-01T00:00:00UTC /CN=Puppet CA: x\n0x0002 s e /CN=a\n0x0102 s e /CN=b\n");
  return {
    ops: [signed("a", "0x0002"), signed("b", "0x0102", "ca2", 2), { ...signed("c", ""), result: "unknown", serial: undefined }],
    writes: [
      { ca: "ca1", epoch: 1, at: 1, kind: "csr", certname: "a" },
      { ca: "ca1", epoch: 1, at: 2, kind: "sign", certname: "a", serial: "0x0002" },
      { ca: "ca2", epoch: 2, at: 3, kind: "sign", certname: "b", serial: "0x0102" },
    ],
    faults: [{ at: 2, kind: "kill-ca", target: "ca1" }],
    cadirs: [
      { name: "ca1", inventory, signed: new Set(["a", "b"]) },
      { name: "ca2", inventory, signed: new Set(["a", "b"]) },
    ],
    finalActive: "ca1",
  };
}

test("a safe history has no violations, and its figures count it", () => {
  assert.deepEqual(violations(safe()), []);
  const f = figures(safe());
  assert.deepEqual([f.operations, f.signedSeen, f.violations, f.epochs], [3, 2, 0, [1, 2]]);
  assert.deepEqual(f.caWrites, { ca1: 2, ca2: 1 });
  assert.deepEqual(f.faults, { "kill-ca": 1 });
  assert.deepEqual(f.byResult, { "sign ok": 2, "sign unknown": 1 });
});

test("a serial issued to two certificates is caught: across CAs, in the write log, within one inventory", () => {
  const h = safe();
  h.writes = [...h.writes, { ca: "ca2", epoch: 2, at: 4, kind: "sign", certname: "z", serial: "0x2" }];
  assert.deepEqual(violations(h), ["serial 0x2 issued twice: /CN=a (ca1 at epoch 1), /CN=z (ca2 at epoch 2)"]);
  const twice = safe();
  const d = twice.cadirs[1] as { inventory: { serial: string; subject: string }[] };
  d.inventory = [...d.inventory, { serial: "0x0102", subject: "/CN=y" }];
  assert.deepEqual(violations(twice), [
    "serial 0x102 appears 2 times in ca2's inventory",
    "serial 0x102 issued twice: /CN=b (ca2 at epoch 2), /CN=y (ca2's inventory)",
  ]);
});

test("a certificate a client saw signed that the final active CA lacks is caught (inventory line or file)", () => {
  const h = safe();
  h.finalActive = "ca2";
  (h.cadirs[1] as { signed: ReadonlySet<string> }).signed = new Set(["b"]);
  assert.deepEqual(violations(h), ["a (serial 0x0002, signed by ca1 at epoch 1, seen by c1) lacks its signed/ file on the final active CA ca2"]);
  const noLine = safe();
  (noLine.cadirs[0] as { inventory: unknown }).inventory = parseInventory("0x0002 s e /CN=a\n");
  assert.match(violations(noLine).join("\n"), /^b \(serial 0x0102, .*\) lacks its inventory line on the final active CA ca1$/);
});

test("two CAs taking writes in one epoch, and a write without an epoch, are caught", () => {
  const h = safe();
  h.writes = [...h.writes, { ca: "ca2", epoch: 1, at: 5, kind: "csr", certname: "late" }, { ca: "ca1", epoch: undefined, at: 6, kind: "csr", certname: "bare" }];
  assert.deepEqual(violations(h), ["ca1 took a csr of bare without an epoch", "epoch 1: writes taken by ca1 and ca2"]);
});
