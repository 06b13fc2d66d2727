// Client identity for header auth: the X-Client-* values of a TLS connection (computed once per
// connection and cached on the socket), and the header filter that drops forged or hop-by-hop ones.
import type { TLSSocket } from "node:tls";
import { normalizeSerial } from "../pki.js";
import { headerValueSafe } from "./upstream-client/request-head.js";

export interface Identity {
  /** `SUCCESS`, `NONE` or `FAILED:<reason>`. */
  verify: string;
  /** RFC 2253 subject (`CN=node1`), or undefined without a cert. */
  dn: string | undefined;
  /** The client's PEM, percent-encoded with encodeURIComponent (spaces as %20). */
  cert: string | undefined;
  certname: string | undefined;
  /** Normalised serial (uppercase hex), to close connections of certs revoked later. */
  serial: string | undefined;
  /** verify and dn can be written upstream as they are (else this connection's requests get 400). */
  sendable: boolean;
}

const kIdentity = Symbol("puppet-ha.identity");
const kRefused = Symbol("puppet-ha.refused");
type Tagged = TLSSocket & { [kIdentity]?: Identity; [kRefused]?: true };

/** Decide a fresh TLS connection's identity. `refuse` is set for a presented cert that failed. */
export function identify(socket: TLSSocket): { identity: Identity; refuse?: string } {
  const peer = socket.getPeerX509Certificate();
  let identity: Identity;
  if (!peer) {
    identity = { verify: "NONE", dn: undefined, cert: undefined, certname: undefined, serial: undefined, sendable: true };
  } else {
    // X509Certificate.subject lists RDNs in certificate order, already RFC 2253-escaped; RFC 2253
    // writes them most specific first.
    const rdns = peer.subject.split("\n");
    const cn = rdns.find((r) => r.startsWith("CN="))?.slice(3);
    const verify = socket.authorized ? "SUCCESS" : `FAILED:${String(socket.authorizationError)}`;
    const dn = rdns.reverse().join(",");
    identity = {
      verify,
      dn,
      cert: encodeURIComponent(peer.toString()),
      certname: cn,
      serial: normalizeSerial(peer.serialNumber),
      sendable: headerValueSafe(verify) && headerValueSafe(dn),
    };
    if (!socket.authorized) {
      (socket as Tagged)[kIdentity] = identity;
      return { identity, refuse: String(socket.authorizationError) };
    }
  }
  (socket as Tagged)[kIdentity] = identity;
  return { identity };
}

/**
 * Mark a connection refused (its cert failed verification or is revoked). Destroying the socket is
 * not enough: with TLS 1.3 the client's first requests arrive with its Finished message, and the
 * HTTP parser may already have parsed several pipelined ones.
 */
export function refuse(socket: TLSSocket): void {
  (socket as Tagged)[kRefused] = true;
}

/**
 * Whether a request on this socket may be forwarded: identify() ran (fail closed if not) and the
 * connection was not refused. The request handler checks it before anything is dispatched.
 */
export function admitted(socket: unknown): boolean {
  const s = socket as Tagged;
  return s[kIdentity] !== undefined && s[kRefused] === undefined;
}

/** The identity cached on a socket by identify(), if any. */
export function identityOf(socket: unknown): Identity | undefined {
  return (socket as Tagged)[kIdentity];
}

/** Sent with every CA request: the epoch the proxy routed it by. Never taken from the client. */
export const EPOCH_HEADER = "X-Puppet-HA-Epoch";

/** Not forwarded: hop-by-hop, and the headers the proxy sets itself. */
const HOP_BY_HOP = new Set([
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
  "proxy-authorization", "proxy-authenticate", "x-forwarded-for", "x-forwarded-proto", "expect", "x-puppet-ha-epoch",
]);

/** True for any spelling of an X-Client-* header name (any case, `_` for `-`). */
export function isClientHeader(name: string): boolean {
  if (name.length < 9) return false;
  const c0 = name.charCodeAt(0) | 0x20;
  if (c0 !== 0x78) return false; // x
  const n = name.slice(0, 9).toLowerCase().replace(/_/g, "-");
  return n === "x-client-";
}

/**
 * Request headers to forward, as a flat [name, value, ...] list: every client-supplied X-Client-*
 * and hop-by-hop header is dropped (also those named in Connection), then ours are appended.
 */
export function forwardHeaders(raw: readonly string[], id: Identity | undefined, clientIp: string): string[] {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === "connection") {
      for (const t of (raw[i + 1] as string).split(",")) {
        const v = t.trim().toLowerCase();
        if (v) (named ??= new Set()).add(v);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isClientHeader(name)) continue;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    out.push(name, raw[i + 1] as string);
  }
  if (id) {
    out.push("X-Client-Verify", id.verify);
    if (id.dn !== undefined) out.push("X-Client-DN", id.dn);
    if (id.cert !== undefined) out.push("X-Client-Cert", id.cert);
  } else {
    out.push("X-Client-Verify", "NONE");
  }
  out.push("X-Forwarded-For", clientIp, "X-Forwarded-Proto", "https");
  return out;
}

/**
 * Response headers to send back: hop-by-hop ones dropped (Node frames the body itself). The
 * upstream client (upstream-client/) hands them over as latin1 strings, as they came.
 */
export function responseHeaders(raw: readonly (string | Buffer)[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = latin1(raw[i] as string | Buffer);
    const lower = name.toLowerCase();
    if (lower === "connection" || lower === "keep-alive" || lower === "transfer-encoding" || lower === "proxy-connection") continue;
    out.push(name, latin1(raw[i + 1] as string | Buffer));
  }
  return out;
}

function latin1(x: string | Buffer): string {
  return typeof x === "string" ? x : x.toString("latin1");
}
