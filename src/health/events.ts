// The recent events the status page and /health show (failover, failback, divergence, CRL reload,
// backend up/down, admin actions): a ring buffer of the last 100, newest first when listed.

export interface HealthEvent {
  /** ISO time. */
  at: string;
  kind: string;
  message: string;
}

/** Event kinds other parts record and metrics count. */
export const EventKind = {
  failover: "failover",
  failback: "failback",
  divergence: "divergence",
  crlReload: "crl-reload",
  backendUp: "backend-up",
  backendDown: "backend-down",
  admin: "admin",
} as const;

export type EventListener = (event: HealthEvent) => void;

export class EventLog {
  readonly capacity: number;
  readonly #ring: (HealthEvent | undefined)[];
  #next = 0;
  #size = 0;
  readonly #listeners: EventListener[] = [];
  readonly #now: () => Date;

  constructor(opts: { capacity?: number; now?: () => Date } = {}) {
    this.capacity = opts.capacity ?? 100;
    this.#ring = new Array<HealthEvent | undefined>(this.capacity);
    this.#now = opts.now ?? (() => new Date());
  }

  record(kind: string, message: string): HealthEvent {
    const event = { at: this.#now().toISOString(), kind, message };
    this.#ring[this.#next] = event;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
    for (const l of this.#listeners) l(event);
    return event;
  }

  /** The kept events, newest first. */
  list(): HealthEvent[] {
    const out: HealthEvent[] = [];
    for (let i = 1; i <= this.#size; i++) {
      out.push(this.#ring[(this.#next - i + this.capacity) % this.capacity] as HealthEvent);
    }
    return out;
  }

  /** Called synchronously on every record (metrics count events by kind this way). */
  onRecord(listener: EventListener): void {
    this.#listeners.push(listener);
  }
}
