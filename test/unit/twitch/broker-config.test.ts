// twitch.broker and fleet config sections: defaults in one place, every bad key named with its
// path; and the reconnect backoff nodes use against the broker.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.js";
import { ConfigError } from "../../../src/errors.js";
import { reconnectDelay } from "../../../src/twitch/broker/connect.js";

const broker = `twitch:
  broker:
    urls: ["tls://nats1.example:4222"]
    tls: { cert: /ssl/certs/n.pem, key: /ssl/private_keys/n.pem, ca: /ssl/certs/ca.pem }
    allow: ["admin.example"]
`;

test("a minimal broker section gets its defaults", () => {
  const b = parseConfig(broker).twitch?.broker;
  assert.deepEqual(b && { ...b, tls: undefined }, {
    urls: ["tls://nats1.example:4222"], tls: undefined, allow: ["admin.example"], subjectPrefix: "puppet-ha.fleet", statusBucket: "puppet_ha_fleet",
    publishStatus: true, maxSkew: 30_000, maxTtl: 600_000, maxMessageSize: 65_536,
  });
  assert.deepEqual(parseConfig("fleet: {}\n").fleet, { subjectPrefix: "puppet-ha.fleet", statusBucket: "puppet_ha_fleet", silentAfter: 7_200_000, concurrency: 100, canary: 1 });
});

test("bad broker keys are each named with their path", () => {
  const text = `twitch:
  broker:
    urls: ["http://nats1.example:4222", "tls://user:pw@nats2.example:4222"]
    tls: { cert: relative.pem, key: /k, ca: /c }
    allow: []
    subjectPrefix: "bad prefix"
    maxSkew: soon
    extra: 1
`;
  try {
    parseConfig(text);
    assert.fail("expected a ConfigError");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems.map((p) => p.path).sort(), [
      "twitch.broker.allow", "twitch.broker.extra", "twitch.broker.maxSkew", "twitch.broker.subjectPrefix",
      "twitch.broker.tls.cert", "twitch.broker.urls[0]", "twitch.broker.urls[1]",
    ]);
  }
});

test("reconnect backoff: 250 ms doubling to a 15 s ceiling, plus at most 20 % jitter", () => {
  assert.deepEqual([0, 1, 2, 3, 6, 20].map((n) => reconnectDelay(n, () => 0)), [250, 500, 1000, 2000, 15_000, 15_000]);
  assert.equal(reconnectDelay(0, () => 0.999), 300);
  assert.equal(reconnectDelay(20, () => 0.999), 17_997);
});
