// Request classification, pure: validates the request target, picks the pool (CA or masters)
// and says whether the request is a CA write, can revoke (CRL refresh after it) or is pinned.
//
// Decisions (documented in the report and the tests):
// - The target is normalised once (percent-encoded unreserved characters decoded, as RFC 3986
//   allows) and that normalised target is both classified and forwarded, so a backend can never
//   see a different path than the one routed (`/puppet-c%61/` is CA traffic).
// - `//` anywhere in the path is refused (400): Jetty and Ruby merge or keep empty segments
//   differently, so `//puppet-ca/...` could reach a CA service while looking like master traffic.
// - `;` in the path is refused: Jetty strips `;params` from segments before routing.

export type Pool = "ca" | "master";

export interface Route {
  ok: true;
  pool: Pool;
  /** The target to forward (normalised path + untouched query). */
  target: string;
  /** A CA request that is not GET/HEAD: held during failover, never re-sent once sent. */
  caWrite: boolean;
  /** A CA write that can change the CRL: the CRL is fetched right after it succeeds. */
  revoking: boolean;
  /** A `file_bucket_file` request, pinned to one master. */
  fileBucket: boolean;
}

export interface Rejection {
  ok: false;
  reason: string;
}

const LEGACY_CA = /^\/[A-Za-z0-9_]+\/(certificate|certificate_request|certificate_revocation_list|certificate_status|certificate_statuses)(\/|$)/;
const REVOKING = /^\/(?:puppet-ca\/v1|[A-Za-z0-9_]+)\/(certificate_status|clean|certificate_revocation_list)(\/|$)/;
const FILE_BUCKET = /^\/puppet\/v3\/file_bucket_file(\/|$)/;
// Bytes never allowed raw in a path: controls, DEL, backslash, ';', '#', space.
// eslint-disable-next-line no-control-regex
const BAD_RAW = /[\x00-\x20\x7f\\;#]/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

function reject(reason: string): Rejection {
  return { ok: false, reason };
}

/** Decode %XX of unreserved characters; refuse encodings that change the path structure. */
function normalisePath(path: string): string | Rejection {
  let out = "";
  let last = 0;
  for (let i = path.indexOf("%"); i !== -1; i = path.indexOf("%", i + 1)) {
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return reject("bad percent-encoding");
    const code = parseInt(hex, 16);
    if (code < 0x20 || code === 0x7f) return reject("encoded control character");
    if (code === 0x2f || code === 0x5c) return reject("encoded / or \\");
    if (code === 0x3b) return reject("encoded ;");
    const ch = String.fromCharCode(code);
    if (UNRESERVED.test(ch)) {
      out += path.slice(last, i) + ch;
      last = i + 3;
    }
  }
  return last === 0 ? path : out + path.slice(last);
}

/** Classify a request target (`req.url`) for a method. Pure; the hot path allocates little. */
export function classify(method: string, rawTarget: string): Route | Rejection {
  if (rawTarget.charCodeAt(0) !== 0x2f) return reject("target must start with /");
  const q = rawTarget.indexOf("?");
  let path = q === -1 ? rawTarget : rawTarget.slice(0, q);
  const query = q === -1 ? "" : rawTarget.slice(q);
  if (BAD_RAW.test(path)) return reject("forbidden character in path");
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f#]/.test(query)) return reject("forbidden character in query");
  if (path.includes("%")) {
    const n = normalisePath(path);
    if (typeof n !== "string") return n;
    path = n;
  }
  if (path.includes("//")) return reject("empty path segment (//)");
  if (DOT_SEGMENT.test(path)) return reject("dot segment in path");
  const target = q === -1 ? path : path + query;
  const isCa = path.startsWith("/puppet-ca/") || path === "/puppet-ca" || LEGACY_CA.test(path);
  if (isCa) {
    const write = method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
    return { ok: true, pool: "ca", target, caWrite: write, revoking: write && REVOKING.test(path), fileBucket: false };
  }
  return { ok: true, pool: "master", target, caWrite: false, revoking: false, fileBucket: FILE_BUCKET.test(path) };
}
