// The demo's CA decision carried between its one-proxy mode (state file) and its two-proxy mode
// (etcd) on one state dir, against a real etcd member: the higher epoch wins, in both directions,
// and an equal or lower one changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { etcdToFile, fileToEtcd, readEtcdState } from "../../../src/demo/cluster/state-carry.js";
import { startEtcdCluster } from "../../helpers/etcd.js";

const KEY = "/puppet-ha/demo/ca-state";

test("the one-proxy state goes into etcd when its epoch is higher, and comes back from etcd the same way", async (t) => {
  const etcd = await startEtcdCluster(t, { size: 1 });
  const endpoint = etcd.endpoints[0] as string;
  const root = mkdtempSync(join(tmpdir(), "puppet-ha-carry-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const file = join(root, "frontend", "state", "arbiter.json");

  // A fresh state dir: nothing to carry either way, and etcdToFile creates no file.
  assert.equal(await etcdToFile(endpoint, KEY, file), undefined);
  assert.equal(await fileToEtcd(file, endpoint, KEY), undefined);
  assert.equal(await readEtcdState(endpoint, KEY), undefined);

  // The one-proxy demo failed over to ca2 (epoch 3): the cluster must start on ca2.
  mkdirSync(join(root, "frontend", "state"), { recursive: true });
  writeFileSync(file, JSON.stringify({ epoch: 3, active: "ca2", change: { from: "ca1", cause: "failover", at: 1 }, revision: 4 }));
  assert.deepEqual(await fileToEtcd(file, endpoint, KEY), { epoch: 3, active: "ca2", change: { from: "ca1", cause: "failover", at: 1 } });
  assert.deepEqual(await readEtcdState(endpoint, KEY), { epoch: 3, active: "ca2", change: { from: "ca1", cause: "failover", at: 1 } });
  // Equal epochs: etcd is left alone.
  assert.equal(await fileToEtcd(file, endpoint, KEY), undefined);

  // The cluster failed back to ca1 (epoch 4, a hold left over): the file gets it, without the hold.
  const hold = { id: "h1", target: "ca1", since: 2 };
  await fetch(`${endpoint}/v3/kv/put`, {
    method: "POST",
    body: JSON.stringify({ key: Buffer.from(KEY).toString("base64"), value: Buffer.from(JSON.stringify({ epoch: 4, active: "ca1", hold })).toString("base64") }),
  });
  assert.deepEqual(await etcdToFile(endpoint, KEY, file), { epoch: 4, active: "ca1", hold });
  const saved = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  assert.equal(saved.epoch, 4);
  assert.equal(saved.active, "ca1");
  assert.equal(saved.hold, undefined, "a failback's hold stays in the cluster");
  // A file ahead of etcd is never overwritten by it.
  writeFileSync(file, JSON.stringify({ epoch: 9, active: "ca2" }));
  assert.equal(await etcdToFile(endpoint, KEY, file), undefined);
  assert.equal((JSON.parse(readFileSync(file, "utf8")) as { epoch: number }).epoch, 9);
});
