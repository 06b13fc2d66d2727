// One proxied request (an Exchange): pick a backend, run one upstream attempt at a time with the
// proxy's own connect/response timers, classify failures, retry per retry.ts, stream the answer.
//
// Plain node:http rather than http-proxy-3: the retry rules need to know exactly whether a
// connection was made and whether any response byte came back, and the hot path stays small
// (no per-request closures: listeners are module functions finding their Exchange via a symbol).
import { request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { BadRequestError, NoHealthyBackendError, UpstreamError, UpstreamTimeoutError, type PuppetHaError } from "../errors.js";
import type { Arbiter } from "./arbiter.js";
import { forwardHeaders, identityOf, responseHeaders, type Identity } from "./identity.js";
import type { Backend, BackendPool } from "./pool.js";
import { marksDown, shouldRetry, statusFor, type FailureKind } from "./retry.js";
import { replyError, statusOf } from "./respond.js";
import type { Route } from "./route.js";
import type { Upstream, Waiting } from "./upstream.js";

export interface ForwardContext {
  timeouts: { connect: number; response: number };
  limits: { body: number; retryBuffer: number };
  pinFileBucket: boolean;
  ca: BackendPool;
  masters: BackendPool;
  arbiter: Arbiter;
  /** A revoking CA write succeeded: fetch the CRL now. */
  revoked(): void;
  /** A passive failure on real traffic. */
  markDown(b: Upstream, reason: string): void;
  /** One access log line per request, or undefined when off. */
  accessLog: ((ex: Exchange) => void) | undefined;
  /** Answers from the proxy itself (errors) carry Connection: close when true. */
  draining: boolean;
}

const kEx = Symbol("puppet-ha.exchange");
type Tagged<T> = T & { [kEx]?: Exchange };

export class Exchange implements Waiting {
  readonly started = process.hrtime.bigint();
  identity: Identity | undefined;
  backend: Upstream | undefined;
  status = 0;
  attempts = 0;
  resends = 0;
  error: PuppetHaError | undefined;
  private body: Buffer | null | undefined; // null: no body; undefined: streamed
  private upstream: ClientRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  private released = true;
  private lastFailure: { kind: FailureKind; err: PuppetHaError } | undefined;
  private connected = false;
  private responded = false;
  private tried: Set<Backend> | undefined;
  private bodyBytes = 0;
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
    this.headers = forwardHeaders(req.rawHeaders, this.identity, req.socket.remoteAddress ?? "");
    this.startBytes = req.socket.bytesWritten;
    (res as Tagged<ServerResponse>)[kEx] = this;
    res.on("close", onClientClose);
  }

  /** Read (or not) the request body, then send. */
  start(): void {
    const h = this.req.headers;
    const cl = h["content-length"];
    const length = cl === undefined ? undefined : Number(cl);
    if (length !== undefined && length > this.ctx.limits.body) return this.failWith(tooLarge());
    if (h["transfer-encoding"] === undefined && (length === undefined || length === 0)) {
      this.body = null;
      return this.dispatch();
    }
    if (length !== undefined && length <= this.ctx.limits.retryBuffer) {
      const chunks: Buffer[] = [];
      this.req.on("data", (c: Buffer) => chunks.push(c));
      this.req.on("end", () => {
        this.body = Buffer.concat(chunks);
        this.dispatch();
      });
      return;
    }
    this.body = undefined; // streamed, counted against limits.body, never retried
    this.req.on("data", (c: Buffer) => {
      this.bodyBytes += c.length;
      if (this.bodyBytes > this.ctx.limits.body && this.status !== 413) {
        this.abortUpstream();
        this.failWith(tooLarge());
      }
    });
    this.dispatch();
  }

  private dispatch(): void {
    if (this.res.headersSent || this.res.destroyed) return;
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
    if (this.res.destroyed) return;
    this.attempts++;
    this.backend = b;
    this.connected = false;
    this.released = false;
    b.outstanding++;
    b.requests++;
    const ureq = (b.https ? httpsRequest : httpRequest)({
      agent: b.agent, host: b.hostname, port: b.port, method: this.req.method, path: this.route.target,
      headers: this.headers, setHost: false,
    });
    (ureq as Tagged<ClientRequest>)[kEx] = this;
    this.upstream = ureq;
    ureq.on("socket", onUpstreamSocket);
    ureq.on("response", onUpstreamResponse);
    ureq.on("error", onUpstreamError);
    this.timer = setTimeout(onTimer, this.ctx.timeouts.connect, this);
    if (this.idempotent) b.waiting.add(this);
    if (this.body === undefined) this.req.pipe(ureq);
    else ureq.end(this.body);
  }

  /** The upstream socket is connected (new or reused): switch to the response timer. */
  connectedNow(): void {
    this.connected = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(onTimer, this.ctx.timeouts.response, this);
  }

  timedOut(): void {
    const b = this.backend as Upstream;
    if (this.connected) this.fail("response-timeout", new UpstreamTimeoutError(b.name, "response", this.ctx.timeouts.response));
    else this.fail("connect-timeout", new UpstreamTimeoutError(b.name, "connect", this.ctx.timeouts.connect));
  }

  upstreamError(err: NodeJS.ErrnoException, ureq: ClientRequest): void {
    const b = this.backend as Upstream;
    const reason = err.code ?? err.message;
    if (this.responded) {
      // Mid-body: the status line is gone already; all we can do is cut the client off.
      this.release();
      this.res.destroy();
      return;
    }
    const kind: FailureKind = this.connected ? "reset" : "connect";
    this.fail(kind, new UpstreamError(b.name, `${kind === "connect" ? "connect failed" : "failed before answering"}: ${reason}`, { cause: err }), ureq.reusedSocket);
  }

  /** The backend was marked down while this GET/HEAD waited for its answer. */
  backendDown(): void {
    const b = this.backend as Upstream;
    this.fail("backend-down", new UpstreamError(b.name, "marked down while waiting for its answer"));
  }

  private fail(kind: FailureKind, err: PuppetHaError, reused = false): void {
    const b = this.backend as Upstream;
    this.abortUpstream();
    b.errors++;
    if (marksDown(kind, reused)) this.ctx.markDown(b, err.message);
    const retry = shouldRetry({
      kind, idempotent: this.idempotent, replayable: this.body !== undefined, resends: this.resends,
      attempts: this.attempts, maxAttempts: (this.route.pool === "ca" ? this.ctx.ca : this.ctx.masters).backends.length + 1,
    });
    if (retry) {
      if (kind !== "connect" && kind !== "connect-timeout") this.resends++;
      this.lastFailure = { kind, err };
      if (this.route.pool === "master") (this.tried ??= new Set()).add(b);
      return this.dispatch();
    }
    this.failWith(err, statusFor(kind));
  }

  private abortUpstream(): void {
    const u = this.upstream;
    if (!u) return;
    this.upstream = undefined;
    this.release();
    if (this.body === undefined) this.req.unpipe(u);
    u.destroy();
  }

  /** The upstream attempt is over: timers off, counters down. */
  private release(): void {
    clearTimeout(this.timer);
    const b = this.backend;
    if (b && !this.released) {
      b.waiting.delete(this);
      b.outstanding--;
      this.released = true;
    }
  }

  /** True when ureq is this exchange's current attempt (late events of aborted ones are ignored). */
  owns(ureq: ClientRequest): boolean {
    return this.upstream === ureq;
  }

  responseArrived(ures: IncomingMessage): void {
    this.responded = true;
    clearTimeout(this.timer);
    const b = this.backend as Upstream;
    b.waiting.delete(this);
    (ures as Tagged<IncomingMessage>)[kEx] = this;
    this.status = ures.statusCode ?? 502;
    if (this.ctx.draining) this.res.shouldKeepAlive = false;
    this.res.writeHead(this.status, ures.statusMessage, responseHeaders(ures.rawHeaders));
    ures.on("end", onUpstreamEnd);
    ures.pipe(this.res);
  }

  upstreamEnded(): void {
    this.release();
    this.upstream = undefined;
    if (this.route.revoking && this.status >= 200 && this.status < 300) this.ctx.revoked();
  }

  /** Answer with an error of ours (status from the error class unless given). */
  private failWith(err: PuppetHaError, status = statusOf(err)): void {
    this.error = err;
    this.status = status;
    replyError(this.res, status, err.message, { retryAfter: status === 503 ? "5" : undefined, close: status === 413 || this.ctx.draining });
  }

  clientClosed(): void {
    if (!this.res.writableFinished) this.abortUpstream();
    else this.release();
    this.ctx.accessLog?.(this);
  }
}

function tooLarge(): BadRequestError {
  return new BadRequestError(413, "request body too large");
}

function exOf(o: unknown): Exchange | undefined {
  return (o as Tagged<object>)[kEx];
}

function onUpstreamSocket(this: ClientRequest, socket: Socket): void {
  const ex = exOf(this);
  if (!ex) return;
  if (socket.connecting) socket.once("connect", () => exOf(this) === ex && ex.connectedNow());
  else ex.connectedNow();
}

function onUpstreamResponse(this: ClientRequest, ures: IncomingMessage): void {
  const ex = exOf(this);
  if (ex?.owns(this)) ex.responseArrived(ures);
  else ures.resume();
}

function onUpstreamError(this: ClientRequest, err: NodeJS.ErrnoException): void {
  const ex = exOf(this);
  if (ex?.owns(this)) ex.upstreamError(err, this);
}

function onUpstreamEnd(this: IncomingMessage): void {
  exOf(this)?.upstreamEnded();
}

function onTimer(ex: Exchange): void {
  ex.timedOut();
}

function onClientClose(this: ServerResponse): void {
  exOf(this)?.clientClosed();
}
