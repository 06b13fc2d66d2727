// Pure parts of the fleet broker: canonical JSON, sealing and opening envelopes, filters,
// admission with an injected clock (expiry, skew, replay), and the generated nats-server config.
import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalJson } from "../../../src/twitch/broker/canonical.js";
import { DroppedMessage, identityFromPem, open, seal } from "../../../src/twitch/broker/envelope.js";
import { FilterError, mismatch, parseFilter } from "../../../src/twitch/broker/filter.js";
import { SeenRequests, admit } from "../../../src/twitch/broker/admission.js";
import { readRequest } from "../../../src/twitch/broker/messages.js";
import { nodePermissions, renderServerConfig } from "../../../src/twitch/broker/server-config.js";
import { PuppetTrust } from "../../../src/twitch/broker/trust.js";
import { inboxPrefix } from "../../../src/twitch/broker/subjects.js";
import { checkReply } from "../../../src/twitch/fleet/broker-client.js";
import { createTestCa } from "../../helpers/pki.js";

test("canonical JSON sorts keys at every depth, drops undefined members and refuses non-JSON numbers", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, "x", null], c: true }, u: undefined }), '{"a":{"c":true,"d":[1,"x",null]},"b":1}');
  assert.throws(() => canonicalJson({ n: NaN }));
  assert.throws(() => canonicalJson({ n: 1n }));
});

test("seal/open: signer from the CA, any key order verifies, a changed byte or another CA does not", () => {
  const ca = createTestCa("unit");
  const c = ca.issue("controller.example");
  const id = identityFromPem(c.certname, c.certPem, c.keyPem);
  const trust = new PuppetTrust(ca.certPem, ca.crl());
  const data = seal({ id: "abcdefgh", z: 1, a: [2] }, id);
  assert.equal(open(data, trust, 65536).signer.certname, "controller.example");
  const reordered = Buffer.from(Buffer.from(data).toString().replace('{"a":[2],"id":"abcdefgh","z":1}', '{"z":1,"id":"abcdefgh","a":[2]}'));
  assert.equal(open(reordered, trust, 65536).payload.z, 1);
  const changed = Buffer.from(Buffer.from(data).toString().replace('"z":1', '"z":2'));
  assert.throws(() => open(changed, trust, 65536), (e: DroppedMessage) => e.reason === "bad-signature");
  assert.throws(() => open(data, trust, 100), (e: DroppedMessage) => e.reason === "too-large");
  const other = new PuppetTrust(createTestCa("other").certPem, undefined);
  assert.throws(() => open(data, other, 65536), (e: DroppedMessage) => e.reason === "untrusted-cert" && /not issued by the Puppet CA/.test(e.message));
  const revoked = new PuppetTrust(ca.certPem, ca.crl({ revoked: [c.serialHex] }));
  assert.throws(() => open(data, revoked, 65536), /revoked/);
});

test("checkReply: the signer's certname must be the certname the reply claims", () => {
  const ca = createTestCa("unit");
  const n2 = ca.issue("node2.example");
  const trust = new PuppetTrust(ca.certPem, undefined);
  const id = identityFromPem(n2.certname, n2.certPem, n2.keyPem);
  const lie = seal({ id: "abcdefgh", certname: "node1.example", kind: "noop", time: 1 }, id);
  assert.deepEqual(checkReply(lie, trust, 65536), { ok: false, reason: "reply claims node1.example but is signed by node2.example" });
  const truth = seal({ id: "abcdefgh", certname: "node2.example", kind: "noop", time: 1 }, id);
  assert.equal(checkReply(truth, trust, 65536).ok, true);
});

test("filters: grammar errors name the bad term; matching is AND across kinds, OR across certname globs", () => {
  for (const [w, msg] of [
    [{ facts: ["os.family"] }, /is not FACT=VALUE/],
    [{ facts: ["role=~(x"] }, /bad regex/],
    [{ classes: ["Apache Server"] }, /not a Puppet class name/],
    [{ certname: ["web/1"] }, /not a certname glob/],
    [{ environment: "Prod!" }, /environment must match/],
  ] as const) assert.throws(() => parseFilter(w as never), (e: Error) => e instanceof FilterError && msg.test(e.message));
  const node = { certname: "web1.example", facts: { os: { family: "Debian" }, role: "web", cores: 4 }, classes: new Set(["apache", "ntp"]), environment: "production" };
  const m = (w: object) => mismatch(parseFilter(w), node);
  assert.equal(m({}), undefined);
  assert.equal(m({ certname: ["db*", "web?.example"] }), undefined);
  assert.equal(m({ certname: ["db*"] }), "certname");
  assert.equal(m({ facts: ["os.family=Debian", "role=~^we", "cores=4", "role!=db", "os.name!~."] }), undefined);
  assert.equal(m({ facts: ["os.family=RedHat"] }), "fact os.family");
  assert.equal(m({ classes: ["::apache"] }), undefined);
  assert.equal(m({ classes: ["postgresql"] }), "class postgresql");
  assert.equal(m({ environment: "staging" }), "environment");
});

test("admission: allowlist, ttl bound, future beyond skew, expiry, replay (kept until the request expires)", () => {
  let now = 1_000_000;
  const seen = new SeenRequests(() => now);
  const policy = { allow: ["ctl*.example"], maxSkewMs: 1000, maxTtlMs: 60_000 };
  const req = (o: object = {}) => readRequest({ id: "abcdefgh", time: now, ttl: 10_000, filter: {}, action: "run", options: {}, ...o });
  assert.equal(admit(req(), "intruder.example", policy, seen, now).act, "drop");
  assert.deepEqual(admit(req({ ttl: 120_000 }), "ctl1.example", policy, seen, now), { act: "drop", reason: "ttl-too-long", detail: "ttl 120000 ms is above 60000 ms" });
  assert.equal((admit(req({ time: now + 1001 }), "ctl1.example", policy, seen, now) as { reason: string }).reason, "future");
  assert.equal(admit(req({ time: now + 999 }), "ctl1.example", policy, new SeenRequests(() => now), now).act, "handle", "within the skew");
  assert.equal((admit(req({ time: now - 11_001 }), "ctl1.example", policy, seen, now) as { reason: string }).reason, "expired");
  assert.equal(admit(req(), "ctl1.example", policy, seen, now).act, "handle");
  const r = req();
  now += 5000;
  assert.deepEqual(admit(r, "ctl1.example", policy, seen, now), { act: "seen", last: undefined });
  now += 7000;
  assert.equal((admit(r, "ctl1.example", policy, seen, now) as { reason: string }).reason, "expired", "after expiry a replay is refused as expired");
  assert.equal(seen.get("abcdefgh"), undefined);
});

test("readRequest: unknown fields, actions and options are errors", () => {
  const base = { id: "abcdefgh", time: 1, ttl: 1, filter: {}, action: "run", options: {} };
  assert.throws(() => readRequest({ ...base, extra: 1 }), /unknown request field "extra"/);
  assert.throws(() => readRequest({ ...base, action: "shell" }), /unknown action "shell"/);
  assert.throws(() => readRequest({ ...base, options: { command: "rm" } }), /unknown option "command"/);
  assert.throws(() => readRequest({ ...base, options: { environment: "../x" } }), /environment must match/);
  assert.throws(() => readRequest({ ...base, id: "a.b" }), /request id/);
});

test("broker config: verify_and_map, one user per certname, a node publishes only its own reply and status subjects", () => {
  const text = renderServerConfig({
    listen: "0.0.0.0:4222", cert: "/etc/b.pem", key: "/etc/b.key", ca: "/etc/ca.pem", storeDir: "/var/lib/nats", subjectPrefix: "puppet-ha.fleet",
    bucket: "puppet_ha_fleet", controllers: ["ctl.example"], nodes: ["web1.example", "ctl.example"], maxPayload: 1048576,
  });
  assert.match(text, /verify_and_map: true/);
  assert.match(text, /user: "CN=ctl\.example", permissions: \{ publish: \{ allow: \["puppet-ha\.fleet\.req\.>"/);
  assert.equal(text.match(/user: "CN=ctl\.example"/g)?.length, 1, "a controller listed as node too gets one user");
  assert.deepEqual(nodePermissions("web1.example", "puppet-ha.fleet", "puppet_ha_fleet"), {
    publish: ["puppet-ha.fleet.reply.*.web1.example", "$KV.puppet_ha_fleet.web1.example"],
    subscribe: ["puppet-ha.fleet.req.all", "puppet-ha.fleet.req.node.web1.example", `${inboxPrefix("web1.example")}.>`],
  });
  assert.throws(() => renderServerConfig({ listen: "x", cert: "/a", key: "/b", ca: "/c", storeDir: "/d", subjectPrefix: "p", bucket: "b", controllers: ["bad name"], nodes: [], maxPayload: 1 }), /not a certname/);
});
