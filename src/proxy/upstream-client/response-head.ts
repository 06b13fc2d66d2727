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

/** tchar (RFC 9110 §5.6.2) by char code, below 128. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

function isToken(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** field-value characters: HTAB, SP, VCHAR, obs-text (the text is latin1: nothing above 0xff). */
function isValue(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 ? c !== 0x09 : c === 0x7f) return false;
  }
  return true;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function bad(what: string, text: string): MalformedResponseError {
  return new MalformedResponseError(`${what}: ${JSON.stringify(text.slice(0, 80))}`);
}

/** `HTTP/1.x NNN[ reason]`: the status, the reason and whether it is HTTP/1.1. */
function statusLine(text: string, eol: number): [status: number, reason: string, http11: boolean] {
  const minor = text.charCodeAt(7);
  const ok = text.startsWith("HTTP/1.") && (minor === 0x30 || minor === 0x31) && text.charCodeAt(8) === 0x20 &&
    text.charCodeAt(9) >= 0x31 && isDigit(text.charCodeAt(9)) && isDigit(text.charCodeAt(10)) && isDigit(text.charCodeAt(11)) &&
    (eol === 12 || (text.charCodeAt(12) === 0x20 && isValue(text, 13, eol)));
  if (!ok) throw bad("bad status line", text.slice(0, eol));
  return [Number(text.slice(9, 12)), eol === 12 ? "" : text.slice(13, eol), minor === 0x31];
}

/** Parse a head (without its final empty line). Throws MalformedResponseError. */
export function parseHead(text: string): Head {
  let eol = text.indexOf("\r\n");
  if (eol === -1) eol = text.length;
  const [status, statusText, http11] = statusLine(text, eol);
  const head: Head = { status, statusText, headers: [], length: undefined, chunked: false, keepAlive: http11 };
  let te: string | undefined;
  for (let pos = eol + 2; pos < text.length; pos = eol + 2) {
    eol = text.indexOf("\r\n", pos);
    if (eol === -1) eol = text.length;
    const c0 = text.charCodeAt(pos);
    if (c0 === 0x20 || c0 === 0x09) throw bad("obs-fold (a folded header line)", text.slice(pos, eol));
    const colon = text.indexOf(":", pos);
    if (colon === -1 || colon > eol) throw bad("bad header line", text.slice(pos, eol));
    if (!isToken(text, pos, colon)) throw bad("bad header name", text.slice(pos, eol));
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && (text.charCodeAt(vs) === 0x20 || text.charCodeAt(vs) === 0x09)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === 0x20 || text.charCodeAt(ve - 1) === 0x09)) ve--;
    if (!isValue(text, vs, ve)) throw bad("bad header value (control character, bare CR or LF)", text.slice(pos, eol));
    const name = text.slice(pos, colon);
    const value = text.slice(vs, ve);
    head.headers.push(name, value);
    switch (name.length) {
      case 10:
        if (name.toLowerCase() === "connection" && /close/i.test(value)) {
          for (const t of value.toLowerCase().split(",")) if (t.trim() === "close") head.keepAlive = false;
        }
        break;
      case 14:
        if (name.toLowerCase() === "content-length") {
          if (head.length !== undefined) throw bad("more than one Content-Length", text.slice(pos, eol));
          if (!/^\d{1,15}$/.test(value)) throw bad("bad Content-Length", text.slice(pos, eol));
          head.length = Number(value);
        }
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") {
          if (te !== undefined) throw bad("more than one Transfer-Encoding", text.slice(pos, eol));
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

