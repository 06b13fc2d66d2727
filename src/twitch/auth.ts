// Who is calling? A bearer token and/or an mTLS client cert of the Puppet CA whose certname is
// on an allowlist. Either one suffices; a presented credential that is wrong always refuses
// (a revoked cert is refused even alongside a good token). The decision is pure.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TLSSocket } from "node:tls";
import type { IncomingMessage } from "node:http";
import { FileAccessError } from "../errors.js";
import { AuthRequiredError, ForbiddenError } from "./errors.js";

export interface AuthPolicy {
  /** sha256 of the expected bearer token, when token auth is configured. */
  tokenDigest: Buffer | undefined;
  /** mTLS configured: the listener is HTTPS and asks for client certs. */
  mtls: boolean;
  allow: readonly string[];
}

/** What a request presented, collected from its socket and headers. */
export interface Presented {
  remote: string;
  authorization: string | undefined;
  /** undefined: no client cert (or plain HTTP). */
  cert: { certname: string; authorized: boolean; error: string | undefined } | undefined;
}

export interface Caller {
  /** Rate limit key and log field: `cert:<certname>`, `token@<addr>` or `anonymous@<addr>`. */
  identity: string;
  method: "cert" | "token" | "none";
}

export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

export function matchesAny(name: string, globs: readonly string[]): boolean {
  return globs.some((g) => globToRegExp(g).test(name));
}

export function digestToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** Compare in constant time: both sides are hashed to the same length first. */
export function tokenMatches(expected: Buffer, presented: string): boolean {
  return timingSafeEqual(expected, digestToken(presented));
}

export function loadTokenFile(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new FileAccessError(path, "token file", { cause });
  }
  const token = text.trim();
  if (token === "") throw new FileAccessError(path, "token file (it is empty)");
  return digestToken(token);
}

export function authenticate(policy: AuthPolicy, p: Presented): Caller {
  const open = policy.tokenDigest === undefined && !policy.mtls;
  if (open) return { identity: `anonymous@${p.remote}`, method: "none" };

  let certOk: string | undefined;
  if (p.cert) {
    if (!p.cert.authorized) throw new ForbiddenError(`client certificate refused (${p.cert.error ?? "not verified"})`);
    if (matchesAny(p.cert.certname, policy.allow)) certOk = p.cert.certname;
  }
  if (certOk !== undefined) return { identity: `cert:${certOk}`, method: "cert" };

  if (p.authorization !== undefined) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(p.authorization);
    if (policy.tokenDigest && m && tokenMatches(policy.tokenDigest, m[1] as string)) {
      return { identity: `token@${p.remote}`, method: "token" };
    }
    throw new ForbiddenError("wrong credentials");
  }
  if (p.cert) throw new ForbiddenError(`certname "${p.cert.certname}" is not on the allowlist`);
  throw new AuthRequiredError();
}

/** Collect what a request presented; Node's TLS has already checked the chain and the CRL. */
export function presentedBy(req: IncomingMessage): Presented {
  const socket = req.socket as Partial<TLSSocket>;
  let cert: Presented["cert"];
  if (typeof socket.getPeerCertificate === "function") {
    const peer = socket.getPeerCertificate();
    if (peer && Object.keys(peer).length > 0) {
      const cn = peer.subject?.CN;
      const certname = Array.isArray(cn) ? String(cn[0]) : String(cn ?? "");
      const error = socket.authorizationError;
      cert = { certname, authorized: socket.authorized === true, error: error === undefined || error === null ? undefined : String(error) };
    }
  }
  return { remote: req.socket.remoteAddress ?? "unknown", authorization: req.headers.authorization, cert };
}
