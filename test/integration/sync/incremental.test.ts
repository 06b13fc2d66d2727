// The guards under the incremental pass (manifest cache, changed paths only, appended inventory),
// real rsync on temp dirs: each case first gets a full verification, then changes a few files in
// place and asserts that the next pass, incremental (`full: false`), catches it as before.
// The Inspector runs in process with its clock 10 s ahead, so no cached entry counts as "racy":
// what catches a change here is the cache key itself (size, mtime, ctime, inode), not the rule.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { appendFileSync, copyFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DivergenceError, IncompleteSourceError } from "../../../src/sync/errors.js";
import { Inspector } from "../../../src/sync/inspect.js";
import { inProcessScanner } from "../../../src/sync/scanner.js";
import { createSyncService } from "../../../src/sync/service.js";
import { VERIFY_SCHEDULE_REASON } from "../../../src/sync/verification.js";
import { contentsOf, differingPaths, fakeExecutable, makeHarness, nextPass, onCopy, type Harness } from "./harness.js";

/** Both ways a pass learns what changed: a stat of every file, or the change journal (watch mode). */
const MODES = [{ suffix: "", watch: false }, { suffix: " [change journal]", watch: true }] as const;

async function synced(t: TestContext, opts: { before?: (h: Harness) => void; watch?: boolean } = {}): Promise<Harness> {
  const h = makeHarness(t, { fill: true, watch: opts.watch ?? false, scanner: inProcessScanner(new Inspector(() => Date.now() + 10_000)) });
  opts.before?.(h);
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "in-sync", r?.error?.message);
  assert.equal(r.full, true, "the first pass at an epoch is the full verification");
  return h;
}

async function pass(h: Harness) {
  const [r] = await h.service.requestPass("ca2");
  assert.ok(r);
  assert.equal(r.full, false, "an incremental pass");
  return r;
}

/** Rewrite a file in place with content of the same size and put its mtime back. */
function sameSizeSameMtime(path: string, edit: (s: string) => string): void {
  const st = statSync(path, { bigint: true });
  const ref = `${path}.ref`;
  copyFileSync(path, ref);
  execFileSync("touch", ["-r", path, "--", ref]); // keeps the nanoseconds (utimes from JS would not)
  const before = readFileSync(path, "utf8");
  const after = edit(before);
  assert.equal(after.length, before.length);
  assert.notEqual(after, before);
  writeFileSync(path, after);
  execFileSync("touch", ["-r", ref, "--", path]);
  rmSync(ref);
  const now = statSync(path, { bigint: true });
  assert.deepEqual([now.size, now.mtimeNs, now.ino], [st.size, st.mtimeNs, st.ino], "same size, mtime and inode: only ctime tells");
}

function signInPlace(h: Harness, certname: string): void {
  h.source.sign(certname);
  for (const p of [`signed/${certname}.pem`, "serial"]) writeFileSync(join(h.ca1, p), h.source.files.get(p) as Buffer);
  appendFileSync(join(h.ca1, "inventory.txt"), h.source.text("inventory.txt").split("\n").at(-2) + "\n");
}

for (const m of MODES) test(`a no-change pass hashes nothing; a signing hashes and copies only what it changed${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch });
  const idle = await pass(h);
  assert.equal(idle.result, "in-sync");
  assert.equal(idle.hashed, 0);
  signInPlace(h, "node2");
  const r = await pass(h);
  assert.equal(r.result, "in-sync", r.error?.message);
  assert.ok((r.hashed ?? 99) <= 6, `hashed ${r.hashed}: the cert, serial and inventory.txt of each side at most`);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
});

for (const m of MODES) test(`a source file rewritten at the same size with its mtime put back is still copied (ctime)${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch, before: (x) => writeFileSync(join(x.ca1, "requests", "n.pem"), "csr-version-1") });
  sameSizeSameMtime(join(h.ca1, "requests", "n.pem"), () => "csr-version-2");
  const r = await pass(h);
  assert.equal(r.result, "in-sync", r.error?.message);
  assert.equal(readFileSync(join(h.ca2, "requests", "n.pem"), "utf8"), "csr-version-2");
});

for (const m of MODES) test(`the failback's final pull trusts a cached stat only with the same ctime: a same-size, same-mtime rewrite is pulled${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch, before: (x) => writeFileSync(join(x.ca1, "requests", "n.pem"), "csr-version-1") });
  await pass(h);
  sameSizeSameMtime(join(h.ca1, "requests", "n.pem"), () => "csr-version-2");
  const r = await h.service.finalPull("ca2", 1);
  assert.equal(r.result, "in-sync", r.error?.message);
  assert.equal(r.full, false, "not a full verification");
  assert.ok((r.hashed ?? 99) <= 2, `hashed ${r.hashed}: only the rewritten file, on each side`);
  assert.equal(readFileSync(join(h.ca2, "requests", "n.pem"), "utf8"), "csr-version-2");
});

for (const m of MODES) test(`a destination cert rewritten at the same size with its mtime put back is a divergence (ctime)${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch });
  sameSizeSameMtime(join(h.ca2, "signed", "node1.pem"), (s) => s.replace(/\n(.)(.)/, "\n$2$1"));
  const before = await contentsOf(h.ca2);
  const r = await pass(h);
  assert.equal(r.result, "diverged");
  assert.ok(r.error instanceof DivergenceError);
  assert.deepEqual(r.error.differences.map((d) => [d.kind, d.path]), [["signed-differs", "signed/node1.pem"]]);
  assert.deepEqual(await contentsOf(h.ca2), before, "destination untouched");
});

for (const m of MODES) test(`a destination inventory truncated at a line end is repaired; the old one is backed up${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch });
  signInPlace(h, "node2");
  await pass(h);
  const full = readFileSync(join(h.ca2, "inventory.txt"), "utf8");
  const truncated = full.slice(0, full.lastIndexOf("\n", full.length - 2) + 1);
  writeFileSync(join(h.ca2, "inventory.txt"), truncated);
  const r = await pass(h);
  assert.equal(r.result, "in-sync", r.error?.message);
  assert.equal(readFileSync(join(h.ca2, "inventory.txt"), "utf8"), full);
  const stamps = join(h.backupDir, "ca2");
  const last = join(stamps, readdirSync(stamps).sort().at(-1) as string);
  assert.equal(readFileSync(join(last, "inventory.txt"), "utf8"), truncated);
});

for (const m of MODES) test(`a destination inventory truncated mid-line is refused, as a full check refuses it${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch });
  const full = readFileSync(join(h.ca2, "inventory.txt"), "utf8");
  writeFileSync(join(h.ca2, "inventory.txt"), full.slice(0, -3)); // "/CN=node1\n" -> "/CN=nod"
  const r = await pass(h);
  assert.equal(r.result, "diverged");
  assert.ok(r.error instanceof DivergenceError);
  assert.deepEqual(r.error.differences.map((d) => [d.kind, d.serial, d.subject]), [["inventory-subject", "0x0002", "/CN=nod"]]);
});

for (const m of MODES) test(`a rewritten (not appended) source inventory is compared line by line${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch });
  const inv = join(h.ca1, "inventory.txt");
  writeFileSync(inv, readFileSync(inv, "utf8").replace("/CN=node1\n", "/CN=nodeX\n"));
  const r = await pass(h);
  assert.equal(r.result, "diverged");
  assert.ok(r.error instanceof DivergenceError);
  assert.deepEqual(r.error.differences.map((d) => [d.kind, d.serial, d.subject, d.sourceSubject]), [["inventory-subject", "0x0002", "/CN=node1", "/CN=nodeX"]]);
});

for (const m of MODES) test(`a bad line rewritten into the middle of the source inventory makes it incomplete${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch });
  signInPlace(h, "node2");
  await pass(h);
  const inv = join(h.ca1, "inventory.txt");
  const lines = readFileSync(inv, "utf8").split("\n");
  lines[1] = "0x0002 garbage";
  writeFileSync(inv, lines.join("\n"));
  const r = await pass(h);
  assert.equal(r.result, "error");
  assert.ok(r.error instanceof IncompleteSourceError);
  assert.deepEqual(r.error.problems, ["inventory.txt line 2 does not parse: \"0x0002 garbage\""]);
});

for (const m of MODES) test(`a source serial that went backwards is a divergence${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch });
  writeFileSync(join(h.ca1, "serial"), "0002");
  const r = await pass(h);
  assert.equal(r.result, "diverged");
  assert.ok(r.error instanceof DivergenceError);
  assert.deepEqual(r.error.differences.map((d) => [d.kind, d.source, d.destination]), [["serial", "0x0002", "0x0003"]]);
});

for (const m of MODES) test(`a source CRL with a lower number than the destination's is a divergence${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch });
  const dst = h.source.clone();
  dst.revoke("0x0002");
  writeFileSync(join(h.ca2, "ca_crl.pem"), dst.files.get("ca_crl.pem") as Buffer);
  const r = await pass(h);
  assert.equal(r.result, "diverged");
  assert.ok(r.error instanceof DivergenceError);
  assert.deepEqual(r.error.differences.map((d) => d.kind), ["crl-number", "crl-revoked"]);
});

test("a destination-only cert among 10,000 is found by an incremental pass and saved aside", async (t) => {
  const h = await synced(t, {
    before: (x) => {
      const pem = readFileSync(join(x.ca1, "signed", "node1.pem"));
      const lines: string[] = [];
      for (let i = 0; i < 10_000; i++) {
        writeFileSync(join(x.ca1, "signed", `bulk-${i}.pem`), pem);
        lines.push(`0x${(0x100 + i).toString(16).toUpperCase()} 2026-01-01T00:00:00UTC 2031-01-01T00:00:00UTC /CN=bulk-${i}\n`);
      }
      appendFileSync(join(x.ca1, "inventory.txt"), lines.join(""));
      writeFileSync(join(x.ca1, "serial"), (0x100 + 10_000).toString(16).toUpperCase());
      rmSync(x.ca2, { recursive: true });
      cpSync(x.ca1, x.ca2, { recursive: true });
    },
  });
  writeFileSync(join(h.ca2, "signed", "rogue.pem"), readFileSync(join(h.ca1, "signed", "node1.pem")));
  const r = await pass(h);
  assert.equal(r.result, "diverged");
  assert.ok(r.error instanceof DivergenceError);
  assert.deepEqual(r.error.differences.map((d) => [d.kind, d.path]), [["signed-missing", "signed/rogue.pem"]]);
  assert.ok(existsSync(join(r.error.savedTo as string, "signed", "rogue.pem")));
  assert.ok(existsSync(join(h.ca2, "signed", "rogue.pem")), "never deleted");
});

for (const m of MODES) test(`a file appearing in the source during a pass is copied by the next pass, never half${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch });
  fakeExecutable(h.bin, "rsync", onCopy(`printf csr > "${join(h.ca1, "requests", "late.pem")}"`));
  signInPlace(h, "node2");
  const r = await pass(h);
  assert.equal(r.result, "in-sync", r.error?.message);
  assert.equal(existsSync(join(h.ca2, "requests", "late.pem")), false, "not staged by this pass: not copied by it");
  rmSync(join(h.bin, "rsync"));
  const next = await pass(h);
  assert.equal(next.result, "in-sync", next.error?.message);
  assert.deepEqual(await differingPaths(h.ca1, h.ca2), []);
});

for (const m of MODES) test(`a signed cert caught mid-write is never copied; once complete it is${m.suffix}`, async (t) => {
  const h = await synced(t, { watch: m.watch });
  h.source.sign("node2");
  const pem = h.source.files.get("signed/node2.pem") as Buffer;
  writeFileSync(join(h.ca1, "signed", "node2.pem"), pem.subarray(0, 300));
  const r = await pass(h);
  assert.equal(r.result, "error");
  assert.ok(r.error instanceof IncompleteSourceError);
  assert.deepEqual(r.error.problems, ["signed/node2.pem is not a certificate"]);
  assert.equal(existsSync(join(h.ca2, "signed", "node2.pem")), false);
  writeFileSync(join(h.ca1, "signed", "node2.pem"), pem);
  const ok = await pass(h);
  assert.equal(ok.result, "in-sync", ok.error?.message);
  assert.deepEqual(readFileSync(join(h.ca2, "signed", "node2.pem")), pem);
});

test("full verification: on sync.verify (not sync.schedule), at a new epoch, with its cost in the status", async (t) => {
  const h = await synced(t);
  const st = h.service.status().destinations.ca2?.lastFullVerification;
  assert.ok(st && st.durationMs >= 0 && Date.parse(st.at) > 0 && st.files > 0, JSON.stringify(st));
  assert.ok(st.hashed >= st.files && st.hashedBytes > 0, "every file was hashed");
  assert.equal((await pass(h)).full, false);
  h.arbiter.set({ epoch: 2, active: "ca1" });
  const [afterFailover] = await h.service.requestPass("ca2");
  assert.equal(afterFailover?.full, true, "a new epoch (failover, failback) is verified whole");
  const started = nextPass(h.service, (r) => r.reasons.includes("start"), 10_000);
  await h.service.start();
  assert.equal((await started).full, false);
  const scheduled = nextPass(h.service, (r) => r.reasons.includes("schedule"), 10_000);
  h.cron();
  assert.equal((await scheduled).full, false, "sync.schedule runs incremental passes");
  const verifying = nextPass(h.service, (r) => r.reasons.includes(VERIFY_SCHEDULE_REASON), 10_000);
  h.verifyCron();
  const verify = await verifying;
  assert.equal(verify.full, true, "sync.verify runs the full verification");
  const after = h.service.status().destinations.ca2?.lastFullVerification;
  assert.ok(after && after.at > st.at && after.durationMs <= verify.durationMs, JSON.stringify({ st, after }));
  assert.equal(after.hashed, verify.hashed);
});

test("the manifest cache outlives the process: a restarted agent's first pass at the same epoch hashes little", async (t) => {
  const h = await synced(t);
  await h.service.stop(); // saves the caches
  const again = createSyncService({ config: h.config, arbiter: h.arbiter, env: h.env, cron: () => ({ stop: () => undefined }), scanner: inProcessScanner(new Inspector(() => Date.now() + 10_000)) });
  t.after(() => again.stop());
  const [r] = await again.requestPass("ca2", "once");
  assert.equal(r?.result, "in-sync", r?.error?.message);
  assert.equal(r.full, false);
  assert.equal(r.hashed, 0);
});
