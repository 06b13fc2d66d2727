// The demo's one CA decision across its two modes on one state dir: one proxy keeps {epoch,
// active} in its state file, two proxies keep it in etcd. The higher epoch is the truth (the epoch
// only rises): it is copied into etcd before the proxies start (docs/cluster.md, runbook step 5),
// and back into the file once they have stopped, so neither mode routes to a stale CA.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { FileCaStateStore, parseCaState, serializeState, type CaState } from "../../proxy/control/store.js";
import { request } from "./net.js";

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

async function etcdCall(endpoint: string, path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await request(`${endpoint}${path}`, {
    method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" }, timeoutMs: 5000,
  });
  if (r.status !== 200) throw new Error(`etcd ${path} on ${endpoint}: ${r.status} ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body) as Record<string, unknown>;
}

/** The CA state under `key` in etcd (undefined: never written). */
export async function readEtcdState(endpoint: string, key: string): Promise<CaState | undefined> {
  const kv = ((await etcdCall(endpoint, "/v3/kv/range", { key: b64(key) })).kvs as { value?: string }[] | undefined)?.[0];
  return kv ? parseCaState(Buffer.from(kv.value ?? "", "base64").toString("utf8"), `etcd key ${key}`) : undefined;
}

/** A state as the other mode should hold it: a failback's write hold belongs to the cluster only. */
const carried = (s: CaState): CaState => ({ epoch: s.epoch, active: s.active, ...(s.change ? { change: s.change } : {}) });

/** Before the proxies start: the file's state goes into etcd when its epoch is higher. Returns what was copied. */
export async function fileToEtcd(file: string, endpoint: string, key: string): Promise<CaState | undefined> {
  const fromFile = (await new FileCaStateStore(file).read())?.state;
  if (!fromFile) return undefined;
  const inEtcd = await readEtcdState(endpoint, key);
  if (inEtcd && inEtcd.epoch >= fromFile.epoch) return undefined;
  await etcdCall(endpoint, "/v3/kv/put", { key: b64(key), value: b64(serializeState(carried(fromFile))) });
  return fromFile;
}

/** Once the proxies have stopped: etcd's state goes into the file when its epoch is higher. Returns what was copied. */
export async function etcdToFile(endpoint: string, key: string, file: string): Promise<CaState | undefined> {
  const inEtcd = await readEtcdState(endpoint, key);
  if (!inEtcd) return undefined;
  await mkdir(dirname(file), { recursive: true });
  const store = new FileCaStateStore(file);
  const prev = await store.read();
  if (prev && prev.state.epoch >= inEtcd.epoch) return undefined;
  await store.compareAndSet(prev, carried(inEtcd));
  return inEtcd;
}
