// Reading notAfter of the CA certificate and nextUpdate / CRL Number of a CRL from PEM files made by
// the test PKI with chosen dates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createTestCa } from "../../helpers/pki.js";
import { certNotAfter, crlNextUpdate, daysLeft, expiryReport } from "../../../src/health/expiry.js";
import { DerError, pemToDer } from "../../../src/pki.js";
import { DAY, NOW } from "../../helpers/health.js";

const notAfter = new Date(NOW.getTime() + 12 * DAY);
const ca = createTestCa("expiry", { notBefore: new Date(NOW.getTime() - 400 * DAY), notAfter });

test("certNotAfter reads the CA certificate's notAfter", () => {
  assert.equal(certNotAfter(ca.certPem).toISOString(), notAfter.toISOString());
});

test("crlNextUpdate reads nextUpdate and the CRL number (PEM or DER)", () => {
  const nextUpdate = new Date(NOW.getTime() + 3 * DAY);
  const pem = ca.crl({ thisUpdate: new Date(NOW.getTime() - DAY), nextUpdate, number: 4242, revoked: ["0A", "FF01"] });
  assert.deepEqual(crlNextUpdate(pem), { nextUpdate, number: "4242" });
  assert.deepEqual(crlNextUpdate(pemToDer(pem, "X509 CRL")), { nextUpdate, number: "4242" });
});

test("a large CRL number keeps every digit", () => {
  assert.equal(crlNextUpdate(ca.crl({ number: Number.MAX_SAFE_INTEGER })).number, String(Number.MAX_SAFE_INTEGER));
});

test("garbage is a DerError, not a crash", () => {
  assert.throws(() => crlNextUpdate("not a crl"), DerError);
  assert.throws(() => crlNextUpdate(Buffer.from([0x30, 0x82, 0xff])), DerError);
  assert.throws(() => crlNextUpdate(ca.certPem), DerError);
});

test("days left round down, and go negative once expired", () => {
  assert.equal(daysLeft(new Date(NOW.getTime() + 40 * DAY - 1), NOW), 39);
  assert.equal(daysLeft(new Date(NOW.getTime() + 1000), NOW), 0);
  assert.equal(daysLeft(new Date(NOW.getTime() - 1000), NOW), -1);
  assert.deepEqual(expiryReport(notAfter, NOW), { notAfter: notAfter.toISOString(), daysLeft: 12 });
});
