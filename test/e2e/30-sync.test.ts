// In-process CA dir sync of `puppet-ha proxy` on the real cadirs of ca1 (active) and ca2
// (standby): a signing and a revocation reach ca2 within 2 s, 200 signings under a cron pass
// every second run one rsync at a time and end with both cadirs equal, and an rsync killed
// mid-copy leaves no truncated file and the next pass converges.
import { X509Certificate } from "node:crypto";
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { loadCluster } from "./cluster/client.js";
import {
  cadirDiff, cadirDigest, crlNumber, inventory, logTime, makeCsr, poll, proxyLog, submitCsr, withConcurrency,
} from "./support.js";

const cluster = loadCluster();
const ca1 = cluster.instances.ca1.cadir;
const ca2 = cluster.instances.ca2.cadir;
const csrDir = join(cluster.root, "e2e-csrs");
/** Certnames and fixtures unique per run (the file stays re-runnable on a kept cluster). */
const RUN = Date.now().toString(36);

/** Polls until ca2's cadir equals ca1's, file for file; resolves to the time it took. */
async function converged(timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await poll("ca2's cadir equal to ca1's", () => (cadirDiff(cadirDigest(ca1), cadirDigest(ca2)).length === 0 ? true : undefined), timeoutMs, 50)
    .catch((err: Error) => { throw new Error(`${err.message}; differing: ${cadirDiff(cadirDigest(ca1), cadirDigest(ca2)).join(", ")}`); });
  return Date.now() - t0;
}

async function sign(certname: string): Promise<void> {
  const r = await submitCsr(cluster, certname, await makeCsr(csrDir, certname));
  assert.equal(r.status, 200, `CSR ${certname} through the proxy: ${r.status} ${r.body}`);
  assert.ok(inventory(ca1).some((l) => l.subject === `/CN=${certname}`), `${certname} signed by ca1 (autosign)`);
}

/** A fixture dir holding an executable `rsync` (first on the proxy's PATH) with this shell body. */
async function rsyncFixture(name: string, body: string): Promise<string> {
  const dir = join(cluster.root, "fixtures", `${name}-${RUN}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "rsync"), `#!/bin/sh\n${body}`);
  await chmod(join(dir, "rsync"), 0o755);
  return dir;
}

/** Restart the proxy with `rsync` from `fixtureDir` (and optionally another config); back to normal afterwards. */
async function proxyWith(t: TestContext, fixtureDir: string, configFile?: string): Promise<void> {
  t.after(() => cluster.restartFrontEnd({}));
  await cluster.restartFrontEnd({ env: { PATH: `${fixtureDir}:${process.env.PATH ?? "/usr/bin:/bin"}` }, ...(configFile ? { configFile } : {}) });
  await converged(30_000); // the start pass has run through the fixture
}

test("a certificate signed through the proxy is on ca2 within 2 s, a revocation's CRL too", async () => {
  await converged(30_000);
  const certname = `e2e-sync-signed-${RUN}`;
  await sign(certname);
  const signedAt = Date.now();
  await poll(`signed/${certname}.pem and its inventory line on ca2`, () =>
    existsSync(join(ca2, "signed", `${certname}.pem`)) && inventory(ca2).some((l) => l.subject === `/CN=${certname}`) ? true : undefined, 2000, 25);
  assert.equal(readFileSync(join(ca2, "signed", `${certname}.pem`), "utf8"), readFileSync(join(ca1, "signed", `${certname}.pem`), "utf8"));
  const signedLag = Date.now() - signedAt;

  const before = await crlNumber(join(ca1, "ca_crl.pem"));
  const revoke = await cluster.runCaCli(["revoke", "--certname", certname]);
  assert.equal(revoke.exitCode, 0, `${revoke.stdout}\n${revoke.stderr}`);
  const revokedAt = Date.now();
  const after = await crlNumber(join(ca1, "ca_crl.pem"));
  assert.ok(after > before, `ca1's CRL number rose (${before} -> ${after})`);
  await poll("ca2's CRL number equal to ca1's", async () => ((await crlNumber(join(ca2, "ca_crl.pem"))) === after ? true : undefined), 2000, 25);
  const crlLag = Date.now() - revokedAt;
  // No cron pass did this: the harness's schedule is daily, only the watch and CA-write triggers ran.
  const passes = proxyLog(cluster).filter((l) => l.msg === "sync pass" && logTime(l) >= signedAt - 1000);
  assert.ok(passes.every((p) => !(p.reasons as string[]).includes("schedule")), JSON.stringify(passes));
  process.stderr.write(`# sync lag: cert ${signedLag} ms, CRL ${crlLag} ms\n`);
});

test("200 signings in a burst with a cron pass every second: one rsync at a time, both cadirs equal at the end", async (t) => {
  const fixture = await rsyncFixture("count", `dir=$(dirname "$0")
echo "$$" >> "$dir/calls"
mkdir "$dir/running" 2>/dev/null || echo "$$" >> "$dir/overlaps"
/usr/bin/rsync "$@"
rc=$?
rmdir "$dir/running" 2>/dev/null
exit $rc
`);
  const cfg = parse(await readFile(cluster.frontEnd.configFile, "utf8")) as { sync: Record<string, unknown> };
  cfg.sync.schedule = "* * * * * *";
  const configFile = join(dirname(cluster.frontEnd.configFile), "puppet-ha-cron-every-second.yaml");
  await writeFile(configFile, stringify(cfg));

  const names = Array.from({ length: 200 }, (_, i) => `e2e-burst-${RUN}-${String(i).padStart(3, "0")}`);
  const csrs = await withConcurrency(4, names.map((n) => () => makeCsr(csrDir, n)));
  await proxyWith(t, fixture, configFile);

  const t0 = Date.now();
  const replies = await withConcurrency(10, names.map((n, i) => () => submitCsr(cluster, n, csrs[i] as string)));
  const burstMs = Date.now() - t0;
  const refused = replies.map((r, i) => [names[i], r.status, r.body] as const).filter(([, s]) => s !== 200);
  assert.deepEqual(refused, [], "every CSR accepted");
  const signed = new Set(inventory(ca1).map((l) => l.subject));
  assert.deepEqual(names.filter((n) => !signed.has(`/CN=${n}`)), [], "every CSR signed on ca1");

  const tail = await converged(30_000);
  const passes = proxyLog(cluster).filter((l) => (l.msg === "sync pass" || l.msg === "sync pass failed") && l.destination === "ca2" && logTime(l) >= t0);
  assert.ok(passes.some((p) => (p.reasons as string[]).includes("schedule")), "the cron trigger fired during the burst");
  assert.equal(existsSync(join(fixture, "overlaps")), false, `rsync overlapped: ${existsSync(join(fixture, "overlaps")) ? readFileSync(join(fixture, "overlaps"), "utf8") : ""}`);
  const calls = readFileSync(join(fixture, "calls"), "utf8").split("\n").filter(Boolean).length;
  process.stderr.write(`# burst: 200 signings in ${burstMs} ms, ca2 equal ${tail} ms later; ${passes.length} passes, ${calls} rsync runs\n`);
});

test("an rsync killed mid-copy leaves no truncated file on ca2, and the next pass converges", async (t) => {
  // The first copy that writes into a cadir (rsync calls with --delay-updates) is slowed down to
  // 8 KB/s and SIGKILLed (its whole process group) as soon as it has started writing into the
  // destination: after the burst test, inventory.txt alone takes seconds to write. The copy reads
  // its file list on stdin (--files-from=-): a background job's stdin is /dev/null unless handed
  // over explicitly, hence fd 3.
  const fixture = await rsyncFixture("kill-mid-copy", `dir=$(dirname "$0")
case " $* " in *" --delay-updates "*) copy=1 ;; *) copy=0 ;; esac
if [ "$copy" = 1 ] && mkdir "$dir/killed" 2>/dev/null; then
  for dest; do :; done
  exec 3<&0
  setsid /usr/bin/rsync --bwlimit=8 "$@" 0<&3 3<&- &
  pid=$!
  i=0
  while [ $i -lt 400 ]; do
    set -- "$dest"/.~tmp~/* "$dest"/signed/.~tmp~/*
    if [ -e "$1" ] || [ -e "$2" ]; then
      kill -9 -$pid; echo mid-copy > "$dir/killed/how"; exit 137
    fi
    # A copy that ended without writing anything (a pass with nothing to copy, e.g. the first
    # pass after the restart) is not the one to kill: pass its result on and wait for the next.
    kill -0 $pid 2>/dev/null || { wait $pid; rc=$?; rmdir "$dir/killed"; exit $rc; }
    sleep 0.05; i=$((i + 1))
  done
  kill -9 -$pid; echo timeout > "$dir/killed/how"; exit 137
fi
exec /usr/bin/rsync "$@"
`);
  await proxyWith(t, fixture);
  const t0 = Date.now();
  const before = cadirDigest(ca2);
  await sign(`e2e-sync-killed-${RUN}`);
  const how = await poll("the fixture to kill the copy", async () => (existsSync(join(fixture, "killed", "how")) ? (await readFile(join(fixture, "killed", "how"), "utf8")).trim() : undefined), 30_000);
  assert.equal(how, "mid-copy", "the copy was killed while writing into ca2");
  await poll("the pass to fail", () => (proxyLog(cluster).some((l) => l.msg === "sync pass failed" && l.destination === "ca2" && logTime(l) >= t0) ? true : undefined), 10_000);

  // Every file Puppet reads on ca2 is whole: certs parse, inventory lines are complete, serial
  // and CRL parse. (rsync's own temp files, ".<name>.XXXXXX", may be left; the next pass deletes them.)
  for (const f of (await readdir(join(ca2, "signed"))).filter((n) => n.endsWith(".pem") && !n.startsWith("."))) {
    assert.doesNotThrow(() => new X509Certificate(readFileSync(join(ca2, "signed", f))), `ca2 signed/${f} is not a whole certificate`);
  }
  const text = await readFile(join(ca2, "inventory.txt"), "utf8");
  assert.ok(text.endsWith("\n"), "inventory.txt ends with a whole line");
  for (const l of text.split("\n").filter(Boolean)) assert.match(l, /^0x[0-9A-F]+ \S+UTC \S+UTC \/CN=.+$/, `inventory line "${l}"`);
  assert.match(await readFile(join(ca2, "serial"), "utf8"), /^[0-9A-F]{4,}\n?$/);
  await crlNumber(join(ca2, "ca_crl.pem"));
  // --delay-updates: nothing of the killed copy was put in place (not inventory.txt without its
  // cert, nor the serial without the inventory line). The failed pass is retried 2 s later (with
  // the real rsync: the fixture kills only once) and, now that a pass copies only the changed
  // files, that retry may already be done: ca2 is then exactly ca1. Never anything in between.
  const now = cadirDigest(ca2);
  const changed = cadirDiff(before, now);
  if (changed.length > 0) {
    assert.deepEqual(cadirDiff(cadirDigest(ca1), now), [], `ca2 took part of the signing (${changed.join(", ")}) but is not ca1`);
    assert.ok(changed.includes("inventory.txt") && changed.includes("serial") && changed.includes(`signed/e2e-sync-killed-${RUN}.pem`), `the retried pass copied the whole signing: ${changed.join(", ")}`);
  }

  // The next change makes the next pass, which copies everything and removes rsync's leftovers.
  await sign(`e2e-sync-after-kill-${RUN}`);
  await converged(10_000);
  assert.ok(existsSync(join(ca2, "signed", `e2e-sync-killed-${RUN}.pem`)));
});
