// The signed certnames the status page counts "never reported" against (src/twitch/fleet/signed-certnames.ts):
// read from a cadir on disk as puppetserver writes it: signed/ minus the certnames whose current
// serial is on the CA's CRL; read again when the cadir changes; the active worker's cadir first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeCadir } from "../../helpers/cadir.js";
import { cadirSignedCertnames, inventoryReader, localCadir, signedCertnamesOf } from "../../../src/twitch/fleet/signed-certnames.js";

const root = mkdtempSync(join(tmpdir(), "signed-certnames-"));
test.after(() => rmSync(root, { recursive: true, force: true }));

test("signed/ minus revoked certs; a certname signed again after its revocation counts; temp files do not", async () => {
  const cadir = new FakeCadir();
  cadir.sign("web1.example");
  const web2 = cadir.sign("web2.example");
  const db1 = cadir.sign("db1.example");
  cadir.revoke(web2, db1);
  cadir.delete("signed/db1.example.pem"); // `puppetserver ca clean db1.example`, then a new cert
  cadir.sign("db1.example");
  const dir = cadir.writeTo(join(root, "a"));
  writeFileSync(join(dir, "signed", "web3.example.pem6035182597211263242tmp"), "half written");
  const source = cadirSignedCertnames(() => dir);
  assert.deepEqual([...(await source.read())].sort(), ["db1.example", "web1.example"]);

  // A new signature changes signed/ and inventory.txt: read again.
  cadir.sign("web4.example");
  cadir.writeTo(dir);
  assert.deepEqual([...(await source.read())].sort(), ["db1.example", "web1.example", "web4.example"]);
  // A revocation only rewrites ca_crl.pem: read again too.
  cadir.revoke(cadir.text("inventory.txt").trim().split("\n").at(-1)?.split(" ")[0] ?? "");
  cadir.writeTo(dir);
  assert.deepEqual([...(await source.read())].sort(), ["db1.example", "web1.example"]);
});

test("a cadir that cannot be read throws; no local cadir means no source", async () => {
  await assert.rejects(cadirSignedCertnames(() => join(root, "missing")).read(), /ENOENT/);
  assert.equal(signedCertnamesOf(undefined, () => "ca1"), undefined);
  assert.equal(signedCertnamesOf({ ca1: "puppet@ca1:/etc/puppetlabs/puppetserver/ca", ca2: "ca2:/x" }, () => "ca1"), undefined);
  assert.equal(signedCertnamesOf({ ca1: "puppet@ca1:/x", ca2: "/local/ca2" }, () => "ca1")?.cadir, "/local/ca2");
});

test("the active worker's cadir when it is local, else the first local one", () => {
  const cadirs = { ca1: "/srv/ca1", ca2: "/srv/ca2", ca3: "ca3.example:/srv/ca" };
  assert.equal(localCadir(cadirs, "ca2"), "/srv/ca2");
  assert.equal(localCadir(cadirs, "ca3"), "/srv/ca1");
  assert.equal(localCadir(cadirs, undefined), "/srv/ca1");
  let active = "ca1";
  const source = signedCertnamesOf(cadirs, () => active);
  assert.equal(source?.cadir, "/srv/ca1");
  active = "ca2";
  assert.equal(source?.cadir, "/srv/ca2", "follows a promotion");
});

test("inventory.txt: an append is parsed from the old end only; another file, a shorter one or a changed end is parsed whole", () => {
  const line = (serial: number, cn: string) => `0x${serial.toString(16).padStart(4, "0")} 2026-01-01T00:00:00UTC 2031-01-01T00:00:00UTC /CN=${cn}\n`;
  const first = line(1, "a") + line(2, "b");
  const r = inventoryReader();
  assert.deepEqual([...r.read(Buffer.from(first), 7)], [["a", "1"], ["b", "2"]]);
  assert.equal(r.parsedBytes, first.length);
  // Appended: a new cert for b and a half-written line (waits for the next read).
  const more = first + line(3, "b") + "0x0004 2026";
  assert.deepEqual([...r.read(Buffer.from(more), 7)], [["a", "1"], ["b", "3"]]);
  assert.equal(r.parsedBytes, line(3, "b").length, "only the appended whole line");
  const done = first + line(3, "b") + line(4, "c");
  assert.deepEqual([...r.read(Buffer.from(done), 7)].at(-1), ["c", "4"]);
  assert.equal(r.parsedBytes, line(4, "c").length);
  // Rewritten (its old end changed), replaced (another inode), shorter: parsed whole.
  const rewritten = line(1, "a") + line(2, "b") + line(5, "x") + line(6, "d");
  assert.deepEqual([...r.read(Buffer.from(rewritten), 7)], [["a", "1"], ["b", "2"], ["x", "5"], ["d", "6"]]);
  assert.equal(r.parsedBytes, rewritten.length);
  assert.deepEqual([...r.read(Buffer.from(rewritten), 8)].length, 4);
  assert.equal(r.parsedBytes, rewritten.length);
  assert.deepEqual([...r.read(Buffer.from(first), 8)], [["a", "1"], ["b", "2"]]);
  assert.equal(r.parsedBytes, first.length);
});
