// The request head the upstream client writes: one latin1 string, CRLF lines, no per-header
// validation on the hot path. The client's headers were checked by Node's parser; the ones the
// proxy adds come from the certificate and are checked once per connection (identity.ts).

/** How the request body is framed upstream. */
export type Framing = "none" | "length" | "chunked";

export interface HeadParts {
  method: string;
  path: string;
  /** [name, value, ...], forwarded as they are. */
  headers: readonly string[];
  /** `host[:port]` of the backend, sent when the client sent no Host. */
  host: string;
  /** Length of a buffered body (added as Content-Length when the headers carry none). */
  bodyLength: number | undefined;
  /** The body is a stream (chunked unless the headers carry a Content-Length). */
  streamed: boolean;
}

/** A request target the proxy may write: visible ASCII only, starting with "/" (route.ts already ensures it). */
const PATH = /^\/[\x21-\x7e]*$/;

/** Build the head; returns the framing the body must use. Throws on a target that is not safe to write. */
export function requestHead(p: HeadParts): { head: string; framing: Framing } {
  if (!PATH.test(p.path)) throw new Error(`request target not writable upstream: ${JSON.stringify(p.path.slice(0, 80))}`);
  let head = `${p.method} ${p.path} HTTP/1.1\r\n`;
  let host = false;
  let length = false;
  const h = p.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i] as string;
    if (name.length === 4 && !host) host = name.toLowerCase() === "host";
    else if (name.length === 14 && !length) length = name.toLowerCase() === "content-length";
    head += `${name}: ${h[i + 1] as string}\r\n`;
  }
  if (!host) head += `Host: ${p.host}\r\n`;
  let framing: Framing = "none";
  if (p.streamed) {
    framing = length ? "length" : "chunked";
    if (!length) head += "Transfer-Encoding: chunked\r\n";
  } else if (p.bodyLength !== undefined) {
    framing = "length";
    if (!length) head += `Content-Length: ${p.bodyLength}\r\n`;
  }
  return { head: head + "\r\n", framing };
}

const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Whether a header value the proxy builds (from the client's certificate) can be written as it
 * is: no control characters, nothing beyond latin1 (an unusual DN could hold either).
 */
export function headerValueSafe(v: string | undefined): boolean {
  return v === undefined || VALUE.test(v);
}
