// Members whose registry record vanished less than ttl ago: a failback hold waits for them too.
// A record vanishes with its member's lease, and a member's view deadline is shorter than its lease,
// so normally a vanished member can no longer forward CA writes. But etcd 3.4 before 3.4.30 can
// revoke a live lease early (a deposed leader resuming after a pause: etcd-io/etcd#15247); such a
// member renewed its lease before the revocation, so its view deadline is less than ttl after the
// first read that no longer had its record. Before this proxy has watched the registry for ttl, a
// member that vanished just before it started could still be acting: nothing counts as safe yet.

export class GoneMembers {
  private present = new Set<string>();
  /** Name -> when the first read without its record was received. */
  private readonly gone = new Map<string, number>();
  private since: number | undefined;

  constructor(private readonly ttlMs: number) {}

  /** A registry read received at `at` listed these members. */
  observe(names: readonly string[], at: number): void {
    this.since ??= at;
    const now = new Set(names);
    for (const n of this.present) if (!now.has(n) && !this.gone.has(n)) this.gone.set(n, at);
    for (const n of now) this.gone.delete(n);
    for (const [n, goneAt] of this.gone) if (goneAt + this.ttlMs <= at) this.gone.delete(n);
    this.present = now;
  }

  /** From when no vanished member (seen or, before ttl of watching, unseen) may act; Infinity before the first read. */
  safeFrom(): number {
    if (this.since === undefined) return Infinity;
    return Math.max(this.since, ...this.gone.values()) + this.ttlMs;
  }

  /** Why a failback must still wait at `now`, one line each (empty: it need not). */
  describe(now: number): string[] {
    const out = [...this.gone].filter(([, goneAt]) => goneAt + this.ttlMs > now)
      .map(([name, goneAt]) => `${name} (its record vanished ${((now - goneAt) / 1000).toFixed(1)} s ago: it may act until ttl has passed)`);
    if (this.since === undefined || now < this.since + this.ttlMs) out.push("this proxy has watched the member registry for less than ttl");
    return out;
  }
}
