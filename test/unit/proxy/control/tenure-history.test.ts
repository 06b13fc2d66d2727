// The tenure checker used by the election fault tests must itself catch overlaps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TenureHistory } from "../../../helpers/tenure-history.js";

test("back-to-back tenures are fine; a tenure starting before the previous deadline is a violation", () => {
  const h = new TenureHistory();
  h.tenures.push({ member: "a", start: 0, end: undefined, deadline: 9000 });
  h.tenures.push({ member: "b", start: 9000, end: 12_000, deadline: 18_000 });
  assert.deepEqual(h.violations(), []);
  assert.equal(h.holderAt(8999), "a");
  assert.equal(h.holderAt(9000), "b");
  h.tenures.push({ member: "c", start: 11_999, end: undefined, deadline: 20_000 });
  assert.deepEqual(h.violations(), ["b [9000, 12000) overlaps c [11999, 20000)"]);
});

test("a step-down later than the deadline counts only up to the deadline", () => {
  const h = new TenureHistory();
  h.tenures.push({ member: "a", start: 0, end: 9005, deadline: 9000 });
  h.tenures.push({ member: "b", start: 9001, end: undefined, deadline: 18_000 });
  assert.deepEqual(h.violations(), []);
});
