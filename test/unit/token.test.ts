// The one token module: reading (with the ssh-like permission warning), rotation on change and on
// reload() without a read per request, constant-time comparison, and redaction for logs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bearerToken, keyFileWarning, modeWarning, readTokenFile, redactTarget, TokenFile, tokensEqual } from "../../src/token.js";

const dir = mkdtempSync(join(tmpdir(), "token-unit-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test("modeWarning: group/other bits warn (keys: group read is fine), naming the file, its mode and the fix", () => {
  for (const mode of [0o600, 0o400, 0o700, 0o100600]) assert.equal(modeWarning("/etc/t", mode, "token file"), undefined, mode.toString(8));
  for (const mode of [0o640, 0o644, 0o604, 0o660, 0o666, 0o100644]) {
    const w = modeWarning("/etc/t", mode, "token file");
    assert.match(w ?? "", /^token file \/etc\/t is readable or writable by group\/others \(mode 0\d{3}\): run `chmod 600 \/etc\/t`/, mode.toString(8));
  }
  assert.equal(modeWarning("/k", 0o640, "key", { groupRead: true }), undefined);
  for (const mode of [0o644, 0o660, 0o604]) assert.ok(modeWarning("/k", mode, "key", { groupRead: true }), mode.toString(8));
});

test("readTokenFile: trims, warns on a loose mode, refuses missing and empty files by name", () => {
  const f = join(dir, "a.token");
  writeFileSync(f, "  tok-1 \n", { mode: 0o600 });
  chmodSync(f, 0o600);
  const warnings: string[] = [];
  assert.equal(readTokenFile(f, "token file", (w) => warnings.push(w)), "tok-1");
  assert.equal(warnings.length, 0, warnings.join("\n"));
  chmodSync(f, 0o644);
  readTokenFile(f, "token file", (w) => warnings.push(w));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? "", new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} .*mode 0644.*chmod 600`));
  assert.match(keyFileWarning(f, "TLS key") ?? "", /^TLS key .* by others \(or writable by group\) \(mode 0644\): run `chmod 640 /);
  chmodSync(f, 0o640);
  assert.equal(keyFileWarning(f, "TLS key"), undefined, "a group-readable key is normal (Puppet, ssl-cert)");
  chmodSync(f, 0o660);
  assert.match(keyFileWarning(f, "TLS key") ?? "", /mode 0660/);
  assert.throws(() => readTokenFile(join(dir, "missing")), /cannot read token file .*missing: no such file or directory/);
  const empty = join(dir, "empty.token");
  writeFileSync(empty, "\n\n", { mode: 0o600 });
  assert.throws(() => readTokenFile(empty), /cannot read token file .*empty\.token: it is empty/);
});

test("TokenFile: rotation is picked up on change and on reload(); a missing or empty file keeps the last good token", () => {
  const f = join(dir, "rotating.token");
  writeFileSync(f, "first\n", { mode: 0o600 });
  const warnings: string[] = [];
  const token = new TokenFile(f, { warn: (w) => warnings.push(w) });
  assert.ok(token.matches("first"));
  assert.ok(!token.matches("firs"));
  // Rotate the way operators do: write a new file and rename it over the old one.
  writeFileSync(`${f}.new`, "second-token\n", { mode: 0o600 });
  renameSync(`${f}.new`, f);
  assert.ok(token.matches("second-token"));
  assert.ok(!token.matches("first"));
  rmSync(f);
  assert.ok(token.matches("second-token"), "missing during a rotation: the last token stays");
  assert.throws(() => token.reload(), /cannot read token file/);
  writeFileSync(f, "\n", { mode: 0o600 });
  assert.ok(token.matches("second-token"), "an empty file is not a token");
  assert.match(warnings.join("\n"), /: it is empty; keeping the previous token/);
  writeFileSync(f, "third\n", { mode: 0o600 });
  token.reload();
  assert.ok(token.matches("third"));
  assert.throws(() => new TokenFile(join(dir, "nope.token")), /cannot read token file .*nope\.token/);
});

test("comparison and the Authorization header", () => {
  assert.ok(tokensEqual("abc", "abc"));
  for (const other of ["abd", "ab", "abcd", "", "ABC"]) assert.ok(!tokensEqual(other, "abc"), other);
  assert.equal(bearerToken("Bearer abc"), "abc");
  assert.equal(bearerToken("bearer   abc  "), "abc");
  for (const h of [undefined, "", "Basic YTpi", "Bearer", "Bearer a b", "Bearerabc"]) assert.equal(bearerToken(h), undefined, String(h));
});

test("redactTarget: credential-like query values never reach a log", () => {
  const table: [string | undefined, string][] = [
    [undefined, ""], ["/health", "/health"], ["/api/ca?x=1", "/api/ca?x=1"],
    ["/api/ca?token=s3cret", "/api/ca?token=[redacted]"],
    ["/api/ca?a=1&access_token=s3cret&b=2", "/api/ca?a=1&access_token=[redacted]&b=2"],
    ["/x?TOKEN=s&Password=p&api_key=k&secret=z", "/x?TOKEN=[redacted]&Password=[redacted]&api_key=[redacted]&secret=[redacted]"],
    ["/x?%74oken=s3cret", "/x?%74oken=[redacted]"], ["/x?token", "/x?token=[redacted]"],
  ];
  for (const [input, want] of table) assert.equal(redactTarget(input), want, String(input));
});
