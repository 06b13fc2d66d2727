// The guard before every copy, rule by rule: a complete source is required, an empty destination
// may be filled, and a destination holding anything the source lacks is diverged, with the exact
// serial, subject or file named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { snapshotOf } from "../../../src/sync/cadir.js";
import { filesToSave, guard, type Difference } from "../../../src/sync/guard.js";
import { FakeCadir } from "../../helpers/cadir.js";
import { createTestCa } from "../../helpers/pki.js";

const base = new FakeCadir(createTestCa("guard-unit"));
base.sign("node1");
base.sign("node2"); // serials 0x0002, 0x0003; next 0x0004
const anotherCa = new FakeCadir(createTestCa("another"));

const snap = (c: FakeCadir) => snapshotOf("/x", c.files);

interface Case {
  name: string;
  /** Change the source and/or the destination (both start as copies of `base`). */
  arrange: (src: FakeCadir, dst: FakeCadir) => void;
  verdict: "copy" | "incomplete-source" | "diverged";
  expect?: Partial<Difference>[];
}

const cases: Case[] = [
  { name: "equal dirs may be copied", arrange: () => undefined, verdict: "copy" },
  { name: "a destination behind the source may be copied", arrange: (s) => { s.sign("node3"); s.revoke("0x0002"); s.request("node4"); }, verdict: "copy" },
  { name: "extra pending CSRs on the destination are not divergence (deleted with a backup)", arrange: (_s, d) => d.request("stray"), verdict: "copy" },
  { name: "source without ca_key.pem", arrange: (s) => s.delete("ca_key.pem"), verdict: "incomplete-source" },
  { name: "source with a bad inventory line", arrange: (s) => s.set("inventory.txt", "0x05 junk\n"), verdict: "incomplete-source" },
  { name: "source with a non-hex serial", arrange: (s) => s.set("serial", "zz"), verdict: "incomplete-source" },
  { name: "source with an unparseable CRL", arrange: (s) => s.set("ca_crl.pem", "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), verdict: "incomplete-source" },
  {
    name: "destination signed a cert the source lacks (serial, subject, file, next serial)",
    arrange: (_s, d) => { d.sign("rogue"); },
    verdict: "diverged",
    expect: [
      { kind: "inventory-serial", serial: "0x0004", subject: "/CN=rogue", path: "inventory.txt" },
      { kind: "signed-missing", path: "signed/rogue.pem" },
      { kind: "serial", source: "0x0004", destination: "0x0005", path: "serial" },
    ],
  },
  {
    name: "both signed the same serial for different nodes",
    arrange: (s, d) => { s.sign("alpha"); d.sign("beta"); },
    verdict: "diverged",
    expect: [
      { kind: "inventory-subject", serial: "0x0004", subject: "/CN=beta", sourceSubject: "/CN=alpha" },
      { kind: "signed-missing", path: "signed/beta.pem" },
    ],
  },
  {
    name: "a signed cert that differs from the source's",
    arrange: (_s, d) => { d.set("signed/node1.pem", base.ca.issue("node1", { serialHex: "0002" }).certPem); },
    verdict: "diverged",
    expect: [{ kind: "signed-differs", path: "signed/node1.pem" }],
  },
  { name: "a higher serial alone", arrange: (_s, d) => d.set("serial", "0010"), verdict: "diverged", expect: [{ kind: "serial", source: "0x0004", destination: "0x0010" }] },
  { name: "a lower serial is fine", arrange: (s) => s.set("serial", "0100"), verdict: "copy" },
  {
    name: "a higher CRL number (a revocation made on the destination)",
    arrange: (_s, d) => d.revoke("0x0003"),
    verdict: "diverged",
    expect: [
      { kind: "crl-number", source: "1", destination: "2", path: "ca_crl.pem" },
      { kind: "crl-revoked", serial: "0x0003" },
    ],
  },
  {
    name: "the same CRL number with a different revocation",
    arrange: (s, d) => { s.revoke("0x0002"); d.revoke("0x0003"); },
    verdict: "diverged",
    expect: [{ kind: "crl-revoked", serial: "0x0003", path: "ca_crl.pem" }],
  },
  { name: "an unparseable CRL on the destination that differs", arrange: (_s, d) => d.set("ca_crl.pem", "broken"), verdict: "diverged", expect: [{ kind: "crl-unreadable" }] },
  { name: "an unparseable serial on the destination that differs", arrange: (_s, d) => d.set("serial", "?"), verdict: "diverged", expect: [{ kind: "serial-unreadable" }] },
  {
    name: "an inventory line on the destination that does not parse and is not in the source",
    arrange: (_s, d) => d.set("inventory.txt", d.text("inventory.txt") + "garbage\n"),
    verdict: "diverged",
    expect: [{ kind: "inventory-line", path: "inventory.txt" }],
  },
  {
    name: "a destination belonging to another CA",
    arrange: (_s, d) => { d.set("ca_crt.pem", anotherCa.text("ca_crt.pem")).set("ca_key.pem", anotherCa.text("ca_key.pem")); },
    verdict: "diverged",
    expect: [{ kind: "ca-cert", path: "ca_crt.pem" }, { kind: "ca-key", path: "ca_key.pem" }],
  },
  { name: "a destination with only some files and nothing extra may be completed", arrange: (_s, d) => { d.delete("ca_crl.pem").delete("serial"); }, verdict: "copy" },
];

for (const c of cases) {
  test(`guard: ${c.name}`, () => {
    const src = base.clone();
    const dst = base.clone();
    c.arrange(src, dst);
    const v = guard(snap(src), snap(dst));
    assert.equal(v.verdict, c.verdict, JSON.stringify(v));
    if (c.expect) {
      assert.ok(v.verdict === "diverged");
      assert.equal(v.differences.length, c.expect.length, JSON.stringify(v.differences, null, 1));
      c.expect.forEach((e, i) => {
        for (const [k, val] of Object.entries(e)) assert.equal(v.differences[i]?.[k as keyof Difference], val, `${k} of difference ${i}`);
        assert.ok(v.differences[i]?.message);
      });
    }
  });
}

test("guard: an absent or empty destination (fresh standby) is filled", () => {
  assert.deepEqual(guard(snap(base), snapshotOf("/y", new Map(), false)), { verdict: "copy", fill: true });
  assert.deepEqual(guard(snap(base), snapshotOf("/y", new Map(), true)), { verdict: "copy", fill: true });
});

test("guard: an incomplete source is refused even when the destination is empty", () => {
  const v = guard(snapshotOf("/x", new Map(), false), snapshotOf("/y", new Map(), false));
  assert.deepEqual(v, { verdict: "incomplete-source", problems: ["the directory does not exist"] });
});

test("the files saved aside for a divergence are the destination files named, each once", () => {
  const d = base.clone();
  d.sign("rogue");
  const v = guard(snap(base), snap(d));
  assert.ok(v.verdict === "diverged");
  assert.deepEqual(filesToSave(v.differences), ["inventory.txt", "serial", "signed/rogue.pem"]);
});
