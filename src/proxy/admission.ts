// Admission of proxied requests, pure: how many may be in flight at once per client address and
// from all clients without a certificate together, so no client can take every backend connection.
//
// A slot is taken before a backend is picked and given back when the exchange is over on both
// sides (client gone or answered, AND the upstream attempt ended), see forward.ts: a client that
// disconnects while its CA write still runs keeps that slot until the CA has answered.

export interface AdmissionLimits {
  /** Requests in flight per client address (certified or not). */
  perClient: number;
  /** Requests in flight from all clients without a verified certificate, together. */
  unauthenticated: number;
}

export class Admission {
  private readonly perAddress = new Map<string, number>();
  private anonymous = 0;

  constructor(public limits: AdmissionLimits) {}

  /** Take a slot, or return why not (the client gets 429). */
  enter(address: string, authenticated: boolean): string | undefined {
    const n = this.perAddress.get(address) ?? 0;
    if (n >= this.limits.perClient) return `more than ${this.limits.perClient} requests in flight from ${address} (proxy.limits.perClient)`;
    if (!authenticated && this.anonymous >= this.limits.unauthenticated) {
      return `more than ${this.limits.unauthenticated} requests in flight from clients without a certificate (proxy.limits.unauthenticated)`;
    }
    this.perAddress.set(address, n + 1);
    if (!authenticated) this.anonymous++;
    return undefined;
  }

  /** Give back a slot taken by enter() (exactly once per successful enter). */
  leave(address: string, authenticated: boolean): void {
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, n);
    if (!authenticated) this.anonymous--;
  }

  /** Requests in flight (all addresses) and of those without a certificate; for tests and /health. */
  get inFlight(): { total: number; unauthenticated: number; addresses: number } {
    let total = 0;
    for (const n of this.perAddress.values()) total += n;
    return { total, unauthenticated: this.anonymous, addresses: this.perAddress.size };
  }
}
