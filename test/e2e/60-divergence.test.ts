// Divergence: a certificate signed directly on the standby CA (not through the proxy) while the
// other CA is active. The sync guard refuses to overwrite it, nothing is lost, /health names its
// serial and subject. Last in the tier; it cleans up after itself all the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { copyFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { loadCluster, type InstanceName } from "./cluster/client.js";
import { adminApi, cadirDiff, cadirDigest, httpRequest, inventory, makeCsr, poll, submitCsr, type HealthJson } from "./support.js";

const cluster = loadCluster();
const admin = adminApi(cluster);
const csrDir = join(cluster.root, "e2e-csrs");
/** Certnames unique per run (the file stays re-runnable on a kept cluster). */
const RUN = Date.now().toString(36);

const syncOf = (h: HealthJson, dest: string) => h.sync?.find((s) => s.destination === dest);

/** Every file under dir (recursively), as paths relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

test("a cert signed directly on the non-active CA stops the sync: nothing lost, /health names serial and subject", async (t) => {
  const { active } = await admin.caState();
  const standby: InstanceName = active === "ca1" ? "ca2" : "ca1";
  const src = cluster.instances[active as InstanceName].cadir;
  const dst = cluster.instances[standby].cadir;
  await poll(`${standby} in sync`, async () => (syncOf(await admin.health(), standby)?.state === "in-sync" && cadirDiff(cadirDigest(src), cadirDigest(dst)).length === 0 ? true : undefined), 30_000, 200);

  // Straight to the standby's plain-HTTP port (autosign is on): it signs with its own serial.
  const rogue = `e2e-diverged-${RUN}`;
  const put = await httpRequest(`${cluster.instances[standby].url}/puppet-ca/v1/certificate_request/${rogue}`, {
    method: "PUT", headers: { "Content-Type": "text/plain" }, body: await makeCsr(csrDir, rogue),
  });
  assert.equal(put.status, 200, put.body);
  const line = inventory(dst).find((l) => l.subject === `/CN=${rogue}`);
  assert.ok(line, `${standby} signed ${rogue}`);
  const rogueCert = readFileSync(join(dst, "signed", `${rogue}.pem`), "utf8");

  // Cleanup (also on failure): take the rogue cert off the standby so the next pass converges.
  t.after(async () => {
    await rm(join(dst, "signed", `${rogue}.pem`), { force: true });
    await copyFile(join(src, "inventory.txt"), join(dst, "inventory.txt"));
    await copyFile(join(src, "serial"), join(dst, "serial"));
    await submitCsr(cluster, `e2e-after-cleanup-${RUN}`, await makeCsr(csrDir, `e2e-after-cleanup-${RUN}`));
    await poll("sync converged after the cleanup", async () => (syncOf(await admin.health(), standby)?.state === "in-sync" && cadirDiff(cadirDigest(src), cadirDigest(dst)).length === 0 ? true : undefined), 30_000, 200);
  });

  // A signing through the proxy on the active CA makes the next pass.
  const legit = `e2e-after-divergence-${RUN}`;
  const r = await submitCsr(cluster, legit, await makeCsr(csrDir, legit));
  assert.equal(r.status, 200, r.body);
  const diverged = await poll(`/health showing ${standby} diverged`, async () => {
    const s = syncOf(await admin.health(), standby);
    return s?.state === "diverged" ? s : undefined;
  }, 10_000, 100);

  // /health names the serial and the subject of what only the standby has.
  const entry = diverged.divergence?.find((d) => d.subject?.includes(rogue));
  assert.ok(entry, `divergence names ${rogue}: ${JSON.stringify(diverged.divergence)}`);
  assert.equal(BigInt(/^0x/i.test(entry.serial ?? "") ? String(entry.serial) : `0x${entry.serial}`), line.serial, `serial ${entry.serial} vs ${line.line}`);
  assert.notEqual((await admin.health()).status, "ok", "a diverged sync is not ok");

  // Nothing is lost or overwritten: the rogue cert stays on the standby, the active CA is
  // untouched by it, and the standby did not get the newer cert either (both sides left alone).
  assert.equal(readFileSync(join(dst, "signed", `${rogue}.pem`), "utf8"), rogueCert);
  assert.ok(inventory(dst).some((l) => l.line === line.line));
  assert.equal(existsSync(join(src, "signed", `${rogue}.pem`)), false);
  assert.equal(existsSync(join(dst, "signed", `${legit}.pem`)), false, "the guard copied nothing");
  // ... and a copy of the extra files is kept for the operator.
  const backups = join(dirname(cluster.frontEnd.configFile), "sync-backups");
  assert.ok(filesUnder(backups).some((f) => f.endsWith(`${rogue}.pem`) && readFileSync(f, "utf8") === rogueCert), `a copy of ${rogue}.pem under ${backups}`);
});
