// The authentication decision: token and/or mTLS, either suffices, a bad credential refuses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { authenticate, globToRegExp, matchesAny, type AuthPolicy, type Presented } from "../../../src/twitch/auth.js";
import { tokensEqual } from "../../../src/token.js";
import { AuthRequiredError, ForbiddenError } from "../../../src/twitch/errors.js";

const digest = { matches: (presented: string) => tokensEqual(presented, "right") };
const both: AuthPolicy = { token: digest, mtls: true, allow: ["admin*.ops", "bolt.example"] };
const p = (o: Partial<Presented>): Presented => ({ remote: "10.0.0.9", authorization: undefined, cert: undefined, ...o });
const cert = (certname: string, authorized = true, error?: string) => ({ certname, authorized, error });

test("globs: * any run, ? one character, everything else literal", () => {
  assert.ok(matchesAny("admin1.ops", ["admin*.ops"]));
  assert.ok(!matchesAny("admin1xops", ["admin*.ops"]), "the dot is literal");
  assert.ok(matchesAny("web7", ["web?"]));
  assert.ok(!matchesAny("web17", ["web?"]));
  assert.ok(!matchesAny("evil.bolt.example", ["bolt.example"]));
  assert.equal(globToRegExp("a+b(c)").test("a+b(c)"), true);
  assert.ok(!matchesAny("x", []));
});

test("token comparison", () => {
  assert.ok(tokensEqual("right", "right"));
  assert.ok(!tokensEqual("righ", "right"));
  assert.ok(!tokensEqual("right ", "right"));
});

test("decision table", () => {
  const ok = (x: Presented, identity: string, policy = both) => assert.equal(authenticate(policy, x).identity, identity);
  const refused = (x: Presented, err: typeof ForbiddenError | typeof AuthRequiredError, policy = both) => assert.throws(() => authenticate(policy, x), err);
  ok(p({ cert: cert("admin1.ops") }), "cert:admin1.ops");
  ok(p({ authorization: "Bearer right" }), "token@10.0.0.9");
  ok(p({ authorization: "bearer   right" }), "token@10.0.0.9");
  ok(p({ cert: cert("web1"), authorization: "Bearer right" }), "token@10.0.0.9");
  ok(p({ cert: cert("admin1.ops"), authorization: "Bearer wrong" }), "cert:admin1.ops");
  refused(p({}), AuthRequiredError);
  refused(p({ authorization: "Bearer wrong" }), ForbiddenError);
  refused(p({ authorization: "Basic cmlnaHQ=" }), ForbiddenError);
  refused(p({ cert: cert("web1") }), ForbiddenError);
  refused(p({ cert: cert("admin1.ops", false, "CERT_REVOKED"), authorization: "Bearer right" }), ForbiddenError);
  const tokenOnly: AuthPolicy = { token: digest, mtls: false, allow: [] };
  refused(p({}), AuthRequiredError, tokenOnly);
  ok(p({ authorization: "Bearer right" }), "token@10.0.0.9", tokenOnly);
  const mtlsOnly: AuthPolicy = { token: undefined, mtls: true, allow: ["a"] };
  refused(p({ authorization: "Bearer right" }), ForbiddenError, mtlsOnly);
  ok(p({ cert: cert("a") }), "cert:a", mtlsOnly);
  ok(p({}), "anonymous@10.0.0.9", { token: undefined, mtls: false, allow: [] });
});
