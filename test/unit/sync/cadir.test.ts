// CA dir parsing: inventory lines (good and bad), the serial file, and what makes a cadir
// complete. Reading ca_crl.pem (the CA's own CRL of a chain) is src/pki.ts: test/unit/proxy/pki.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { completenessProblems, formatSerial, isTransient, parseInventory, parseSerial, snapshotOf } from "../../../src/sync/cadir.js";
import { FakeCadir } from "../../helpers/cadir.js";
import { createTestCa } from "../../helpers/pki.js";

const ca = createTestCa("cadir-unit");
const other = createTestCa("someone-else");

test("inventory lines parse into serial, dates and subject", () => {
  const inv = parseInventory("0x0005 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC /CN=smoke-1\n0x1A2b 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC /CN=Puppet CA: x\n\n");
  assert.deepEqual(inv.problems, []);
  assert.equal(inv.entries.length, 2);
  assert.deepEqual(inv.entries[0], { serial: 5n, serialText: "0x0005", notBefore: "2026-11-20T08:19:27UTC", notAfter: "2031-11-20T08:19:27UTC", subject: "/CN=smoke-1", line: 1 });
  assert.equal(inv.entries[1]?.serial, 0x1a2bn);
  assert.equal(inv.entries[1]?.subject, "/CN=Puppet CA: x");
});

for (const [name, line] of [
  ["no 0x", "0005 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC /CN=a"],
  ["non-hex serial", "0x00G5 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC /CN=a"],
  ["bad date", "0x0005 2026-11-20 2031-11-20T08:19:27UTC /CN=a"],
  ["missing subject", "0x0005 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC"],
  ["subject without slash", "0x0005 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC CN=a"],
  ["truncated line", "0x0005 2026-11-20T08:1"],
] as const) {
  test(`an inventory line with ${name} is a problem with its line number`, () => {
    const inv = parseInventory(`0x0002 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC /CN=ok\n${line}\n`);
    assert.equal(inv.entries.length, 1);
    assert.deepEqual(inv.problems.map((p) => [p.line, p.text]), [[2, line]]);
  });
}

test("serial: hex with or without a trailing newline; anything else is refused", () => {
  assert.equal(parseSerial("0009"), 9n);
  assert.equal(parseSerial("1A0F\n"), 0x1a0fn);
  for (const bad of ["", "0x09", "12 ", "zz", "9\n\n"]) assert.throws(() => parseSerial(bad), /not hex/, bad);
  assert.equal(formatSerial(9n), "0009");
  assert.equal(formatSerial(0x1a0ffn), "1A0FF");
});

test("a complete cadir has no problems; each missing or broken file is named", () => {
  const good = new FakeCadir(ca);
  good.sign("node1");
  assert.deepEqual(completenessProblems(snapshotOf("/x", good.files)), []);
  const cases: [string, (c: FakeCadir) => void, RegExp][] = [
    ["no key", (c) => c.delete("ca_key.pem"), /ca_key.pem is missing/],
    ["bad cert", (c) => c.set("ca_crt.pem", "nope"), /ca_crt.pem does not parse/],
    ["bad key", (c) => c.set("ca_key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), /ca_key.pem does not parse/],
    ["bad CRL", (c) => c.set("ca_crl.pem", "x"), /ca_crl.pem does not parse/],
    ["CRL of another CA", (c) => c.set("ca_crl.pem", other.crl()), /ca_crl.pem does not parse/],
    ["bad serial", (c) => c.set("serial", "0x12"), /serial is not hex/],
    ["bad inventory", (c) => c.set("inventory.txt", c.text("inventory.txt") + "junk line\n"), /inventory.txt line 3 does not parse: "junk line"/],
    ["no inventory", (c) => c.delete("inventory.txt"), /inventory.txt is missing/],
    ["a signed cert caught mid-write", (c) => c.set("signed/node1.pem", c.text("signed/node1.pem").slice(0, 200)), /signed\/node1.pem is not a certificate/],
  ];
  for (const [name, spoil, re] of cases) {
    const c = good.clone();
    spoil(c);
    const problems = completenessProblems(snapshotOf("/x", c.files));
    assert.ok(problems.some((p) => re.test(p)), `${name}: ${problems.join("; ")}`);
  }
  assert.deepEqual(completenessProblems(snapshotOf("/x", new Map(), false)), ["the directory does not exist"]);
});

test("rsync's transient names are recognised", () => {
  assert.equal(isTransient("signed/.~tmp~/a.pem"), true);
  assert.equal(isTransient(".serial.a1B2c3"), true);
  assert.equal(isTransient("signed/.node1.pem.Xy12Zq"), true);
  assert.equal(isTransient("signed/node1.pem"), false);
  assert.equal(isTransient("serial"), false);
  // puppetserver's atomic-write temp files (a staged one once made a false divergence).
  assert.equal(isTransient("serial4722710060100920021tmp"), true);
  assert.equal(isTransient("signed/node1.pem6035182597211263242tmp"), true);
  assert.equal(isTransient("signed/node1tmp.pem"), false);
});
