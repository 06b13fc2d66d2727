// One etcd watch over the JSON gateway: POST /v3/watch streams one JSON message per line. A watch
// is only a hint here (the periodic linearizable read is the truth), so it does not reconnect by
// itself: it reports its end once and the owner starts a new one from the next revision.
import { request } from "undici";
import { EtcdError } from "../../errors.js";
import { decodeKv, encode, rangeEnd, type KeyValue, type RawKv } from "./etcd-codec.js";
import type { EtcdClient } from "./etcd.js";

export interface WatchEvent {
  type: "put" | "delete";
  kv: KeyValue;
}

export interface WatchOptions {
  prefix?: boolean;
  /** Send every change from this revision on (default: changes after now). */
  startRevision?: number;
  onEvents(events: WatchEvent[], revision: number): void;
  /** Called exactly once when the stream ends: err is undefined only after close(). */
  onEnd(err?: Error): void;
}

export interface Watch {
  close(): void;
}

interface WatchMessage {
  result?: {
    header?: { revision?: string };
    created?: boolean;
    canceled?: boolean;
    cancel_reason?: string;
    compact_revision?: string;
    events?: { type?: "PUT" | "DELETE"; kv?: RawKv }[];
  };
  error?: { message?: string; grpc_code?: number; http_code?: number };
}

export function watch(client: EtcdClient, key: string, o: WatchOptions): Watch {
  const ac = new AbortController();
  let ended = false;
  const end = (err?: Error) => {
    if (ended) return;
    ended = true;
    ac.abort();
    if (err) client.endpointFailed(endpoint);
    o.onEnd(err);
  };
  const endpoint = client.endpoint;
  const create: Record<string, unknown> = { key: encode(key) };
  if (o.prefix) create.range_end = rangeEnd(key);
  if (o.startRevision !== undefined) create.start_revision = String(o.startRevision);

  const onMessage = (m: WatchMessage) => {
    if (m.error) return end(new EtcdError("watch", endpoint, m.error.grpc_code, m.error.message ?? "stream error"));
    const r = m.result;
    if (!r) return;
    if (r.compact_revision && r.compact_revision !== "0") {
      return end(new EtcdError("watch", endpoint, undefined, `revision compacted up to ${r.compact_revision}`));
    }
    if (r.canceled) return end(new EtcdError("watch", endpoint, undefined, `cancelled: ${r.cancel_reason ?? "no reason given"}`));
    const events = (r.events ?? []).map((e) => ({ type: e.type === "DELETE" ? "delete" as const : "put" as const, kv: decodeKv(e.kv ?? {}) }));
    if (events.length > 0) o.onEvents(events, Number(r.header?.revision ?? 0));
  };

  (async () => {
    const res = await request(`${endpoint}/v3/watch`, {
      method: "POST", dispatcher: client.agent, signal: ac.signal,
      headers: { "content-type": "application/json" }, body: JSON.stringify({ create_request: create }),
    });
    if (res.statusCode !== 200) throw new EtcdError("watch", endpoint, undefined, `HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`);
    let buffered = "";
    for await (const chunk of res.body) {
      buffered += (chunk as Buffer).toString("utf8");
      let nl: number;
      while (!ended && (nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) onMessage(JSON.parse(line) as WatchMessage);
      }
      if (ended) return;
    }
    end(new EtcdError("watch", endpoint, undefined, "stream closed by the server"));
  })().catch((err: unknown) => end(ended ? undefined : (err as Error)));

  return { close: () => end() };
}
