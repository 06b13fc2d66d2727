// The one CRL parser (src/pki.ts, used by proxy, sync and health): CRL Number, dates, revoked
// serials, the issuer, the CA's own CRL of a chained ca_crl.pem, the signature check, and the CRL
// choice of TlsMaterial (never an older CRL Number).
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestCa } from "../../helpers/pki.js";
import { caCrlOf, certSubjectDer, crlSignedBy, DerError, normalizeSerial, parseCrl, pemToDer } from "../../../src/pki.js";
import { checkCrl, crlIsNewer, TlsMaterial } from "../../../src/proxy/tls.js";
import { StateError } from "../../../src/errors.js";

const ca = createTestCa("pki-unit");
const other = createTestCa("other");

test("parseCrl reads the CRL Number, dates and revoked serials", () => {
  const thisUpdate = new Date("2026-01-02T03:04:05Z");
  const nextUpdate = new Date("2031-01-02T03:04:05Z");
  const info = parseCrl(ca.crl({ number: 0x1234, revoked: ["0A", "00ff", "80"], thisUpdate, nextUpdate }));
  assert.equal(info.number, 0x1234n);
  assert.equal(info.thisUpdate.toISOString(), thisUpdate.toISOString());
  assert.equal(info.nextUpdate?.toISOString(), nextUpdate.toISOString());
  assert.deepEqual([...info.revoked].sort(), ["80", "A", "FF"]);
  assert.equal(parseCrl(ca.crl({ number: 1 })).revoked.size, 0);
});

test("big CRL numbers are exact", () => {
  assert.equal(parseCrl(ca.crl({ number: 2 ** 40 + 3 })).number, 2n ** 40n + 3n);
});

test("a chained ca_crl.pem: the CRL issued by ca_crt.pem's subject is taken, wherever it is", () => {
  const own = ca.crl({ number: 7, revoked: ["0005", "1A"] });
  const parent = other.crl({ number: 99 });
  for (const file of [own + parent, parent + own]) {
    const crl = caCrlOf(file, ca.certPem);
    assert.equal(crl.number, 7n);
    assert.deepEqual([...crl.revoked].sort(), ["1A", "5"]);
    assert.ok(crl.issuer.equals(certSubjectDer(pemToDer(ca.certPem, "CERTIFICATE"))));
  }
  assert.equal(caCrlOf(ca.crl({ number: 300 }), ca.certPem).number, 300n);
  assert.equal(caCrlOf(parent + own, "").number, 99n, "without a CA cert the first CRL is taken");
  assert.throws(() => caCrlOf(parent, ca.certPem), /issued by ca_crt.pem/);
  assert.throws(() => caCrlOf("garbage", ca.certPem), /no CRL/);
  const broken = own.replace(/\n[A-Za-z0-9+/]{20}/, "\nAAAAAAAAAAAAAAAAAAAA");
  assert.throws(() => caCrlOf(broken, ca.certPem), DerError);
});

test("the signature is checked against the CA key", () => {
  const info = parseCrl(ca.crl({ number: 5 }));
  assert.equal(crlSignedBy(info, new X509Certificate(ca.certPem)), true);
  assert.equal(crlSignedBy(info, new X509Certificate(other.certPem)), false);
  assert.match(checkCrl(other.crl(), [new X509Certificate(ca.certPem)]) as string, /not signed/);
  assert.match(checkCrl("garbage", [new X509Certificate(ca.certPem)]) as string, /not a CRL/);
});

test("serials are normalised like Node prints them", () => {
  assert.equal(normalizeSerial("00:0a"), "A");
  assert.equal(normalizeSerial("0x00FF"), "FF");
  assert.equal(normalizeSerial("0000"), "0");
  const leaf = ca.issue("n1", { serialHex: "00AB" });
  assert.equal(normalizeSerial(new X509Certificate(leaf.certPem).serialNumber), "AB");
});

test("crlIsNewer compares CRL Numbers", () => {
  const a = parseCrl(ca.crl({ number: 2 }));
  const b = parseCrl(ca.crl({ number: 10 }));
  assert.equal(crlIsNewer(b, a), true);
  assert.equal(crlIsNewer(a, b), false);
  assert.equal(crlIsNewer(a, a), false);
});

test("TlsMaterial uses the newest valid CRL of the config file and the stateDir copy, and offer() never goes back", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = ca.issue("proxy", { sans: ["localhost"] });
  const files = { cert: join(dir, "c.pem"), key: join(dir, "k.pem"), ca: join(dir, "ca.pem"), crl: join(dir, "crl.pem"), minVersion: "TLSv1.2" as const };
  writeFileSync(files.cert, server.certPem);
  writeFileSync(files.key, server.keyPem);
  writeFileSync(files.ca, ca.certPem);
  writeFileSync(files.crl, ca.crl({ number: 3 }));
  const state = join(dir, "state");
  const m = new TlsMaterial(files, state);
  m.load();
  assert.equal(m.crl.info.number, 3n);
  assert.equal(m.offer(ca.crl({ number: 2 }), "ca1"), "not newer");
  assert.match(m.offer(other.crl({ number: 9 }), "ca1"), /not signed/);
  assert.equal(m.offer(ca.crl({ number: 7, revoked: ["0B"] }), "ca1"), "");
  assert.equal(parseCrl(readFileSync(join(state, "crl.pem"), "utf8")).number, 7n, "saved in stateDir");
  // A restart reads the stateDir copy: CRL 7 wins over the configured CRL 3.
  const again = new TlsMaterial(files, state);
  again.load();
  assert.equal(again.crl.info.number, 7n);
  assert.ok(again.crl.info.revoked.has("B"));
  // A newer configured CRL wins over the saved one.
  writeFileSync(files.crl, ca.crl({ number: 8 }));
  again.load();
  assert.equal(again.crl.info.number, 8n);
  // A configured CRL of another CA is refused with the file named.
  writeFileSync(files.crl, other.crl());
  assert.throws(() => new TlsMaterial(files, state).load(), StateError);
});
