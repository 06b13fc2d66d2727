// A small etcd v3 client over the JSON gateway (`/v3/...`, etcd 3.4+) on undici: range, txn,
// leases, several endpoints with failover, TLS with a client certificate, and our own timers.
import { Agent, request } from "undici";
import { EtcdError, EtcdUnavailableError, LeaseExpiredError } from "../../errors.js";
import { decodeKv, encode, rangeEnd, type KeyValue, type RawKv } from "./etcd-codec.js";

export type { KeyValue } from "./etcd-codec.js";

export interface EtcdTls {
  /** PEM text of the CA that signed etcd's server certificates. */
  ca: string;
  /** PEM text of this client's certificate and key (etcd's --client-cert-auth). */
  cert: string;
  key: string;
}

export interface EtcdClientOptions {
  /** `http(s)://host:port` of each member; tried in turn, starting with the last one that answered. */
  endpoints: readonly string[];
  tls?: EtcdTls;
  /** Each attempt on one endpoint is aborted after this (unary requests). */
  timeoutMs: number;
}

export interface RangeOptions {
  /** Every key starting with `key`. */
  prefix?: boolean;
  /** Answer from the member's local copy (may be stale); default false: linearizable. */
  serializable?: boolean;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** The store's revision when the range was served. */
  revision: number;
}

/** One comparison of a txn; `value` compares the UTF-8 text of the value. */
export type Compare =
  | { key: string; target: "mod" | "create" | "version"; op?: "=" | "!=" | "<" | ">"; revision: number }
  | { key: string; target: "value"; op?: "=" | "!="; value: string }
  | { key: string; target: "lease"; op?: "=" | "!="; lease: string };

export type TxnOp =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: { key: string; prefix?: boolean } }
  | { range: { key: string; prefix?: boolean } };

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  /** The raft term of the last entry the answering member had applied (the header's raft_term). */
  term: number;
  /** The kvs of each range op of the branch taken, in order (empty arrays for puts/deletes). */
  ranges: KeyValue[][];
}

const OPS = { "=": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", ">": "GREATER" } as const;
const TARGETS = { mod: "MOD", create: "CREATE", version: "VERSION", value: "VALUE", lease: "LEASE" } as const;
/** gRPC codes after which another member may do better: Unavailable, DeadlineExceeded. */
const RETRY_ELSEWHERE = new Set([4, 14]);

interface Header { revision?: string; raft_term?: string }

/** A lease renewal's answer: the TTL granted from now, and the raft term it was answered in. */
export interface KeepAliveResult {
  ttl: number;
  term: number;
}

export class EtcdClient {
  private readonly endpoints: readonly string[];
  private current = 0;
  readonly agent: Agent;

  constructor(readonly opts: EtcdClientOptions) {
    if (opts.endpoints.length === 0) throw new TypeError("etcd client needs at least one endpoint");
    this.endpoints = opts.endpoints.map((e) => e.replace(/\/+$/, ""));
    this.agent = new Agent({
      connect: opts.tls ? { ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key } : {},
      keepAliveTimeout: 30_000,
    });
  }

  /** The endpoint the next request tries first. */
  get endpoint(): string {
    return this.endpoints[this.current] as string;
  }

  /** A stream on `endpoint` failed (watch): the next request starts with the following member. */
  endpointFailed(endpoint: string): void {
    if (this.endpoint === endpoint) this.current = (this.current + 1) % this.endpoints.length;
  }

  async range(key: string, o: RangeOptions = {}): Promise<RangeResult> {
    const body: Record<string, unknown> = { key: encode(key), serializable: o.serializable ?? false };
    if (o.prefix) body.range_end = rangeEnd(key);
    const r = await this.call<{ header: Header; kvs?: RawKv[] }>("/v3/kv/range", body, { idempotent: true, what: "range" });
    return { kvs: (r.kvs ?? []).map(decodeKv), revision: Number(r.header.revision ?? 0) };
  }

  /**
   * All compares true: run `success`, else `failure`, atomically. A txn is sent again to another
   * member only when the first could not have received it (connection refused): after a timeout
   * it may have been applied, and the caller must read to find out.
   */
  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    const body = { compare: compare.map(encodeCompare), success: success.map(encodeOp), failure: failure.map(encodeOp) };
    type R = { header: Header; succeeded?: boolean; responses?: { response_range?: { kvs?: RawKv[] } }[] };
    const r = await this.call<R>("/v3/kv/txn", body, { idempotent: false, what: "txn" });
    return {
      succeeded: r.succeeded === true,
      revision: Number(r.header.revision ?? 0),
      term: Number(r.header.raft_term ?? 0),
      ranges: (r.responses ?? []).map((x) => (x.response_range?.kvs ?? []).map(decodeKv)),
    };
  }

  /** Several ranges read at one revision (a read-only txn: linearizable, safe to send again). */
  async readTxn(ranges: { key: string; prefix?: boolean }[]): Promise<TxnResult> {
    const body = { compare: [], success: ranges.map((range) => encodeOp({ range })), failure: [] };
    type R = { header: Header; responses?: { response_range?: { kvs?: RawKv[] } }[] };
    const r = await this.call<R>("/v3/kv/txn", body, { idempotent: true, what: "read txn" });
    return { succeeded: true, revision: Number(r.header.revision ?? 0), term: Number(r.header.raft_term ?? 0), ranges: (r.responses ?? []).map((x) => (x.response_range?.kvs ?? []).map(decodeKv)) };
  }

  async put(key: string, value: string, lease?: string): Promise<number> {
    return (await this.txn([], [{ put: { key, value, ...(lease ? { lease } : {}) } }])).revision;
  }

  async delete(key: string, o: { prefix?: boolean } = {}): Promise<number> {
    return (await this.txn([], [{ delete: { key, ...o } }])).revision;
  }

  /** A new lease of ttlSeconds; returns its ID (a decimal string: IDs exceed 2^53). */
  async grantLease(ttlSeconds: number): Promise<{ id: string; ttl: number }> {
    const r = await this.call<{ ID: string; TTL: string }>("/v3/lease/grant", { TTL: ttlSeconds }, { idempotent: false, what: "lease grant" });
    return { id: r.ID, ttl: Number(r.TTL) };
  }

  /**
   * Renew a lease with one request (the gateway's keep-alive stream, closed after one message).
   * Returns the TTL granted from now and the raft term of the answer; throws LeaseExpiredError when
   * the lease no longer exists. etcd before 3.4.30 / 3.5.13 may answer from a deposed leader: only a
   * linearizable request answered afterwards in the same term confirms the renewal (see Election).
   */
  async keepAlive(id: string): Promise<KeepAliveResult> {
    const r = await this.call<{ result?: { TTL?: string; header?: Header }; error?: { message?: string; grpc_code?: number; code?: number } }>(
      "/v3/lease/keepalive", { ID: id }, { idempotent: true, what: "lease keep-alive" });
    if (r.error) throw new EtcdError("lease keep-alive", this.endpoint, r.error.grpc_code ?? r.error.code, r.error.message ?? "stream error");
    const ttl = Number(r.result?.TTL ?? 0);
    if (!(ttl > 0)) throw new LeaseExpiredError(id);
    return { ttl, term: Number(r.result?.header?.raft_term ?? 0) };
  }

  /** Seconds left on a lease, or -1 when it does not exist. */
  async leaseTimeToLive(id: string): Promise<number> {
    const r = await this.call<{ TTL?: string }>("/v3/lease/timetolive", { ID: id }, { idempotent: true, what: "lease time-to-live" });
    return Number(r.TTL ?? 0);
  }

  /** Revoke a lease (its keys are deleted); a lease already gone is not an error. */
  async revokeLease(id: string): Promise<void> {
    try {
      await this.call("/v3/lease/revoke", { ID: id }, { idempotent: true, what: "lease revoke" });
    } catch (err) {
      if (err instanceof EtcdError && err.grpcCode === 5) return;
      throw err;
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  /** POST a JSON body to each endpoint in turn until one answers; our own timer on each attempt. */
  private async call<T>(path: string, body: unknown, o: { idempotent: boolean; what: string }): Promise<T> {
    const failures: string[] = [];
    let lastCause: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.current + i) % this.endpoints.length;
      const endpoint = this.endpoints[index] as string;
      const attempt = await this.attempt(endpoint, path, body);
      if (attempt.ok) {
        this.current = index;
        return attempt.body as T;
      }
      if (attempt.etcd) {
        const e = attempt.etcd;
        if (!RETRY_ELSEWHERE.has(e.code ?? -1) || !o.idempotent) throw new EtcdError(o.what, endpoint, e.code, e.message);
        failures.push(`${endpoint}: ${e.message}`);
        continue;
      }
      lastCause = attempt.cause;
      failures.push(`${endpoint}: ${attempt.reason}`);
      if (!o.idempotent && !attempt.notSent) break;
    }
    this.current = (this.current + 1) % this.endpoints.length;
    throw new EtcdUnavailableError(o.what, this.endpoints, failures.join("; "), { cause: lastCause });
  }

  private async attempt(endpoint: string, path: string, body: unknown): Promise<Attempt> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.opts.timeoutMs);
    try {
      const res = await request(`${endpoint}${path}`, {
        method: "POST", dispatcher: this.agent, signal: ac.signal,
        headers: { "content-type": "application/json" }, body: JSON.stringify(body),
      });
      const text = await res.body.text();
      const parsed = parseJson(text);
      if (res.statusCode === 200 && parsed !== undefined) return { ok: true, body: parsed };
      const err = (parsed ?? {}) as { message?: string; error?: string; code?: number };
      return { ok: false, etcd: { code: err.code, message: err.message ?? err.error ?? `HTTP ${res.statusCode}: ${text.slice(0, 200)}` } };
    } catch (cause) {
      if (ac.signal.aborted) return { ok: false, reason: `no answer within ${this.opts.timeoutMs} ms`, cause, notSent: false };
      const code = (cause as { code?: string }).code ?? "";
      return { ok: false, reason: (cause as Error).message || code, cause, notSent: code === "ECONNREFUSED" || code === "UND_ERR_CONNECT_TIMEOUT" };
    } finally {
      clearTimeout(timer);
    }
  }
}

type Attempt =
  | { ok: true; body: unknown; etcd?: undefined }
  | { ok: false; etcd: { code: number | undefined; message: string } }
  | { ok: false; etcd?: undefined; reason: string; cause: unknown; notSent: boolean };

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function encodeCompare(c: Compare): Record<string, unknown> {
  const out: Record<string, unknown> = { key: encode(c.key), target: TARGETS[c.target], result: OPS[c.op ?? "="] };
  if (c.target === "value") out.value = encode(c.value);
  else if (c.target === "lease") out.lease = c.lease;
  else out[c.target === "mod" ? "mod_revision" : c.target === "create" ? "create_revision" : "version"] = String(c.revision);
  return out;
}

function encodeOp(op: TxnOp): Record<string, unknown> {
  if ("put" in op) return { request_put: { key: encode(op.put.key), value: encode(op.put.value), ...(op.put.lease ? { lease: op.put.lease } : {}) } };
  if ("delete" in op) return { request_delete_range: { key: encode(op.delete.key), ...(op.delete.prefix ? { range_end: rangeEnd(op.delete.key) } : {}) } };
  return { request_range: { key: encode(op.range.key), ...(op.range.prefix ? { range_end: rangeEnd(op.range.key) } : {}) } };
}
