// The data plane's CaRouter with several proxies: a CA request goes where this proxy's Follower
// says (its last consistent read of the CA state in etcd, from memory), and only when the local
// Arbiter, which adopts every state the Follower applies, also lets it go (the active CA is up, no
// local write hold). CA writes are counted on both: the member record publishes the Follower's count.
import { NoHealthyBackendError } from "../../errors.js";
import type { Arbiter } from "./arbiter.js";
import type { Scheduler } from "../scheduler.js";
import type { CaRouter } from "./ca-router.js";
import type { Follower } from "./follower.js";

export interface ClusterRouterOptions {
  follower: Follower;
  arbiter: Arbiter;
  /** How long a held CA request waits before 503 (proxy.ca.holdWrites). */
  holdMs: () => number;
  scheduler: Scheduler;
}

export class ClusterCaRouter implements CaRouter {
  /** One end function per CA write in flight (Follower.writeStarted). */
  private readonly ends: (() => void)[] = [];
  /**
   * CA writes let go by a held acquire() and not yet started: counted from the moment of the last
   * check, so that a hold applied in the microtasks before the caller's writeStarted() cannot be
   * acknowledged with this write about to be sent. Taken over by writeStarted(), else ended after
   * this turn of the event loop (the caller gave up on the request).
   */
  private readonly reserved: (() => void)[] = [];

  constructor(private readonly o: ClusterRouterOptions) {}

  /** The follower's epoch: a request is only let go where the follower's state routes it. */
  get epoch(): number {
    return this.o.follower.state?.epoch ?? this.o.arbiter.epoch;
  }

  acquire(write: boolean): string | Promise<string> {
    const r = this.o.follower.route(write);
    if (r.kind === "refuse") throw new NoHealthyBackendError("ca", r.reason, r.retryAfterS);
    const deadline = this.o.scheduler.now() + this.o.holdMs();
    if (r.kind === "worker" && r.worker === this.o.arbiter.active) {
      const a = this.o.arbiter.acquire(write);
      if (typeof a === "string") return a;
      return a.then((name) => this.confirm(write, name, deadline));
    }
    return this.wait(write, deadline);
  }

  /** The arbiter let a held request go: still where the follower routes it? Else wait again. */
  private confirm(write: boolean, name: string, deadline: number): string | Promise<string> {
    const r = this.o.follower.route(write);
    return r.kind === "worker" && r.worker === name ? this.go(write, name) : this.wait(write, deadline);
  }

  /** A held request goes to `name` now. */
  private go(write: boolean, name: string): string {
    if (!write) return name;
    const end = this.o.follower.writeStarted();
    this.reserved.push(end);
    setImmediate(() => {
      const i = this.reserved.indexOf(end);
      if (i < 0) return;
      this.reserved.splice(i, 1);
      end();
    });
    return name;
  }

  /** Ask again on every change of the follower's view until a worker is given, or until the deadline. */
  private async wait(write: boolean, deadline: number): Promise<string> {
    for (;;) {
      const r = this.o.follower.route(write);
      if (r.kind === "refuse") throw new NoHealthyBackendError("ca", r.reason, r.retryAfterS);
      const left = deadline - this.o.scheduler.now();
      if (r.kind === "worker" && r.worker === this.o.arbiter.active) {
        const name = await this.o.arbiter.acquire(write); // bounded by its own holdMs timer
        const again = this.o.follower.route(write);
        if (again.kind === "worker" && again.worker === name) return this.go(write, name);
        if (left <= 0) throw new NoHealthyBackendError("ca", `CA ${write ? "write" : "read"} held ${this.o.holdMs()} ms: the CA state changed again`);
        continue;
      }
      if (left <= 0) {
        const why = r.kind === "hold" ? r.reason : `the active CA is changing to ${r.worker}`;
        throw new NoHealthyBackendError("ca", `CA ${write ? "write" : "read"} held ${this.o.holdMs()} ms: ${why}`);
      }
      await this.changed(left);
    }
  }

  /** Resolves at the follower's next change, or after ms. */
  private changed(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        off();
        cancel();
        resolve();
      };
      const off = this.o.follower.onChange(done);
      const cancel = this.o.scheduler.setTimeout(done, ms);
    });
  }

  writeStarted(): void {
    this.o.arbiter.writeStarted();
    this.ends.push(this.reserved.shift() ?? this.o.follower.writeStarted());
  }

  writeEnded(): void {
    this.o.arbiter.writeEnded();
    this.ends.pop()?.();
  }
}
