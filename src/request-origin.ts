// Is this request from a browser page of another site? The `Host` check against the listener's
// names (a DNS-rebinding page reaches a loopback listener under its own name) and the
// Origin / Sec-Fetch-Site / Referer checks (a page sending a simple cross-site request).
import { isIP } from "node:net";
import { hostname } from "node:os";
import { HostNotAllowedError } from "./errors.js";

/** Loopback names every listener answers to. */
export const LOOPBACK_NAMES = ["localhost", "localhost.localdomain", "ip6-localhost"] as const;

/** The host part of a Host header or URL authority, lowercased, without port, brackets or final dot. */
export function hostOf(authority: string): string {
  const a = authority.trim().toLowerCase();
  const name = a.startsWith("[") ? a.slice(1, a.indexOf("]") < 0 ? undefined : a.indexOf("]")) : a.replace(/:\d*$/, "");
  return name.replace(/\.$/, "");
}

/**
 * The names a listener answers to by default: the loopback names, the machine's host name, the
 * listen address when it names one host, and the configured ones. IP literals are always accepted
 * (see hostAllowed): a rebinding page has a DNS name, never an address.
 */
export function listenerNames(listenHost: string, configured: readonly string[] = [], more: readonly (string | undefined)[] = []): string[] {
  const names = new Set<string>([...LOOPBACK_NAMES, hostname().toLowerCase()]);
  for (const n of [listenHost, ...configured, ...more]) {
    if (n && isIP(n) === 0) names.add(hostOf(n)); // addresses are always allowed anyway
  }
  return [...names];
}

/** True when the Host header names an IP address or one of `names`. A missing Host is refused. */
export function hostAllowed(hostHeader: string | undefined, names: readonly string[]): boolean {
  if (!hostHeader) return false;
  const host = hostOf(hostHeader);
  return isIP(host) !== 0 || names.includes(host);
}

/** Throws HostNotAllowedError unless the Host header is allowed. */
export function checkHost(hostHeader: string | undefined, names: readonly string[]): void {
  if (!hostAllowed(hostHeader, names)) throw new HostNotAllowedError(hostHeader ?? "(none)");
}

export interface BrowserHeaders {
  host: string | undefined;
  origin: string | undefined;
  referer: string | undefined;
  secFetchSite: string | undefined;
}

/**
 * Why this request looks like one a page of another site made, or undefined. Non-browser clients
 * (curl, fleet) send none of these headers; a browser sends Sec-Fetch-Site (all current ones) and
 * Origin on every POST, and older ones at least a Referer on a cross-site GET.
 */
export function crossSiteReason(h: BrowserHeaders): string | undefined {
  const site = h.secFetchSite?.toLowerCase();
  if (site === "cross-site" || site === "same-site") return `Sec-Fetch-Site: ${site}`;
  const own = h.host ? hostOf(h.host) + portOf(h.host) : undefined;
  const foreign = (url: string): boolean => {
    try {
      const u = new URL(url);
      return own === undefined || `${hostOf(u.host)}${u.port ? `:${u.port}` : ""}` !== own;
    } catch {
      return true; // "null" (sandboxed frames, file:) or garbage
    }
  };
  if (h.origin !== undefined && foreign(h.origin)) return `Origin: ${h.origin.slice(0, 100)}`;
  if (h.referer !== undefined && foreign(h.referer)) return "a Referer of another site";
  return undefined;
}

function portOf(authority: string): string {
  const m = /:(\d+)$/.exec(authority.trim());
  return m ? `:${m[1]}` : "";
}
