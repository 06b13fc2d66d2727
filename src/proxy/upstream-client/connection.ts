// One keep-alive connection to a backend, carrying one request at a time: connects (timed by its
// own connect timer), writes the request, parses the answer, and is handed back to its pool only
// after a whole response was read, the whole request was written and `Connection: close` was not said.
import { connect as tcpConnect, type Socket } from "node:net";
import type { Readable } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import { requestHead, type Framing } from "./request-head.js";
import { ResponseParser, type ResponseSink } from "./response-parser.js";
import { UpstreamFailure, type Call, type Target } from "./call.js";

export interface ConnectionOwner {
  readonly target: Target;
  /** A connection is free (connected, idle): give it the next call or keep it. */
  free(c: Connection): void;
  /** A connection closed (connected or not). */
  gone(c: Connection, wasConnected: boolean): void;
  /** A connection has just connected. */
  connected(): void;
  connectMs(): number;
}

/** Where plain TCP connections read (see the constructor). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export class Connection implements ResponseSink {
  readonly socket: Socket;
  /** The call being served (undefined while idle or connecting). */
  call: Call | undefined;
  /** The call this connection was opened for, until it connects. */
  owner: Call | undefined;
  connected = false;
  /** Responses read whole on this connection: a failure after that is on a reused connection. */
  served = 0;
  /** performance.now() when it last became idle. */
  idleAt = 0;
  private readonly parser = new ResponseParser(this);
  private connectTimer: NodeJS.Timeout | undefined;
  private body: Readable | undefined;
  private framing: Framing = "none";
  private requestDone = false;
  private complete = false;
  private closed = false;
  /** Body chunks are views of READ_BUFFER: copied before they are handed on. */
  private readonly copyBody: boolean;

  constructor(private readonly pool: ConnectionOwner, owner: Call) {
    this.owner = owner;
    const t = pool.target;
    // Plain TCP reads into one buffer shared by every connection (onread): no Buffer and no
    // stream machinery per read. Each read is parsed whole before the next can happen; what
    // outlives it (a partial head, body chunks) is copied.
    this.socket = t.tls
      ? tlsConnect({ host: t.host, port: t.port, servername: t.servername })
      : tcpConnect({ host: t.host, port: t.port, onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) } });
    this.copyBody = !t.tls;
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 60_000);
    const ms = pool.connectMs();
    this.connectTimer = setTimeout(onConnectTimer, ms, this, ms);
    this.socket.once(t.tls ? "secureConnect" : "connect", () => this.onConnected());
    if (t.tls) this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("end", () => this.onSocketEnd());
    this.socket.on("error", (err: NodeJS.ErrnoException) => this.onClose(err));
    this.socket.on("close", () => this.onClose(undefined));
    this.socket.on("drain", () => this.body?.resume());
  }

  private onConnected(): void {
    clearTimeout(this.connectTimer);
    this.connected = true;
    this.pool.connected();
    const owner = this.owner;
    this.owner = undefined;
    if (owner && !owner.cancelled) this.start(owner);
    else this.pool.free(this);
  }

  /**
   * The connect timer fired. Timers run before the event loop polls for I/O: on a busy loop the
   * connect may have happened and not been seen yet, so the verdict waits for the next poll.
   */
  connectTimedOut(ms: number): void {
    setImmediate(() => {
      if (!this.connected && !this.closed) this.failConnect("connect-timeout", `no connect within ${ms} ms`);
    });
  }

  private failConnect(code: "connect-failed" | "connect-timeout", message: string, cause?: Error): void {
    const owner = this.owner;
    this.owner = undefined;
    this.destroy();
    if (owner && !owner.cancelled) owner.failed(new UpstreamFailure(code, message, false, cause));
  }

  /** Serve a call: tell it it is connected, then write its request. */
  start(call: Call): void {
    this.call = call;
    call.conn = this;
    this.complete = false;
    const r = call.request;
    this.parser.expect(r.method);
    let head: string;
    try {
      const body = r.body;
      ({ head, framing: this.framing } = requestHead({
        method: r.method, path: r.path, headers: r.headers, host: this.pool.target.authority,
        bodyLength: Buffer.isBuffer(body) ? body.length : undefined, streamed: body !== null && !Buffer.isBuffer(body),
      }));
    } catch (err) {
      this.call = undefined;
      this.pool.free(this);
      return call.failed(new UpstreamFailure("invalid-request", (err as Error).message, false));
    }
    call.handler.onConnect();
    if (this.call !== call) return; // cancelled while told
    const body = r.body;
    if (body === null) {
      this.socket.write(head, "latin1");
      this.requestDone = true;
    } else if (Buffer.isBuffer(body)) {
      this.socket.cork();
      this.socket.write(head, "latin1");
      if (body.length > 0) this.socket.write(body);
      this.socket.uncork();
      this.requestDone = true;
    } else {
      this.requestDone = false;
      this.socket.write(head, "latin1");
      this.body = body;
      body.on("data", this.onBodyData);
      body.once("end", this.onBodyEnd);
    }
  }

  private readonly onBodyData = (c: Buffer): void => {
    if (c.length === 0) return;
    const ok = this.framing === "chunked" ? this.socket.write(`${c.length.toString(16)}\r\n`) && this.socket.write(c) && this.socket.write("\r\n") : this.socket.write(c);
    if (!ok) this.body?.pause();
  };

  private readonly onBodyEnd = (): void => {
    if (this.framing === "chunked") this.socket.write("0\r\n\r\n");
    this.requestDone = true;
    this.detachBody();
  };

  private detachBody(): void {
    const b = this.body;
    if (!b) return;
    this.body = undefined;
    b.off("data", this.onBodyData);
    b.off("end", this.onBodyEnd);
  }

  /** The call no longer wants this connection (cancelled): close it unless it is clean. */
  abandon(): void {
    this.call = undefined;
    this.detachBody();
    this.destroy();
  }

  resume(): void {
    if (this.socket.isPaused()) this.socket.resume();
  }

  /** onread's callback: true keeps reading (a pause is the socket's own, see onBody). */
  private onRead(n: number, buf: Uint8Array): boolean {
    this.onData((buf as Buffer).subarray(0, n));
    return true;
  }

  private onData(chunk: Buffer): void {
    const call = this.call;
    if (!call) return this.destroy(); // bytes nobody asked for: this connection cannot be trusted
    let used: number;
    try {
      used = this.parser.execute(chunk);
    } catch (err) {
      return this.fail(call, "malformed", `malformed response: ${(err as Error).message}`, err as Error);
    }
    // (A call cancelled from one of its callbacks has closed this connection already.)
    if (this.complete && this.call === call) this.finished(call, used === chunk.length);
  }

  private onSocketEnd(): void {
    const call = this.call;
    if (!call) return this.destroy();
    try {
      this.parser.finish();
    } catch (err) {
      return this.fail(call, "reset", "other side closed before the response ended", err as Error);
    }
    if (this.complete) this.finished(call, false);
  }

  private onClose(err: NodeJS.ErrnoException | undefined): void {
    if (!this.connected && this.owner) this.failConnect("connect-failed", err?.code ?? err?.message ?? "closed while connecting", err);
    const call = this.call;
    if (call) this.fail(call, "reset", err ? (err.code ?? err.message) : "other side closed", err);
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.connectTimer);
    this.socket.destroy();
    this.pool.gone(this, this.connected);
  }

  private fail(call: Call, code: "reset" | "malformed", message: string, cause?: Error): void {
    this.call = undefined;
    this.detachBody();
    this.destroy();
    // A malformed answer is the backend's doing, on any connection; a reset on a connection that
    // carried whole responses before may be the backend closing it as idle.
    call.failed(new UpstreamFailure(code, message, code === "reset" && this.served > 0, cause));
  }

  private finished(call: Call, clean: boolean): void {
    this.call = undefined;
    this.served++;
    const reusable = clean && this.parser.keepAlive && this.requestDone && !this.closed && !this.socket.destroyed;
    this.detachBody();
    call.conn = undefined;
    // Back to the pool first, so that a request sent from onComplete can reuse it. A response
    // that ended while its client was slow left the socket paused: idle, it must hear a close.
    if (reusable) {
      this.resume();
      this.pool.free(this);
    } else this.destroy();
    call.ended();
  }

  destroy(): void {
    this.socket.destroy();
    if (!this.closed) {
      // "close" comes later; the pool must not hand this connection out meanwhile.
      this.call = undefined;
    }
  }

  // ResponseSink: only reached while a call is being served (cancelled calls close the socket).
  onHead(status: number, statusText: string, headers: string[]): void {
    this.call?.handler.onHead(status, statusText, headers);
  }

  onBody(chunk: Buffer): void {
    const call = this.call;
    if (call && !call.handler.onData(this.copyBody ? Buffer.from(chunk) : chunk)) this.socket.pause();
  }

  onEnd(): void {
    this.complete = true;
  }
}

function onConnectTimer(c: Connection, ms: number): void {
  c.connectTimedOut(ms);
}
