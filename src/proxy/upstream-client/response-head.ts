// One HTTP/1.1 response head (status line and header lines, CRLF-separated, final CRLFCRLF cut
// off) parsed strictly, with the body framing it declares (RFC 9112 §6.3).

/** The backend's answer cannot be read one way only: it is refused, never forwarded. */
export class MalformedResponseError extends Error {
  readonly code = "UPSTREAM_MALFORMED";
}

export interface Head {
  status: number;
  statusText: string;
  /** [name, value, ...] as received (latin1). */
  headers: string[];
  /** Content-Length, when the response has one. */
  length: number | undefined;
  chunked: boolean;
  /** HTTP/1.1 without `Connection: close`. */
  keepAlive: boolean;
}

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function bad(what: string, text: string): MalformedResponseError {
  return new MalformedResponseError(`${what}: ${JSON.stringify(text.slice(0, 80))}`);
}

/** Parse a head (without its final empty line). Throws MalformedResponseError. */
export function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const first = lines[0] as string;
  const m = STATUS_LINE.exec(first);
  if (!m) throw bad("bad status line", first);
  const http11 = m[1] === "1";
  const head: Head = { status: Number(m[2]), statusText: m[3] ?? "", headers: [], length: undefined, chunked: false, keepAlive: http11 };
  let te: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const c0 = line.charCodeAt(0);
    if (c0 === 0x20 || c0 === 0x09) throw bad("obs-fold (a folded header line)", line);
    const colon = line.indexOf(":");
    if (colon <= 0) throw bad("bad header line", line);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw bad("bad header name", line);
    const value = trimOws(line, colon + 1);
    if (!VALUE.test(value)) throw bad("bad header value (control character, bare CR or LF)", line);
    head.headers.push(name, value);
    switch (name.length) {
      case 10:
        if (name.toLowerCase() === "connection") {
          for (const t of value.toLowerCase().split(",")) if (t.trim() === "close") head.keepAlive = false;
        }
        break;
      case 14:
        if (name.toLowerCase() === "content-length") {
          if (head.length !== undefined) throw bad("more than one Content-Length", line);
          if (!/^\d{1,15}$/.test(value)) throw bad("bad Content-Length", line);
          head.length = Number(value);
        }
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") {
          if (te !== undefined) throw bad("more than one Transfer-Encoding", line);
          te = value;
        }
        break;
    }
  }
  if (te !== undefined) {
    if (te.toLowerCase() !== "chunked") throw bad("Transfer-Encoding other than chunked", te);
    if (!http11) throw bad("Transfer-Encoding in an HTTP/1.0 response", te);
    if (head.length !== undefined) throw bad("both Transfer-Encoding and Content-Length", te);
    head.chunked = true;
  }
  return head;
}

/** line[from..] without leading and trailing spaces and tabs (OWS). */
function trimOws(line: string, from: number): string {
  let s = from;
  let e = line.length;
  while (s < e && isOws(line.charCodeAt(s))) s++;
  while (e > s && isOws(line.charCodeAt(e - 1))) e--;
  return line.slice(s, e);
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
