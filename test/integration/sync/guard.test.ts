// Each guard refusal on real dirs: both sides untouched, the exact serial/subject/file reported
// (status and error), the destination's extra files saved aside; the source never written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DivergenceError, IncompleteSourceError } from "../../../src/sync/errors.js";
import type { FakeCadir } from "../../helpers/cadir.js";
import { contentsOf, makeHarness } from "./harness.js";

interface Case {
  name: string;
  spoil: (dst: FakeCadir, dir: string) => void;
  expect: { kind: string; serial?: string; subject?: string; path: string }[];
  saved: string[];
}

const cases: Case[] = [
  {
    name: "a cert signed on the destination only",
    spoil: (d) => { d.sign("rogue"); },
    expect: [
      { kind: "inventory-serial", serial: "0x0003", subject: "/CN=rogue", path: "inventory.txt" },
      { kind: "signed-missing", path: "signed/rogue.pem" },
      { kind: "serial", path: "serial" },
    ],
    saved: ["inventory.txt", "serial", "signed/rogue.pem"],
  },
  {
    name: "a revocation made on the destination only",
    spoil: (d) => d.revoke("0x0002"),
    expect: [{ kind: "crl-number", path: "ca_crl.pem" }, { kind: "crl-revoked", serial: "0x0002", path: "ca_crl.pem" }],
    saved: ["ca_crl.pem"],
  },
  {
    name: "a signed cert replaced on the destination",
    spoil: (d) => { d.set("signed/node1.pem", d.ca.issue("node1", { serialHex: "0002" }).certPem); },
    expect: [{ kind: "signed-differs", path: "signed/node1.pem" }],
    saved: ["signed/node1.pem"],
  },
];

for (const c of cases) {
  test(`diverged: ${c.name}`, async (t) => {
    const h = makeHarness(t);
    const dst = h.source.clone();
    c.spoil(dst, h.ca2);
    dst.writeTo(h.ca2);
    h.source.request("waiting"); // the source also has something new: still nothing may move
    h.source.writeTo(h.ca1);
    const [src0, dst0] = [await contentsOf(h.ca1), await contentsOf(h.ca2)];
    const [r] = await h.service.requestPass("ca2");
    assert.equal(r?.result, "diverged");
    assert.ok(r?.error instanceof DivergenceError);
    assert.deepEqual(r.error.differences.map((d) => ({ kind: d.kind, path: d.path, ...(d.serial ? { serial: d.serial } : {}), ...(d.subject ? { subject: d.subject } : {}) })), c.expect);
    assert.deepEqual(await contentsOf(h.ca1), src0, "source untouched");
    assert.deepEqual(await contentsOf(h.ca2), dst0, "destination untouched");
    const st = h.service.status().destinations.ca2;
    assert.equal(st?.state, "diverged");
    assert.equal(st?.lastError?.code, "E_DIVERGED");
    assert.deepEqual(st?.divergence?.differences.map((d) => d.kind), c.expect.map((e) => e.kind));
    const savedTo = st?.divergence?.savedTo as string;
    assert.ok(savedTo.startsWith(join(h.backupDir, "ca2", "diverged-")));
    for (const f of c.saved) assert.equal(readFileSync(join(savedTo, f), "utf8"), readFileSync(join(h.ca2, f), "utf8"), f);
    // A second pass reports the same and saves nothing new.
    const [again] = await h.service.requestPass("ca2");
    assert.equal(again?.result, "diverged");
    assert.deepEqual(readdirSync(join(h.backupDir, "ca2")), [savedTo.split("/").at(-1)]);
  });
}

test("the operator resolves a divergence (extra cert moved away): the next pass converges", async (t) => {
  const h = makeHarness(t);
  const dst = h.source.clone();
  dst.set("signed/stray.pem", h.source.text("signed/node1.pem"));
  dst.writeTo(h.ca2);
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "diverged");
  rmSync(join(h.ca2, "signed/stray.pem"));
  const [ok] = await h.service.requestPass("ca2");
  assert.equal(ok?.result, "in-sync", ok?.error?.message);
  assert.equal(h.service.status().destinations.ca2?.divergence, null);
});

test("an incomplete source (no CRL) is an error and nothing is copied into an empty standby", async (t) => {
  const h = makeHarness(t);
  rmSync(join(h.ca1, "ca_crl.pem"));
  writeFileSync(join(h.ca1, "inventory.txt"), "0x0002 bad\n");
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "error");
  assert.ok(r?.error instanceof IncompleteSourceError);
  assert.deepEqual(r.error.problems, ["ca_crl.pem is missing", "inventory.txt line 1 does not parse: \"0x0002 bad\""]);
  assert.equal(existsSync(h.ca2), false);
  assert.equal(h.service.status().destinations.ca2?.lastError?.code, "E_SOURCE_INCOMPLETE");
});
