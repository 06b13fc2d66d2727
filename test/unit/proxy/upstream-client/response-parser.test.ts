// The upstream client's response parser: every framing case gives the same head, body and end
// however the bytes are split (at every byte boundary, and byte by byte), and every malformed
// answer is refused in every split, never passed on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MalformedResponseError, ResponseParser, type ResponseSink } from "../../../../src/proxy/upstream-client/response-parser.js";

interface Seen {
  heads: [number, string, string[]][];
  body: string;
  ends: number;
  keepAlive: boolean;
  /** Bytes left unused after the response ended. */
  unused: number;
}

/** Feed `pieces` in order (finish() after the last when `eof`). */
function run(method: string, pieces: Buffer[], eof: boolean): Seen {
  const seen: Seen = { heads: [], body: "", ends: 0, keepAlive: false, unused: 0 };
  const sink: ResponseSink = {
    onHead: (s, t, h) => seen.heads.push([s, t, h]),
    onBody: (c) => (seen.body += c.toString("latin1")),
    onEnd: () => seen.ends++,
  };
  const p = new ResponseParser(sink);
  p.expect(method);
  for (const piece of pieces) {
    const used = p.execute(piece);
    seen.unused += piece.length - used;
  }
  if (eof) p.finish();
  seen.keepAlive = p.keepAlive;
  return seen;
}

/** Every way of cutting raw in two, and byte by byte. */
function splits(raw: string): Buffer[][] {
  const b = Buffer.from(raw, "latin1");
  const out: Buffer[][] = [[b]];
  for (let i = 1; i < b.length; i++) out.push([b.subarray(0, i), b.subarray(i)]);
  out.push([...b].map((x) => Buffer.from([x])));
  return out;
}

function allSplits(method: string, raw: string, eof = false): Seen {
  const [whole, ...rest] = splits(raw);
  const expected = run(method, whole as Buffer[], eof);
  for (const pieces of rest) assert.deepEqual(run(method, pieces, eof), expected, `split into ${pieces.map((p) => p.length).join("+")} bytes`);
  return expected;
}

const ok = (body = "") => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

test("Content-Length: head, body, end; keep-alive", () => {
  const s = allSplits("GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
  assert.deepEqual(s.heads, [[200, "OK", ["Content-Type", "text/plain", "Content-Length", "5"]]]);
  assert.equal(s.body, "hello");
  assert.equal(s.ends, 1);
  assert.equal(s.keepAlive, true);
  assert.deepEqual(allSplits("GET", ok()), { heads: [[200, "OK", ["Content-Length", "0"]]], body: "", ends: 1, keepAlive: true, unused: 0 });
});

test("chunked, with a chunk extension and trailers (read and dropped)", () => {
  const s = allSplits("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;name=value\r\nwiki\r\n5\r\npedia\r\nA \r\n0123456789\r\n0\r\nX-Trailer: one\r\nX-Other:\r\n\r\n");
  assert.equal(s.body, "wikipedia0123456789");
  assert.equal(s.ends, 1);
  assert.equal(s.keepAlive, true);
  assert.deepEqual(s.heads[0]?.[2], ["Transfer-Encoding", "chunked"]);
  assert.equal(allSplits("GET", "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n0\r\n\r\n").ends, 1);
});

test("no length and not chunked: the body runs to the connection's close; never kept alive", () => {
  const s = allSplits("GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this", true);
  assert.equal(s.body, "all of this");
  assert.equal(s.ends, 1);
  assert.equal(s.keepAlive, false);
  // Before the close, it is not over.
  assert.equal(run("GET", [Buffer.from("HTTP/1.1 200 OK\r\n\r\nabc")], false).ends, 0);
});

test("1xx heads are skipped; the final head is the one told", () => {
  const s = allSplits("GET", `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n${ok("ok")}`);
  assert.deepEqual(s.heads, [[200, "OK", ["Content-Length", "2"]]]);
  assert.equal(s.body, "ok");
});

test("HEAD, 204 and 304 have no body whatever their headers say", () => {
  const head = allSplits("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
  assert.deepEqual([head.body, head.ends, head.keepAlive], ["", 1, true]);
  assert.equal(allSplits("HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").ends, 1);
  assert.equal(allSplits("GET", "HTTP/1.1 204 No Content\r\n\r\n").ends, 1);
  const nm = allSplits("GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
  assert.deepEqual([nm.body, nm.ends, nm.keepAlive], ["", 1, true]);
});

test("Connection: close and HTTP/1.0 end the connection's reuse", () => {
  assert.equal(allSplits("GET", "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n").keepAlive, false);
  assert.equal(allSplits("GET", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").keepAlive, false);
  assert.equal(allSplits("GET", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keepAlive, true);
});

test("status text: empty, absent, with spaces", () => {
  assert.deepEqual(allSplits("GET", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n").heads[0]?.slice(0, 2), [404, ""]);
  assert.deepEqual(allSplits("GET", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n").heads[0]?.slice(0, 2), [404, ""]);
  assert.deepEqual(allSplits("GET", "HTTP/1.1 201 Created Here\r\nContent-Length: 0\r\n\r\n").heads[0]?.slice(0, 2), [201, "Created Here"]);
});

test("header values are trimmed; repeated headers are kept in order", () => {
  const s = allSplits("GET", "HTTP/1.1 200 OK\r\nSet-Cookie:  a=1 \r\nSet-Cookie:\tb=2\r\nContent-Length: 0\r\n\r\n");
  assert.deepEqual(s.heads[0]?.[2], ["Set-Cookie", "a=1", "Set-Cookie", "b=2", "Content-Length", "0"]);
});

test("bytes after the response are not used (the connection is then closed by its owner)", () => {
  assert.equal(run("GET", [Buffer.from(ok("ok") + "HTTP/1.1 200 OK\r\n")], false).unused, 17);
  assert.equal(run("GET", [Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX")], false).unused, 1);
});

const MALFORMED: [string, string, boolean?][] = [
  ["obs-fold", "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n"],
  ["obs-fold with a tab", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\tX-B: c\r\n\r\n"],
  ["two equal Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"],
  ["two different Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"],
  ["a Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"],
  ["a negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"],
  ["a Content-Length not a number", "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok"],
  ["an empty Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n"],
  ["Transfer-Encoding and Content-Length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"],
  ["Transfer-Encoding gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", true],
  ["Transfer-Encoding gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"],
  ["two Transfer-Encodings", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
  ["Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
  ["HTTP/2 status line", "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n"],
  ["a two-digit status", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"],
  ["not HTTP", "ICY 200 OK\r\nContent-Length: 0\r\n\r\n"],
  ["a control character in the status text", "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n"],
  ["a bare LF inside the head", "HTTP/1.1 200 OK\r\nX-A: b\nX-C: d\r\nContent-Length: 0\r\n\r\n"],
  ["a bare CR in a value", "HTTP/1.1 200 OK\r\nX-A: b\rc\r\nContent-Length: 0\r\n\r\n"],
  ["a NUL in a value", "HTTP/1.1 200 OK\r\nX-A: b\x00c\r\nContent-Length: 0\r\n\r\n"],
  ["a space before the colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"],
  ["a header line without a colon", "HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n"],
  ["an empty header name", "HTTP/1.1 200 OK\r\n: value\r\nContent-Length: 0\r\n\r\n"],
  ["101 never asked for", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"],
  ["a chunk size not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"],
  ["an empty chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n0\r\n\r\n"],
  ["a chunk size with a sign", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n"],
  ["a huge chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000\r\n"],
  ["chunk data longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n"],
  ["a bare LF after a chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n"],
  ["a bare LF after chunk data", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n"],
  ["a control character in a chunk extension", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\x01\r\nabc\r\n0\r\n\r\n"],
  ["a folded trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n"],
  ["a trailer without a colon", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnot a trailer\r\n\r\n"],
  ["a close before the body's length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true],
  ["a close inside a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true],
  ["a close before the last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", true],
  ["a close inside the head", "HTTP/1.1 200 OK\r\nContent-Len", true],
];

for (const [what, raw, eof] of MALFORMED) {
  test(`refused in every split: ${what}`, () => {
    for (const pieces of splits(raw)) {
      let heads = 0;
      const p = new ResponseParser({ onHead: () => heads++, onBody: () => undefined, onEnd: () => undefined });
      p.expect("GET");
      assert.throws(() => {
        for (const piece of pieces) p.execute(piece);
        if (eof) p.finish();
      }, MalformedResponseError, `split into ${pieces.map((x) => x.length).join("+")} bytes`);
      // A head with bad framing is never told (never forwarded ambiguously).
      if (!/close|chunk|trailer/.test(what)) assert.equal(heads, 0, what);
    }
  });
}

test("a head larger than 64 KiB is refused, also when it never ends", () => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70_000)}\r\nContent-Length: 0\r\n\r\n`;
  const p = new ResponseParser({ onHead: () => undefined, onBody: () => undefined, onEnd: () => undefined });
  p.expect("GET");
  assert.throws(() => p.execute(Buffer.from(big)), /larger than 65536/);
  const q = new ResponseParser({ onHead: () => undefined, onBody: () => undefined, onEnd: () => undefined });
  q.expect("GET");
  assert.throws(() => {
    for (let i = 0; i < 100; i++) q.execute(Buffer.alloc(1024, 0x61));
  }, /larger than 65536/);
});

test("the parser is reusable for the next response on the connection", () => {
  const seen: number[] = [];
  const p = new ResponseParser({ onHead: (s) => seen.push(s), onBody: () => undefined, onEnd: () => seen.push(0) });
  for (const status of [200, 404]) {
    p.expect("GET");
    const raw = Buffer.from(`HTTP/1.1 ${status} X\r\nContent-Length: 1\r\n\r\nx`);
    assert.equal(p.execute(raw), raw.length);
  }
  assert.deepEqual(seen, [200, 0, 404, 0]);
});
