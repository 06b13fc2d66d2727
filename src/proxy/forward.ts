// One proxied request (an Exchange): pick a backend, run one upstream attempt at a time with the
// proxy's own connect/response timers, classify failures, retry per retry.ts, stream the answer.
//
// undici's dispatch API rather than http-proxy-3: the retry rules need to know exactly whether a
// connection was made (onConnect) and whether any response byte came back (onHeaders), and the
// hot path stays small: one handler object per attempt, no closures, no streams on the upstream
// side, listeners on the client side are module functions finding their Exchange via a symbol.
import type { IncomingMessage, ServerResponse } from "node:http";
import { PassThrough } from "node:stream";
import type { Dispatcher } from "undici";
import { BadRequestError, NoHealthyBackendError, UpstreamError, UpstreamTimeoutError, type PuppetHaError } from "../errors.js";
import type { Arbiter } from "./arbiter.js";
import { forwardHeaders, identityOf, responseHeaders, type Identity } from "./identity.js";
import type { Backend, BackendPool } from "./pool.js";
import { marksDown, shouldRetry, statusFor, type FailureKind } from "./retry.js";
import { replyError, statusOf } from "./respond.js";
import type { Route } from "./route.js";
import { reusedSocket, type Upstream, type Waiting } from "./upstream.js";

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
  private upstream: Attempt | undefined;
  /** The streamed request body of the current attempt (body undefined). */
  private stream: PassThrough | undefined;
  /** The last body chunk, held so a small answer goes out as one write with its headers. */
  private held: Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private released = true;
  private lastFailure: { kind: FailureKind; err: PuppetHaError } | undefined;
  private connected = false;
  private responded = false;
  private tried: Set<Backend> | undefined;
  private bodyBytes = 0;
  /** This exchange counts as a CA write in flight on the arbiter (see sendCa). */
  private countedWrite = false;
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
    if (typeof name === "string") return this.sendCa(name);
    name.then(
      (n) => this.sendCa(n),
      (err: PuppetHaError) => this.failWith(err),
    );
  }

  /** CA traffic: a write is counted as in flight on the arbiter from here to the end of the exchange. */
  private sendCa(name: string): void {
    if (this.route.caWrite && !this.countedWrite && !this.res.destroyed) {
      this.countedWrite = true;
      this.ctx.arbiter.writeStarted();
    }
    this.send(this.ctx.ca.get(name) as Upstream);
  }

  private send(b: Upstream): void {
    if (this.res.destroyed) return;
    this.attempts++;
    this.backend = b;
    this.connected = false;
    this.released = false;
    b.outstanding++;
    b.requests++;
    const attempt = new Attempt(this);
    this.upstream = attempt;
    let body: Buffer | PassThrough | null = this.body ?? null;
    if (this.body === undefined) {
      // A PassThrough between: undici destroys the body stream it was given on abort, and that
      // must not be the client's request (the client still gets our 413/502).
      body = this.stream = new PassThrough();
      this.req.pipe(this.stream);
    }
    this.timer = setTimeout(onTimer, this.ctx.timeouts.connect, this);
    if (this.idempotent) b.waiting.add(this);
    b.dispatcher.dispatch({ method: this.req.method ?? "GET", path: this.route.target, headers: this.headers, body }, attempt);
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

  upstreamError(err: NodeJS.ErrnoException): void {
    const b = this.backend as Upstream;
    if (err.code === "UND_ERR_INVALID_ARG" || err.code === "UND_ERR_NOT_SUPPORTED") {
      // undici refused the request itself (it validates headers and path): not the backend's fault.
      this.upstream = undefined;
      this.release();
      return this.failWith(new BadRequestError(400, `cannot forward this request: ${err.message}`));
    }
    const reason = err.code !== undefined && !err.code.startsWith("UND_ERR") ? err.code : err.message;
    if (this.responded) {
      // Mid-body: the status line is gone already; all we can do is cut the client off.
      this.upstream = undefined;
      this.release();
      this.res.destroy();
      return;
    }
    const kind: FailureKind = this.connected ? "reset" : "connect";
    this.fail(kind, new UpstreamError(b.name, `${kind === "connect" ? "connect failed" : "failed before answering"}: ${reason}`, { cause: err }), reusedSocket(err));
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
    if (this.stream) {
      this.req.unpipe(this.stream);
      this.stream = undefined;
    }
    u.cancel();
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

  responseArrived(status: number, statusText: string, raw: readonly Buffer[]): void {
    this.responded = true;
    clearTimeout(this.timer);
    const b = this.backend as Upstream;
    b.waiting.delete(this);
    this.status = status;
    if (this.ctx.draining) this.res.shouldKeepAlive = false;
    this.res.writeHead(status, statusText, responseHeaders(raw));
  }

  /** A body chunk: false asks undici to stop reading until the client drains (resumeUpstream). */
  responseData(chunk: Buffer): boolean {
    const held = this.held;
    this.held = chunk;
    if (held === undefined) return true;
    if (this.res.write(held)) return true;
    this.res.once("drain", onClientDrain);
    return false;
  }

  resumeUpstream(): void {
    this.upstream?.resume?.();
  }

  upstreamEnded(): void {
    this.release();
    this.upstream = undefined;
    const last = this.held;
    this.held = undefined;
    this.res.end(last);
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
    if (this.countedWrite) {
      this.countedWrite = false;
      // Connected but no answer (timeout, reset, client gone): the CA may still be writing.
      this.ctx.arbiter.writeEnded(this.connected && !this.responded);
    }
    this.ctx.accessLog?.(this);
  }
}

function tooLarge(): BadRequestError {
  return new BadRequestError(413, "request body too large");
}

function exOf(o: unknown): Exchange | undefined {
  return (o as Tagged<object>)[kEx];
}

/**
 * One upstream attempt as undici's dispatch handler. Once cancelled (timeout, failure, client gone)
 * it ignores every later event and aborts the request as soon as undici hands it a connection.
 * The legacy handler methods are used on purpose: undici calls them natively (the newer
 * controller API is an adapter over them, with a parsed header object per response) and they
 * give the raw response headers.
 */
class Attempt implements Dispatcher.DispatchHandler {
  private abort: ((err?: Error) => void) | undefined;
  resume: (() => void) | undefined;
  private cancelled = false;

  constructor(private readonly ex: Exchange) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.abort?.();
  }

  /** A connected socket (new or reused) is taking the request now. */
  onConnect(abort: (err?: Error) => void): void {
    if (this.cancelled) return abort();
    this.abort = abort;
    this.ex.connectedNow();
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.cancelled || status < 200) return true;
    this.resume = resume;
    this.ex.responseArrived(status, statusText, raw);
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.cancelled || this.ex.responseData(chunk);
  }

  onComplete(): void {
    if (!this.cancelled) this.ex.upstreamEnded();
  }

  onError(err: Error): void {
    if (!this.cancelled) this.ex.upstreamError(err);
  }
}

function onClientDrain(this: ServerResponse): void {
  exOf(this)?.resumeUpstream();
}

function onTimer(ex: Exchange): void {
  ex.timedOut();
}

function onClientClose(this: ServerResponse): void {
  exOf(this)?.clientClosed();
}
