// Who is calling? A bearer token and/or an mTLS client cert of the Puppet CA whose certname is
// on an allowlist. Either one suffices; a presented credential that is wrong always refuses
// (a revoked cert is refused even alongside a good token). The decision is pure.
import type { TLSSocket } from "node:tls";
import type { IncomingMessage } from "node:http";
import { bearerToken } from "../token.js";
import { AuthRequiredError, ForbiddenError } from "./errors.js";

export interface AuthPolicy {
  /** The expected bearer token (a TokenFile of src/token.ts), when token auth is configured. */
  token: { matches(presented: string): boolean } | undefined;
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

export function authenticate(policy: AuthPolicy, p: Presented): Caller {
  const open = policy.token === undefined && !policy.mtls;
  if (open) return { identity: `anonymous@${p.remote}`, method: "none" };

  let certOk: string | undefined;
  if (p.cert) {
    if (!p.cert.authorized) throw new ForbiddenError(`client certificate refused (${p.cert.error ?? "not verified"})`);
    if (matchesAny(p.cert.certname, policy.allow)) certOk = p.cert.certname;
  }
  if (certOk !== undefined) return { identity: `cert:${certOk}`, method: "cert" };

  if (p.authorization !== undefined) {
    const presented = bearerToken(p.authorization);
    if (policy.token && presented !== undefined && policy.token.matches(presented)) {
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
