// The HTTP/1.1 response parser of the upstream client: a response head, then its body framed by
// Content-Length, chunked (trailers read and dropped) or the connection's close; 1xx heads skipped.
//
// Strict on purpose (RFC 9112): what could be read two ways is refused, never forwarded
// ambiguously. Refused: obs-fold, bare CR or LF, a bad status line or header line, more than one
// Content-Length (even equal ones), a Transfer-Encoding other than exactly `chunked`, both
// Transfer-Encoding and Content-Length, bad chunk sizes, 101 (never asked for).
import { MalformedResponseError, parseHead, type Head } from "./response-head.js";

export { MalformedResponseError };

/** Where a parsed response goes. */
export interface ResponseSink {
  /** The final (non-1xx) head, raw headers as [name, value, ...] latin1 strings. */
  onHead(status: number, statusText: string, headers: string[]): void;
  onBody(chunk: Buffer): void;
  /** The whole response was read. */
  onEnd(): void;
}

/** Longest response head, and longest chunk-size or trailer line. */
const MAX_HEAD = 64 * 1024;
const MAX_LINE = 8 * 1024;

const enum State { Head, Length, ChunkSize, ChunkData, ChunkEnd, Trailers, UntilClose, Done }

export class ResponseParser {
  private state = State.Done;
  private bodyless = false;
  /** Head bytes received so far (the head is parsed once "\r\n\r\n" is in). */
  private partial: Buffer | undefined;
  /** Bytes left of the body (Length) or of the current chunk (ChunkData). */
  private left = 0;
  /** A chunk-size or trailer line received so far. */
  private line = "";
  /** The connection can carry another request after this response. */
  keepAlive = false;
  /** Any byte of this response was received. */
  started = false;

  constructor(private readonly sink: ResponseSink) {}

  /** Expect the response to a request (HEAD: the answer has no body). */
  expect(method: string): void {
    this.state = State.Head;
    this.bodyless = method === "HEAD";
    this.partial = undefined;
    this.started = false;
    this.keepAlive = false;
  }

  /**
   * Feed bytes; throws MalformedResponseError. Returns how many bytes were used: fewer than given
   * once the response is complete (what follows belongs to nobody: the caller closes).
   */
  execute(chunk: Buffer): number {
    let at = 0;
    if (chunk.length > 0) this.started = true;
    while (at < chunk.length) {
      switch (this.state) {
        case State.Done:
          return at;
        case State.Head:
          at = this.head(chunk, at);
          break;
        case State.Length: {
          const n = Math.min(this.left, chunk.length - at);
          this.left -= n;
          const slice = at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n);
          at += n;
          this.sink.onBody(slice);
          if (this.left === 0) this.end();
          break;
        }
        case State.UntilClose:
          this.sink.onBody(at === 0 ? chunk : chunk.subarray(at));
          return chunk.length;
        case State.ChunkData: {
          const n = Math.min(this.left, chunk.length - at);
          this.left -= n;
          this.sink.onBody(chunk.subarray(at, at + n));
          at += n;
          if (this.left === 0) this.state = State.ChunkEnd;
          break;
        }
        default:
          at = this.lineByte(chunk, at);
      }
    }
    return at;
  }

  /** The connection's end: completes a close-delimited body; anything else was cut short. */
  finish(): void {
    if (this.state === State.UntilClose) return this.end();
    if (this.state !== State.Done) throw new MalformedResponseError("connection closed before the response ended");
  }

  private head(chunk: Buffer, at: number): number {
    const prev = this.partial;
    const buf = prev ? Buffer.concat([prev, at === 0 ? chunk : chunk.subarray(at)]) : at === 0 ? chunk : chunk.subarray(at);
    const from = prev ? Math.max(0, prev.length - 3) : 0;
    const end = buf.indexOf("\r\n\r\n", from, "latin1");
    if (end === -1) {
      if (buf.length > MAX_HEAD) throw new MalformedResponseError(`response head larger than ${MAX_HEAD} bytes`);
      this.partial = prev ? buf : Buffer.from(buf); // never keep a view of the socket's buffer
      return chunk.length;
    }
    if (end + 4 > MAX_HEAD) throw new MalformedResponseError(`response head larger than ${MAX_HEAD} bytes`);
    this.partial = undefined;
    const used = end + 4 - (prev ? prev.length : 0);
    this.begin(parseHead(buf.toString("latin1", 0, end)));
    return at + used;
  }

  private begin(h: Head): void {
    if (h.status < 200) {
      if (h.status === 101) throw new MalformedResponseError("101 Switching Protocols was never asked for");
      return; // 100 Continue, 103 Early Hints: the real head follows
    }
    this.keepAlive = h.keepAlive;
    this.sink.onHead(h.status, h.statusText, h.headers);
    if (this.bodyless || h.status === 204 || h.status === 304) return this.end();
    if (h.chunked) {
      this.state = State.ChunkSize;
      this.line = "";
    } else if (h.length !== undefined) {
      this.left = h.length;
      this.state = State.Length;
      if (h.length === 0) this.end();
    } else {
      this.keepAlive = false;
      this.state = State.UntilClose;
    }
  }

  private end(): void {
    this.state = State.Done;
    this.sink.onEnd();
  }

  /** Chunk-size lines, the CRLF after chunk data and trailer lines: read byte by byte to LF. */
  private lineByte(chunk: Buffer, at: number): number {
    const lf = chunk.indexOf(0x0a, at);
    const stop = lf === -1 ? chunk.length : lf;
    this.line += chunk.toString("latin1", at, stop);
    if (this.line.length > MAX_LINE) throw new MalformedResponseError("chunk size or trailer line too long");
    if (lf === -1) return chunk.length;
    const line = this.line;
    this.line = "";
    if (!line.endsWith("\r") || line.indexOf("\r") !== line.length - 1) throw new MalformedResponseError("bare CR or LF in chunked framing");
    const text = line.slice(0, -1);
    if (this.state === State.ChunkEnd) {
      if (text !== "") throw new MalformedResponseError("chunk data longer than its size");
      this.state = State.ChunkSize;
    } else if (this.state === State.ChunkSize) {
      this.left = chunkSize(text);
      this.state = this.left === 0 ? State.Trailers : State.ChunkData;
    } else if (text === "") {
      this.end(); // the empty line after the trailers
    } else if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*$/.test(text)) {
      throw new MalformedResponseError(`bad trailer line: ${JSON.stringify(text.slice(0, 80))}`);
    }
    return lf + 1;
  }
}

/** A chunk-size line: hex digits, optionally `;` and extensions (ignored). */
function chunkSize(text: string): number {
  const semi = text.indexOf(";");
  const hex = (semi === -1 ? text : text.slice(0, semi)).replace(/[\t ]+$/, "");
  if (!/^[0-9A-Fa-f]{1,12}$/.test(hex)) throw new MalformedResponseError(`bad chunk size: ${JSON.stringify(text.slice(0, 40))}`);
  if (semi !== -1 && !/^[\t\x20-\x7e\x80-\xff]*$/.test(text)) throw new MalformedResponseError("control character in a chunk extension");
  return parseInt(hex, 16);
}
