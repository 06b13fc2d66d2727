// The keep-alive connections to one backend: at most `connections` of them, idle ones reused
// last-in first-out and closed after `keepAliveMs` idle (one sweep timer per pool, none per
// request), and the calls waiting for a free one in arrival order (admission.ts bounds them).
import { Call, UpstreamFailure, type Target, type UpstreamHandler, type UpstreamRequest } from "./call.js";
import { Connection, type ConnectionOwner } from "./connection.js";

export interface PoolOptions {
  connections: number;
  /** Idle connections are closed after this long (before the backend's own idle timeout). */
  keepAliveMs: number;
  /** Read at each new connection, so a reload applies to the next one. */
  connectMs: () => number;
}

export class UpstreamPool implements ConnectionOwner {
  readonly target: Target;
  /** Connections open or opening. */
  private readonly live = new Set<Connection>();
  private readonly idle: Connection[] = [];
  private waiting: Call[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** For tests and the health view: connected sockets. */
  readonly stats = { connected: 0 };

  constructor(url: string, private readonly opts: PoolOptions) {
    const u = new URL(url);
    const tls = u.protocol === "https:";
    const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
    this.target = { host, port: Number(u.port || (tls ? 443 : 80)), tls, servername: tls && !/^[\d.:]+$/.test(host) ? host : undefined, authority: u.host };
  }

  connectMs(): number {
    return this.opts.connectMs();
  }

  /** Send a request: on an idle connection, a new one, or when one is free. */
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): Call {
    const call = new Call(request, handler);
    if (this.closed) {
      call.failed(new UpstreamFailure("connect-failed", "connection pool closed", false));
      return call;
    }
    const idle = this.idle.pop();
    if (idle) idle.start(call);
    else if (this.live.size < this.opts.connections) this.open(call);
    else if (this.waiting.push(call) % 1024 === 0) this.waiting = this.waiting.filter((c) => !c.cancelled); // calls that gave up waiting
    return call;
  }

  private open(owner: Call): void {
    this.live.add(new Connection(this, owner));
  }

  private nextWaiting(): Call | undefined {
    let call = this.waiting.shift();
    while (call?.cancelled) call = this.waiting.shift();
    return call;
  }

  free(c: Connection): void {
    if (c.socket.destroyed) return;
    const next = this.nextWaiting();
    if (next) return c.start(next);
    c.idleAt = performance.now();
    this.idle.push(c);
    this.sweepTimer ??= setTimeout(this.sweep, this.opts.keepAliveMs).unref();
  }

  gone(c: Connection, wasConnected: boolean): void {
    this.live.delete(c);
    if (wasConnected) this.stats.connected--;
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.closed) return;
    const next = this.nextWaiting();
    if (next) this.open(next);
  }

  connected(): void {
    this.stats.connected++;
  }

  /** Close the connections idle for keepAliveMs; re-arm for the oldest left. */
  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    const now = performance.now();
    const keep = this.opts.keepAliveMs;
    // Oldest first (the stack's bottom): stop at the first one still young.
    while (this.idle.length > 0 && now - (this.idle[0] as Connection).idleAt >= keep - 1) (this.idle.shift() as Connection).destroy();
    const oldest = this.idle[0];
    if (oldest) this.sweepTimer = setTimeout(this.sweep, Math.max(1, oldest.idleAt + keep - now)).unref();
  };

  /** Close everything: waiting calls fail, requests in flight are cut off. */
  destroy(): void {
    this.closed = true;
    clearTimeout(this.sweepTimer);
    for (const call of this.waiting) call.failed(new UpstreamFailure("connect-failed", "connection pool closed", false));
    this.waiting = [];
    for (const c of this.idle.splice(0)) c.destroy();
    for (const c of [...this.live]) c.destroy();
  }
}
