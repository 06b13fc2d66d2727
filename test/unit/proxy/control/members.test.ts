// Member records: strict parsing, and which members a failback hold still waits for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { holdAcknowledged, parseMember, type MemberRecord } from "../../../../src/proxy/control/members.js";
import { StateError } from "../../../../src/errors.js";

const base: MemberRecord = { name: "p1", adminUrl: "http://127.0.0.1:8141", appliedEpoch: 3, viewAgeMs: 120, caWritesInFlight: 0, holdAck: null, publishedAt: 1 };

test("a record round-trips; missing or wrong fields are a StateError naming the key", () => {
  assert.deepEqual(parseMember(JSON.stringify(base), "k"), base);
  for (const bad of [{ ...base, appliedEpoch: "3" }, { ...base, caWritesInFlight: -1 }, { ...base, holdAck: 5 }, { name: "p1" }]) {
    assert.throws(() => parseMember(JSON.stringify(bad), "/p/members/p1"), (e: unknown) => e instanceof StateError && e.message.startsWith("/p/members/p1: member record must be"));
  }
});

const cases: [string, Partial<MemberRecord>[], string[]][] = [
  ["all acknowledged with nothing in flight", [{ name: "a", holdAck: "h1" }, { name: "b", holdAck: "h1" }], []],
  ["one acknowledged an older hold", [{ name: "a", holdAck: "h1" }, { name: "b", holdAck: "h0" }], ["b"]],
  ["one has not acknowledged", [{ name: "a", holdAck: null }], ["a"]],
  ["acknowledged but a write still in flight", [{ name: "a", holdAck: "h1", caWritesInFlight: 1 }], ["a"]],
  ["no live member (all leases expired)", [], []],
];
for (const [name, members, waiting] of cases) {
  test(`hold acknowledgement: ${name}`, () => {
    const r = holdAcknowledged(members.map((m) => ({ ...base, ...m })), "h1");
    assert.deepEqual(r, { done: waiting.length === 0, waitingFor: waiting });
  });
}
