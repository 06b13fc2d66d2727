// One proxied request (an Exchange): pick a backend, run one upstream attempt at a time with the
// proxy's own connect/response timers, classify failures, retry per retry.ts, stream the answer.
//
// The proxy's own upstream client (upstream-client/) rather than a proxy library: the retry rules
// need to know exactly whether a connection was made (onConnect) and whether any response byte
// came back (onHead), and the hot path stays small: one handler object per attempt, no closures,
// no streams on the upstream side, listeners on the client side are module functions finding
// their Exchange via a symbol.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { PassThrough } from "node:stream";
import { BadRequestError, ClientLimitError, NoHealthyBackendError, UpstreamError, UpstreamTimeoutError, type PuppetHaError } from "../errors.js";
import type { Admission } from "./admission.js";
import type { CaRouter } from "./control/ca-router.js";
import { EPOCH_HEADER, forwardHeaders, identityOf, responseHeaders, type Identity } from "./identity.js";
import type { Backend, BackendPool } from "./pool.js";
import { chargesBudget, marksDown, shouldRetry, statusFor, type FailureKind } from "./retry.js";
import { replyError, statusOf } from "./respond.js";
import type { Route } from "./route.js";
import type { Upstream, Waiting } from "./upstream.js";
import type { Call, UpstreamFailure, UpstreamHandler } from "./upstream-client/call.js";
import { Deadlines } from "./deadlines.js";

export interface ForwardContext {
  timeouts: {
    /** For the TCP connect itself (timed by the new connection: queue time excluded). */
    connect: number;
    /** From the upstream connection to the response headers; also the longest a response body may stall. */
    response: number;
    /** Longest wait for a free upstream connection (beyond connect): then 503, the backend is not blamed. */
    queue: number;
    /** Longest time to receive a request body that is read before forwarding (408 after). */
    clientBody: number;
  };
  limits: { body: number; retryBuffer: number };
  pinFileBucket: boolean;
  ca: BackendPool;
  masters: BackendPool;
  arbiter: CaRouter;
  /** Requests in flight per client address and without a certificate. */
  admission: Admission;
  /** A revoking CA write succeeded: fetch the CRL now. */
  revoked(): void;
  /** A passive failure on real traffic. */
  markDown(b: Upstream, reason: string): void;
  /** Every exchange, once, when it is over on the client's side (metrics, access log when on). */
  ended: (ex: Exchange) => void;
  /** Answers from the proxy itself (errors) carry Connection: close when true. */
  draining: boolean;
}

/**
 * The queue, response and body-stall timeouts of every upstream attempt in flight (deadlines.ts):
 * one timer for all of them. An exchange is in it from dispatch until the attempt's end (out of
 * it while its client is slow to take the body), and calls timedOut() when the time is up.
 */
const attemptDeadlines = new Deadlines<Exchange>();

const kEx = Symbol("puppet-ha.exchange");
type Tagged<T> = T & { [kEx]?: Exchange };

const kLive = Symbol("puppet-ha.exchanges");
type Connection = Socket & { [kLive]?: Set<Exchange> };

/**
 * Call once per accepted client connection. When it closes, every exchange on it is over for the
 * client, also those whose response never emits "close" (Node does not, for responses queued
 * behind a pipelined request when the socket dies): the counters they hold must still come down.
 */
export function trackConnection(socket: Socket): void {
  (socket as Connection)[kLive] = new Set();
  socket.once("close", onConnectionClose);
}

function onConnectionClose(this: Connection): void {
  const live = this[kLive];
  this[kLive] = undefined;
  if (live) for (const ex of live) ex.clientClosed();
}

/**
 * The life of an exchange, and the counters it holds (all given back exactly once):
 * - an admission slot (admission.ts), from start() until the client side is over AND no upstream
 *   attempt runs;
 * - per attempt, the backend's `outstanding`, its `waiting` entry and, for a CA write, one
 *   "CA write in flight" on the arbiter, from dispatch until the CA's answer arrives or the
 *   attempt ends (release());
 * - the client side ends on the response's close or the connection's close, whichever comes first.
 * A CA write that may have reached the CA is not aborted when its client leaves: it runs to its
 * end (bounded by timeouts.response), so a failback's final pull knows when it is safe.
 */
export class Exchange implements Waiting {
  readonly started = process.hrtime.bigint();
  identity: Identity | undefined;
  backend: Upstream | undefined;
  status = 0;
  attempts = 0;
  resends = 0;
  /** Attempts that failed for reasons not charged to the request (retry.ts chargesBudget). */
  private freeAttempts = 0;
  error: PuppetHaError | undefined;
  readonly address: string;
  private body: Buffer | null | undefined; // null: no body; undefined: streamed
  private upstream: Attempt | undefined;
  /** The streamed request body of the current attempt (body undefined). */
  private stream: PassThrough | undefined;
  /** The last body chunk, held so a small answer goes out as one write with its headers. */
  private held: Buffer | undefined;
  /** timeouts.clientBody while a body is read whole before forwarding. */
  private bodyTimer: NodeJS.Timeout | undefined;
  private lastFailure: { kind: FailureKind; err: PuppetHaError } | undefined;
  private connected = false;
  private responded = false;
  private tried: Set<Backend> | undefined;
  private bodyBytes = 0;
  /** A body being read whole before forwarding. */
  private chunks: Buffer[] | undefined;
  /** The current attempt counts as a CA write in flight on the arbiter. */
  private countsWrite = false;
  /** Holds an admission slot. */
  private admitted = false;
  /** The client side is over (response closed or connection gone). */
  private clientGone = false;
  /** The client has its answer or is gone: what the upstream still does is not forwarded. */
  private detached = false;
  private readonly authenticated: boolean;
  private readonly idempotent: boolean;
  private readonly headers: string[];
  readonly startBytes: number;

  constructor(
    private readonly ctx: ForwardContext,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly route: Route,
  ) {
    this.idempotent = req.method === "GET" || req.method === "HEAD";
    this.identity = identityOf(req.socket);
    this.authenticated = this.identity?.verify === "SUCCESS";
    this.address = req.socket.remoteAddress ?? "";
    this.headers = forwardHeaders(req.rawHeaders, this.identity, this.address);
    this.startBytes = req.socket.bytesWritten;
    (res as Tagged<ServerResponse>)[kEx] = this;
    (req as Tagged<IncomingMessage>)[kEx] = this;
    (req.socket as Connection)[kLive]?.add(this);
    res.on("close", onClientClose);
  }

  /**
   * Admit, read (or not) the request body, then send. Bodies of clients without a certificate are
   * always read whole first (up to limits.retryBuffer, within timeouts.clientBody), so a slow
   * body never holds a backend connection.
   */
  start(): void {
    if (this.identity?.sendable === false) {
      return this.failWith(new BadRequestError(400, "cannot forward this request: the client certificate's subject cannot be sent in a header"));
    }
    const refused = this.ctx.admission.enter(this.address, this.authenticated);
    if (refused !== undefined) return this.failWith(new ClientLimitError(429, refused));
    this.admitted = true;
    const h = this.req.headers;
    const cl = h["content-length"];
    const length = cl === undefined ? undefined : Number(cl);
    if (length !== undefined && length > this.ctx.limits.body) return this.failWith(tooLarge());
    if (h["transfer-encoding"] === undefined && (length === undefined || length === 0)) {
      this.body = null;
      return this.dispatch();
    }
    const max = this.ctx.limits.retryBuffer;
    if ((length !== undefined && length <= max) || !this.authenticated) {
      if (length !== undefined && length > max) return this.failWith(new BadRequestError(413, `request body larger than ${max} bytes (limits.retryBuffer) from a client without a certificate`));
      this.bodyTimer = setTimeout(onBodyTimer, this.ctx.timeouts.clientBody, this);
      this.body = undefined;
      this.req.on("data", onBufferedData);
      this.req.on("end", onBufferedEnd);
      return;
    }
    this.body = undefined; // streamed, counted against limits.body, never retried
    this.req.on("data", onStreamedData);
    this.dispatch();
  }

  /** A chunk of a body read whole before forwarding. */
  bufferChunk(c: Buffer): void {
    this.bodyBytes += c.length;
    if (this.status !== 0) return;
    if (this.bodyBytes > this.ctx.limits.retryBuffer || this.bodyBytes > this.ctx.limits.body) return this.failWith(tooLarge());
    (this.chunks ??= []).push(c);
  }

  bufferEnded(): void {
    clearTimeout(this.bodyTimer);
    if (this.status !== 0 || this.clientGone) return;
    this.body = this.chunks ? Buffer.concat(this.chunks) : Buffer.alloc(0);
    this.chunks = undefined;
    this.dispatch();
  }

  /** timeouts.clientBody passed before the whole body came in. */
  bodyTimedOut(): void {
    if (this.status !== 0 || this.clientGone) return;
    this.chunks = undefined;
    this.failWith(new ClientLimitError(408, `request body not received within ${this.ctx.timeouts.clientBody} ms`));
  }

  streamedChunk(c: Buffer): void {
    this.bodyBytes += c.length;
    if (this.bodyBytes > this.ctx.limits.body && this.status !== 413) {
      this.abortUpstream();
      this.failWith(tooLarge());
    }
  }

  private dispatch(): void {
    if (this.clientGone || this.detached || this.res.headersSent || this.res.destroyed) return;
    if (this.route.pool === "master") {
      const pool = this.ctx.masters;
      const b = (this.route.fileBucket && this.ctx.pinFileBucket ? pool.pinned(this.tried) : pool.pick(this.tried)) as Upstream | undefined;
      if (!b) {
        // After a failed attempt, the client hears about that failure, not about an empty pool.
        const last = this.lastFailure;
        return this.failWith(last ? last.err : new NoHealthyBackendError("master"), last && statusFor(last.kind));
      }
      return this.send(b);
    }
    let name: string | Promise<string>;
    try {
      name = this.ctx.arbiter.acquire(this.route.caWrite);
    } catch (err) {
      return this.failWith(err as PuppetHaError);
    }
    if (typeof name === "string") return this.send(this.ctx.ca.get(name) as Upstream);
    name.then(
      (n) => this.send(this.ctx.ca.get(n) as Upstream),
      (err: PuppetHaError) => this.failWith(err),
    );
  }

  private send(b: Upstream): void {
    if (this.clientGone || this.detached || this.res.destroyed) return;
    this.attempts++;
    this.backend = b;
    this.connected = false;
    b.outstanding++;
    b.requests++;
    if (this.route.caWrite) {
      // Counted from the moment it may be sent: the write hold must wait for it.
      this.countsWrite = true;
      this.ctx.arbiter.writeStarted();
    }
    const attempt = new Attempt(this);
    this.upstream = attempt;
    let body: Buffer | PassThrough | null = this.body ?? null;
    if (this.body === undefined) {
      // A PassThrough between: each attempt reads its own stream, and unpiping it on release
      // leaves the client's request as it is (the client still gets our 413/502).
      body = this.stream = new PassThrough();
      this.req.pipe(this.stream);
    }
    // Until a connection takes it: a new connection times its own connect (timeouts.connect);
    // this timer bounds the wait for a free connection, which is never the backend's failure.
    attemptDeadlines.add(this, this.ctx.timeouts.queue + this.ctx.timeouts.connect);
    if (this.idempotent || this.route.caWrite) b.waiting.add(this);
    // A CA request carries the epoch it was routed by (design: everything acting on CA data carries its epoch).
    const headers = this.route.pool === "ca" ? [...this.headers, EPOCH_HEADER, String(this.ctx.arbiter.epoch)] : this.headers;
    attempt.call = b.dispatcher.dispatch({ method: this.req.method ?? "GET", path: this.route.target, headers, body }, attempt);
    if (attempt.cancelled) attempt.call.cancel(); // cancelled while dispatch ran (it may call back at once)
  }

  /** The upstream socket is connected (new or reused): switch to the response timer. */
  connectedNow(): void {
    this.connected = true;
    attemptDeadlines.add(this, this.ctx.timeouts.response);
  }

  timedOut(): void {
    const b = this.backend as Upstream;
    if (!this.upstream) return;
    if (this.responded) {
      // The body stalled after the headers: the status line is gone; cut the client off.
      this.error = new UpstreamError(b.name, `response body stalled: no byte for ${this.ctx.timeouts.response} ms`);
      b.errors++;
      this.abortUpstream();
      if (!this.detached) this.res.destroy();
      return;
    }
    if (!this.connected) {
      // Queue time: every connection to it was busy. Not the backend's failure; nothing was sent.
      this.abortUpstream();
      return this.failWith(new NoHealthyBackendError(b.pool, `backend ${b.name}: no connection free within ${this.ctx.timeouts.queue + this.ctx.timeouts.connect} ms`));
    }
    if (this.body === undefined && !this.req.complete) {
      // The client is still sending its (streamed) body: the backend is waiting for it.
      this.abortUpstream();
      return this.failWith(new ClientLimitError(408, `request body not received within ${this.ctx.timeouts.response} ms`));
    }
    this.fail("response-timeout", new UpstreamTimeoutError(b.name, "response", this.ctx.timeouts.response));
  }

  upstreamError(err: UpstreamFailure): void {
    const b = this.backend as Upstream;
    if (err.code === "invalid-request") {
      // The request itself cannot be written (nothing was sent): not the backend's fault.
      this.release();
      return this.failWith(new BadRequestError(400, `cannot forward this request: ${err.message}`));
    }
    if (this.responded) {
      // Mid-body: the status line is gone already; all we can do is cut the client off.
      this.release();
      if (!this.detached) this.res.destroy();
      return;
    }
    if (!this.connected && err.code === "connect-timeout") {
      return this.fail("connect-timeout", new UpstreamTimeoutError(b.name, "connect", this.ctx.timeouts.connect));
    }
    const kind: FailureKind = this.connected ? "reset" : "connect";
    const what = kind === "connect" ? "connect failed" : err.code === "malformed" ? "answered malformed" : "failed before answering";
    this.fail(kind, new UpstreamError(b.name, `${what}: ${err.message}`, { cause: err }), err.reused);
  }

  /** The backend was marked down while this request (GET/HEAD or CA write) waited for its answer. */
  backendDown(): void {
    const b = this.backend as Upstream;
    if (!this.upstream) return;
    if (!this.connected) {
      // Nothing was sent yet: send it where it can go now (the new active CA, another master).
      this.abortUpstream();
      if (this.route.pool === "master") (this.tried ??= new Set()).add(b);
      return this.dispatch();
    }
    if (this.idempotent) return this.fail("backend-down", new UpstreamError(b.name, "marked down while waiting for its answer"));
    // A CA write the CA may be doing: never re-sent. The client hears at once (not after
    // timeouts.response); the upstream request runs on to its end, still counted as in flight.
    b.waiting.delete(this);
    this.detached = true;
    this.failWith(new UpstreamError(b.name, "marked down with this CA write in flight; it was not re-sent and may or may not have been done"), 503);
  }

  /**
   * Whether a failure counts against the backend (passive check). Not when the client may have
   * caused it: a response timeout on a CA request from a client without a certificate (a slow or
   * odd request of an anonymous client must not fail over the CA; active checks still find a hung CA).
   */
  private blames(kind: FailureKind, reused: boolean): boolean {
    if (!marksDown(kind, reused)) return false;
    return kind !== "response-timeout" || this.authenticated || this.route.pool !== "ca";
  }

  private fail(kind: FailureKind, err: PuppetHaError, reused = false): void {
    const b = this.backend as Upstream;
    this.abortUpstream();
    b.errors++;
    if (this.blames(kind, reused)) this.ctx.markDown(b, err.message);
    if (this.detached || this.clientGone) return; // an orphaned write: never re-sent, nobody to answer
    const charged = chargesBudget(kind, reused);
    if (!charged) this.freeAttempts++;
    const retry = shouldRetry({
      kind, idempotent: this.idempotent, replayable: this.body !== undefined, resends: charged ? this.resends : 0,
      attempts: this.attempts - this.freeAttempts, maxAttempts: (this.route.pool === "ca" ? this.ctx.ca : this.ctx.masters).backends.length + 1,
    });
    if (retry) {
      if (charged && kind !== "connect" && kind !== "connect-timeout") this.resends++;
      this.lastFailure = { kind, err };
      if (this.route.pool === "master") (this.tried ??= new Set()).add(b);
      return this.dispatch();
    }
    this.failWith(err, statusFor(kind));
  }

  private abortUpstream(): void {
    const u = this.upstream;
    if (!u) return;
    this.release();
    u.cancel();
  }

  /** The upstream attempt is over: timer off, counters down (exactly once per attempt). */
  private release(): void {
    if (!this.upstream) return;
    this.upstream = undefined;
    attemptDeadlines.delete(this);
    if (this.stream) {
      this.req.unpipe(this.stream);
      this.stream = undefined;
    }
    const b = this.backend as Upstream;
    b.waiting.delete(this);
    b.outstanding--;
    if (this.countsWrite) {
      this.countsWrite = false;
      this.ctx.arbiter.writeEnded();
    }
    this.settle();
  }

  /** Both sides are over: give the admission slot back. */
  private settle(): void {
    if (this.admitted && this.clientGone && this.upstream === undefined) {
      this.admitted = false;
      this.ctx.admission.leave(this.address, this.authenticated);
    }
  }

  responseArrived(status: number, statusText: string, raw: readonly string[]): void {
    this.responded = true;
    // From here timeouts.response bounds each wait for more of the body (a stalled body).
    attemptDeadlines.add(this, this.ctx.timeouts.response);
    const b = this.backend as Upstream;
    b.waiting.delete(this);
    if (this.countsWrite) {
      // The CA has answered: the write is done in its cadir, whatever its body does from here
      // (a body that stalls must not hold the count, and so a failback, forever).
      this.countsWrite = false;
      this.ctx.arbiter.writeEnded();
    }
    if (this.detached) return this.abortUpstream(); // the write's end is known now; nobody to tell
    this.status = status;
    if (this.ctx.draining) this.res.shouldKeepAlive = false;
    this.res.writeHead(status, statusText, responseHeaders(raw));
  }

  /** A body chunk: false stops reading upstream until the client drains (resumeUpstream). */
  responseData(chunk: Buffer): boolean {
    if (this.detached) return true;
    const held = this.held;
    this.held = chunk;
    if (held === undefined) return true;
    attemptDeadlines.add(this, this.ctx.timeouts.response);
    if (this.res.write(held)) return true;
    // Waiting for the client is not a stalled backend: no body timer until it drains.
    attemptDeadlines.delete(this);
    this.res.once("drain", onClientDrain);
    return false;
  }

  resumeUpstream(): void {
    if (!this.upstream) return;
    attemptDeadlines.add(this, this.ctx.timeouts.response);
    this.upstream.resume();
  }

  upstreamEnded(): void {
    this.release();
    if (this.detached) return;
    const last = this.held;
    this.held = undefined;
    this.res.end(last);
    if (this.route.revoking && this.status >= 200 && this.status < 300) this.ctx.revoked();
  }

  /** Answer with an error of ours (status from the error class unless given). */
  private failWith(err: PuppetHaError, status = statusOf(err)): void {
    this.error = err;
    this.status = status;
    // After 408/413/429 the request body was not read: the connection cannot be reused.
    const close = status === 408 || status === 413 || status === 429 || this.ctx.draining;
    const retryAfter = err instanceof NoHealthyBackendError && err.retryAfterS !== undefined ? String(err.retryAfterS) : "5";
    replyError(this.res, status, err.message, { retryAfter: status === 503 || status === 429 ? retryAfter : undefined, close });
  }

  /** The client side is over (response closed, or its connection closed): called once. */
  clientClosed(): void {
    if (this.clientGone) return;
    this.clientGone = true;
    (this.req.socket as Connection)[kLive]?.delete(this);
    this.chunks = undefined;
    if (this.upstream) {
      if (this.runsOn()) this.detached = true;
      else this.abortUpstream();
    } else clearTimeout(this.bodyTimer);
    this.settle();
    this.ctx.ended(this);
  }

  /**
   * A CA write that the CA may be doing right now (connected, whole body sent, no answer yet) is
   * left to run when its client goes; anything else is aborted.
   */
  private runsOn(): boolean {
    return this.countsWrite && this.connected && !this.responded && (this.body !== undefined || this.req.complete);
  }
}

function tooLarge(): BadRequestError {
  return new BadRequestError(413, "request body too large");
}

function exOf(o: unknown): Exchange | undefined {
  return (o as Tagged<object>)[kEx];
}

/**
 * One upstream attempt as the upstream client's handler. Once cancelled (timeout, failure, client
 * gone) it ignores every later event; its call (and the connection serving it) is cancelled.
 */
class Attempt implements UpstreamHandler {
  call: Call | undefined;
  cancelled = false;

  constructor(private readonly ex: Exchange) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.call?.cancel();
  }

  resume(): void {
    this.call?.resume();
  }

  /** A connected socket (new or reused) is taking the request now. */
  onConnect(): void {
    if (!this.cancelled) this.ex.connectedNow();
  }

  onHead(status: number, statusText: string, headers: string[]): void {
    if (!this.cancelled) this.ex.responseArrived(status, statusText, headers);
  }

  onData(chunk: Buffer): boolean {
    return this.cancelled || this.ex.responseData(chunk);
  }

  onComplete(): void {
    if (!this.cancelled) this.ex.upstreamEnded();
  }

  onError(err: UpstreamFailure): void {
    if (!this.cancelled) this.ex.upstreamError(err);
  }
}

function onClientDrain(this: ServerResponse): void {
  exOf(this)?.resumeUpstream();
}

function onClientClose(this: ServerResponse): void {
  exOf(this)?.clientClosed();
}

function onBodyTimer(ex: Exchange): void {
  ex.bodyTimedOut();
}

function onBufferedData(this: IncomingMessage, c: Buffer): void {
  exOf(this)?.bufferChunk(c);
}

function onBufferedEnd(this: IncomingMessage): void {
  exOf(this)?.bufferEnded();
}

function onStreamedData(this: IncomingMessage, c: Buffer): void {
  exOf(this)?.streamedChunk(c);
}
