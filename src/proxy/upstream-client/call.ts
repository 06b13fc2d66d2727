// One request through the upstream client, as its caller sees it: the request, the handler told
// what happens (connected, head, body, end or failure, each at most once and never after cancel),
// and cancel()/resume().
import type { Readable } from "node:stream";
import type { Connection } from "./connection.js";

/** Where a pool connects. */
export interface Target {
  host: string;
  port: number;
  tls: boolean;
  servername: string | undefined;
  /** `host:port`, the Host header when the client sent none. */
  authority: string;
}

export interface UpstreamRequest {
  method: string;
  path: string;
  /** [name, value, ...] written as they are (see request-head.ts). */
  headers: readonly string[];
  /** null: none; a Buffer: sent with Content-Length; a stream: chunked unless the headers carry a length. */
  body: Buffer | Readable | null;
}

export interface UpstreamHandler {
  /** A connected socket (new or reused) takes the request now. */
  onConnect(): void;
  /** The final response head (1xx skipped). */
  onHead(status: number, statusText: string, headers: string[]): void;
  /** A body chunk; false pauses the upstream until Call.resume(). */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: UpstreamFailure): void;
}

/**
 * connect-failed / connect-timeout: no connection was made, nothing was sent.
 * reset: connected, then closed or failed before the response ended.
 * malformed: the answer could not be read one way only (response-parser.ts).
 * invalid-request: the request itself cannot be written (nothing was sent).
 */
export type FailureCode = "connect-failed" | "connect-timeout" | "reset" | "malformed" | "invalid-request";

export class UpstreamFailure extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
    /** On a keep-alive connection that had carried whole responses before. */
    readonly reused: boolean,
    cause?: Error,
  ) {
    super(message, cause ? { cause } : undefined);
  }
}

export class Call {
  cancelled = false;
  /** The connection serving it. */
  conn: Connection | undefined;

  constructor(
    readonly request: UpstreamRequest,
    readonly handler: UpstreamHandler,
  ) {}

  /** Stop: no handler call from now on; a connection serving it is closed. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const c = this.conn;
    this.conn = undefined;
    c?.abandon();
  }

  resume(): void {
    this.conn?.resume();
  }

  failed(err: UpstreamFailure): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.conn = undefined;
    this.handler.onError(err);
  }

  ended(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.handler.onComplete();
  }
}
