// Fleet targets: a file of host[:port] or URL lines, or the signed certnames of the Puppet CA,
// filtered by globs. Parsing and filtering are pure; the CA request is one small function.
import { matchesAny } from "../auth.js";
import { FleetTargetError } from "../errors.js";
import { UsageError } from "../../errors.js";
import { httpRequest, type ClientTls } from "./http.js";

export interface Target {
  /** The certname or host shown in the results. */
  node: string;
  /** Base URL of the node's twitch, without a trailing slash. */
  url: string;
}

export interface TargetDefaults {
  scheme: "http" | "https";
  port: number;
}

/** One `host`, `host:port`, `[v6]:port` or `http(s)://...` line. */
export function parseTarget(line: string, d: TargetDefaults): Target {
  if (/^https?:\/\//i.test(line)) {
    let u: URL;
    try {
      u = new URL(line);
    } catch {
      throw new UsageError(`not a URL: "${line}"`);
    }
    if (u.search || u.hash || u.username) throw new UsageError(`target URL must not carry a query, fragment or credentials: "${line}"`);
    return { node: u.hostname.replace(/^\[|\]$/g, ""), url: `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, "")}` };
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]+))(?::(\d{1,5}))?$/.exec(line);
  if (!m) throw new UsageError(`not a host, host:port or URL: "${line}"`);
  const host = (m[1] ?? m[2]) as string;
  const port = m[3] === undefined ? d.port : Number(m[3]);
  if (port < 1 || port > 65535) throw new UsageError(`bad port in "${line}"`);
  return { node: host, url: `${d.scheme}://${m[1] ? `[${host}]` : host}:${port}` };
}

/** A targets file: one target a line; `#` starts a comment; blank lines are skipped. */
export function parseTargetsFile(text: string, d: TargetDefaults): Target[] {
  const out: Target[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") return;
    try {
      out.push(parseTarget(line, d));
    } catch (err) {
      throw new UsageError(`targets file line ${i + 1}: ${(err as Error).message}`);
    }
  });
  return out;
}

/** Keep targets whose node matches one of the globs (all when there are none); drop duplicates. */
export function selectTargets(targets: Target[], globs: readonly string[]): Target[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    if (globs.length > 0 && !matchesAny(t.node, globs)) return false;
    if (seen.has(t.url)) return false;
    seen.add(t.url);
    return true;
  });
}

/** Certnames from a `certificate_statuses` answer whose state is signed. */
export function signedCertnames(body: unknown): string[] {
  if (!Array.isArray(body)) throw new FleetTargetError("the CA answered something that is not a list of certificate statuses");
  return body
    .filter((s): s is { name: string; state: string } => !!s && typeof s === "object" && typeof (s as { name?: unknown }).name === "string")
    .filter((s) => s.state === "signed")
    .map((s) => s.name);
}

/** GET <ca>/puppet-ca/v1/certificate_statuses/any?state=signed with an admin client cert. */
export async function fetchSignedCertnames(caUrl: string, tls: ClientTls, timeoutMs: number): Promise<string[]> {
  const url = `${caUrl.replace(/\/$/, "")}/puppet-ca/v1/certificate_statuses/any?state=signed`;
  const r = await httpRequest(url, { method: "GET", headers: { accept: "application/json" }, tls, timeoutMs }).catch((cause: unknown) => {
    throw new FleetTargetError(`cannot list certnames from the CA at ${caUrl}: ${(cause as Error).message}`, { cause });
  });
  if (r.status !== 200) throw new FleetTargetError(`the CA at ${caUrl} answered ${r.status}: ${r.body.slice(0, 200).trim()}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body);
  } catch (cause) {
    throw new FleetTargetError(`the CA at ${caUrl} answered invalid JSON`, { cause });
  }
  return signedCertnames(parsed);
}
