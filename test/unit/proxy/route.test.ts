// Routing and target validation: which pool, which targets are refused, what is forwarded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { classify } from "../../../src/proxy/route.js";

const routed: [method: string, target: string, pool: "ca" | "master", flags?: { caWrite?: boolean; revoking?: boolean; fileBucket?: boolean; forwarded?: string }][] = [
  ["GET", "/puppet-ca/v1/certificate/ca", "ca"],
  ["GET", "/puppet-ca/v1/certificate_revocation_list/ca", "ca"],
  ["PUT", "/puppet-ca/v1/certificate_request/node1", "ca", { caWrite: true, revoking: false }],
  ["PUT", "/puppet-ca/v1/certificate_status/node1", "ca", { caWrite: true, revoking: true }],
  ["DELETE", "/puppet-ca/v1/certificate_status/node1", "ca", { caWrite: true, revoking: true }],
  ["PUT", "/puppet-ca/v1/clean", "ca", { caWrite: true, revoking: true }],
  ["PUT", "/puppet-ca/v1/certificate_revocation_list", "ca", { caWrite: true, revoking: true }],
  ["POST", "/puppet-ca/v1/certificate_renewal", "ca", { caWrite: true, revoking: false }],
  ["GET", "/puppet-ca/v1/certificate_statuses/any?state=requested", "ca"],
  ["HEAD", "/puppet-ca/v1/certificate_status/node1", "ca", { caWrite: false, revoking: false }],
  ["GET", "/puppet-ca", "ca"],
  // Puppet 3 legacy CA paths: /<environment>/certificate...
  ["GET", "/production/certificate/ca", "ca"],
  ["GET", "/production/certificate_request/node1", "ca"],
  ["GET", "/production/certificate_revocation_list/ca", "ca"],
  ["PUT", "/production/certificate_status/node1", "ca", { caWrite: true, revoking: true }],
  ["GET", "/production/certificate_statuses/all", "ca"],
  // Masters
  ["GET", "/puppet/v3/node/node1?environment=production", "master"],
  ["POST", "/puppet/v3/catalog/node1?environment=production", "master"],
  ["PUT", "/puppet/v3/report/node1?environment=production", "master"],
  ["POST", "/puppet/v4/catalog", "master"],
  ["GET", "/status/v1/simple", "master"],
  ["GET", "/production/certificates/x", "master"],
  ["GET", "/production/certificate_x/y", "master"],
  ["GET", "/a/b/certificate/ca", "master"],
  ["GET", "/puppet-cax/v1/certificate/ca", "master"],
  ["GET", "/puppet/v3/file_bucket_file/md5/abc?environment=production", "master", { fileBucket: true }],
  ["GET", "/puppet/v3/file_content/modules/x?environment=production", "master", { fileBucket: false }],
  ["GET", "/", "master"],
  // Percent-encoded unreserved characters are decoded, and the decoded target is what is forwarded.
  ["GET", "/puppet-c%61/v1/certificate/ca", "ca", { forwarded: "/puppet-ca/v1/certificate/ca" }],
  ["GET", "/puppet%2Dca/v1/certificate/ca", "ca", { forwarded: "/puppet-ca/v1/certificate/ca" }],
  ["GET", "/puppet/v3/file_content/a%20b?x=%2F", "master", { forwarded: "/puppet/v3/file_content/a%20b?x=%2F" }],
  // Dots inside a segment are fine.
  ["GET", "/puppet/v3/file_content/modules/a..b/c.txt", "master"],
];

for (const [method, target, pool, flags = {}] of routed) {
  test(`${method} ${target} goes to ${pool}`, () => {
    const r = classify(method, target);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.pool, pool);
    assert.equal(r.target, flags.forwarded ?? target);
    if (flags.caWrite !== undefined) assert.equal(r.caWrite, flags.caWrite);
    if (flags.revoking !== undefined) assert.equal(r.revoking, flags.revoking);
    if (flags.fileBucket !== undefined) assert.equal(r.fileBucket, flags.fileBucket);
  });
}

const refused: [target: string, why: RegExp][] = [
  ["puppet-ca/v1/certificate/ca", /start with \//],
  ["http://x/puppet-ca/v1/certificate/ca", /start with \//],
  ["*", /start with \//],
  ["", /start with \//],
  ["/puppet/v3/../../puppet-ca/v1/certificate_status/x", /dot segment/],
  ["/puppet-ca/v1/../x", /dot segment/],
  ["/puppet-ca/v1/./certificate/ca", /dot segment/],
  ["/..", /dot segment/],
  ["/.", /dot segment/],
  ["/puppet/%2e%2e/puppet-ca/v1/clean", /dot segment/],
  ["/puppet/%2E./puppet-ca/v1/clean", /dot segment/],
  ["/puppet/.%2e/x", /dot segment/],
  ["/puppet/%2e/x", /dot segment/],
  ["/puppet-ca%2fv1/certificate/ca", /encoded \//],
  ["/puppet-ca%2Fv1/certificate/ca", /encoded \//],
  ["/puppet/v3%5c..%5cpuppet-ca", /encoded \//],
  ["/puppet\\..\\puppet-ca", /forbidden character/],
  ["/puppet-ca/v1/certificate/ca\x00", /forbidden character/],
  ["/puppet-ca/v1/certificate/%00ca", /control/],
  ["/puppet-ca/v1/certificate/%0aca", /control/],
  ["/puppet-ca/v1/certificate/c\ta", /forbidden character/],
  ["/puppet-ca/v1/certificate/c\x7fa", /forbidden character/],
  ["/puppet-ca/v1/x?y=\x01", /forbidden character in query/],
  ["/puppet-ca;x/v1/certificate/ca", /forbidden character/],
  ["/puppet-ca%3bx/v1/certificate/ca", /encoded ;/],
  ["/puppet/v3/x#frag", /forbidden character/],
  ["/puppet/v3/x%zz", /bad percent/],
  ["/puppet/v3/x%2", /bad percent/],
  // `//` is refused wherever it is: it never reaches a CA or a master.
  ["//puppet-ca/v1/certificate/ca", /\/\//],
  ["/puppet//v3/node/x", /\/\//],
  ["/puppet-ca/v1//certificate/ca", /\/\//],
  ["//", /\/\//],
];

for (const [target, why] of refused) {
  test(`${JSON.stringify(target)} is refused (${why.source})`, () => {
    const r = classify("GET", target);
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.match((r as { reason: string }).reason, why);
  });
}

test("a query string never changes the pool", () => {
  const r = classify("GET", "/puppet/v3/node/x?path=/puppet-ca/v1/clean&y=..");
  assert.ok(r.ok);
  assert.equal(r.pool, "master");
});
