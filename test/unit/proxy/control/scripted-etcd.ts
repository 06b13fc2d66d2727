// An in-memory stand-in for the few etcd calls the election makes, with a switch that makes every
// call hang (etcd unreachable) so that the step-down deadline can be driven by a fake clock.
import { LeaseExpiredError } from "../../../../src/errors.js";
import type { Compare, TxnOp, TxnResult } from "../../../../src/proxy/control/etcd.js";
import type { ElectionEtcd } from "../../../../src/proxy/control/election.js";
import type { KeyValue } from "../../../../src/proxy/control/etcd-codec.js";

export class ScriptedEtcd implements ElectionEtcd {
  kvs = new Map<string, KeyValue>();
  leases = new Set<string>();
  revision = 1;
  private nextLease = 100;
  /** The raft term every answer carries. */
  term = 2;
  /** While true, keep-alives are answered by a deposed leader: in the term before `term`, renewing nothing. */
  staleRenewals = false;
  /** While true, every call returns a promise that never settles. */
  hang = false;
  calls: string[] = [];

  private gate<T>(name: string, fn: () => T): Promise<T> {
    this.calls.push(name);
    if (this.hang) return new Promise<T>(() => undefined);
    return new Promise<T>((resolve) => resolve(fn()));
  }

  grantLease(ttl: number) {
    return this.gate("grant", () => {
      const id = String(this.nextLease++);
      this.leases.add(id);
      return { id, ttl };
    });
  }

  keepAlive(id: string) {
    return this.gate("keepAlive", () => {
      if (!this.leases.has(id)) throw new LeaseExpiredError(id);
      return { ttl: 10, term: this.staleRenewals ? this.term - 1 : this.term };
    });
  }

  revokeLease(id: string) {
    return this.gate("revoke", () => this.expire(id));
  }

  /** etcd expiring a lease: it and its keys are gone. */
  expire(id: string): void {
    this.leases.delete(id);
    for (const [k, kv] of this.kvs) if (kv.lease === id) this.kvs.delete(k);
  }

  txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    return this.gate("txn", () => {
      const ok = compare.every((c) => {
        const kv = this.kvs.get(c.key);
        if (c.target === "create") return (kv?.createRevision ?? 0) === c.revision;
        if (c.target === "lease") return (kv?.lease ?? "") === c.lease;
        if (c.target === "mod") return (kv?.modRevision ?? 0) === c.revision;
        if (c.target === "value") return kv?.value === c.value;
        return false;
      });
      const ops = ok ? success : failure;
      if (ops.some((op) => "put" in op || "delete" in op)) this.revision++;
      const ranges: KeyValue[][] = [];
      for (const op of ops) {
        if ("put" in op) {
          const old = this.kvs.get(op.put.key);
          this.kvs.set(op.put.key, { key: op.put.key, value: op.put.value, lease: op.put.lease ?? "", createRevision: old?.createRevision ?? this.revision, modRevision: this.revision, version: (old?.version ?? 0) + 1 });
          ranges.push([]);
        } else if ("delete" in op) {
          this.kvs.delete(op.delete.key);
          ranges.push([]);
        } else ranges.push(this.kvs.has(op.range.key) ? [{ ...(this.kvs.get(op.range.key) as KeyValue) }] : []);
      }
      return { succeeded: ok, revision: this.revision, term: this.term, ranges };
    });
  }
}
