// The `twitch` and `log` sections checked by hand, for `puppet-ha twitch` alone: the same rules,
// defaults and output as the zod schemas (./config.ts, ./broker/config.ts; a test holds them
// equal), without loading zod and every other section's schema on every node (issue 16).
import { parseDuration, parseListen, parseSize } from "../config/units.js";
import type { TwitchConfig } from "./config.js";
import { PREFIX } from "./broker/subjects.js";

type Path = (string | number)[];
type Check<T> = (v: unknown, path: Path, problems: Problem[]) => T | undefined;
export interface Problem { path: Path; message: string; atKey?: boolean }

/** Hosts that only this machine can reach; without auth twitch may bind nothing else. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** tls:// or nats:// with a host, no credentials, no path. */
export function isNatsUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return ["tls:", "nats:"].includes(url.protocol) && url.hostname !== "" && !url.username && !url.password && url.pathname.replace(/\/$/, "") === "";
  } catch {
    return false;
  }
}

const fail = (problems: Problem[], path: Path, message: string): undefined => void problems.push({ path, message });

const string = (min = 0, msg = "must be a non-empty string"): Check<string> => (v, path, p) =>
  typeof v === "string" && v.length >= min ? v : fail(p, path, msg);
const absPath: Check<string> = (v, path, p) =>
  typeof v === "string" && v.startsWith("/") && !v.includes("\0") ? v : fail(p, path, "must be an absolute path");
const bool: Check<boolean> = (v, path, p) => (typeof v === "boolean" ? v : fail(p, path, "must be true or false"));
const matching = (re: RegExp, msg: string): Check<string> => (v, path, p) => (typeof v === "string" && re.test(v) ? v : fail(p, path, msg));
const positiveInt: Check<number> = (v, path, p) =>
  typeof v === "number" && Number.isInteger(v) && v >= 1 ? v : fail(p, path, "must be a whole number of at least 1");
const duration = (min?: number): Check<number> => (v, path, p) => {
  if (typeof v !== "string") return fail(p, path, "must be a duration like 500ms, 2s or 5m");
  const ms = parseDuration(v);
  if (ms === undefined) return fail(p, path, `not a duration: "${v}" (write it like 500ms, 2s, 5m, 1h)`);
  return min !== undefined && ms < min ? fail(p, path, `"${v}" is too short (at least ${min} ms)`) : ms;
};
const size: Check<number> = (v, path, p) => {
  if (typeof v !== "string" && typeof v !== "number") return fail(p, path, "must be a size like 64KiB or 16MiB");
  return parseSize(v) ?? fail(p, path, `not a size: "${String(v)}" (write it like 64KiB, 16MiB)`);
};
const listen: Check<{ host: string; port: number }> = (v, path, p) => {
  if (typeof v !== "string") return fail(p, path, "must be an address like 127.0.0.1:8141");
  return parseListen(v) ?? fail(p, path, `not a listen address: "${v}" (write it like 127.0.0.1:8141 or [::1]:8141)`);
};
const list = <T>(item: Check<T>, min = 0, minMsg = `needs at least ${min} entry`): Check<T[]> => (v, path, p) => {
  if (!Array.isArray(v)) return fail(p, path, "must be a list");
  const before = p.length;
  const out = v.map((x, i) => item(x, [...path, i], p));
  if (p.length > before) return undefined;
  return out.length < min ? fail(p, path, minMsg) : (out as T[]);
};

/** A field: its check, and what an absent key becomes (`input`: run through the check, like zod's prefault). */
type Field = { check: Check<unknown>; default?: unknown; input?: unknown; optional?: true };
const req = (check: Check<unknown>): Field => ({ check });
const opt = (check: Check<unknown>): Field => ({ check, optional: true });
const def = (check: Check<unknown>, value: unknown): Field => ({ check, default: value });
const pre = (check: Check<unknown>, input: unknown): Field => ({ check, input });

/** A mapping with exactly these keys (unknown keys are problems). */
const object = (shape: Record<string, Field>): Check<Record<string, unknown>> => (v, path, p) => {
  if (!v || typeof v !== "object" || Array.isArray(v)) return fail(p, path, "must be a mapping");
  const given = v as Record<string, unknown>;
  const before = p.length;
  for (const k of Object.keys(given)) if (!(k in shape)) p.push({ path: [...path, k], message: "unknown key", atKey: true });
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(shape)) {
    let value = given[k];
    if (value === undefined) {
      if (f.optional) continue;
      if ("default" in f) {
        out[k] = structuredClone(f.default);
        continue;
      }
      if (!("input" in f)) {
        fail(p, [...path, k], "is required");
        continue;
      }
      value = f.input;
    }
    out[k] = f.check(value, [...path, k], p);
  }
  return p.length > before ? undefined : out;
};

const natsUrl: Check<string> = (v, path, p) =>
  typeof v === "string" && isNatsUrl(v) ? v : fail(p, path, "must be a NATS URL like tls://nats.example.com:4222 (no credentials, no path)");
const tlsFiles = object({ cert: req(absPath), key: req(absPath), ca: req(absPath), crl: opt(absPath) });
const names = (what: string) => string(1, `must be ${what}`);

const broker = object({
  urls: req(list(natsUrl, 1, "needs at least one NATS URL")),
  tls: req(tlsFiles),
  allow: req(list(names("a certname glob"), 1, "needs at least one controller certname (glob)")),
  subjectPrefix: def(matching(PREFIX, "must be dot-separated words of letters, digits, '_' or '-'"), "puppet-ha.fleet"),
  statusBucket: def(matching(/^[A-Za-z0-9_-]{1,64}$/, "must be letters, digits, '_' or '-'"), "puppet_ha_fleet"),
  publishStatus: def(bool, true),
  maxSkew: pre(duration(), "30s"),
  maxTtl: pre(duration(1000), "10m"),
  maxMessageSize: pre(size, "64KiB"),
  factsFile: opt(absPath),
  classesFile: opt(absPath),
  lastRunReport: opt(absPath),
});

const twitch = object({
  listen: pre(listen, "127.0.0.1:2023"),
  allowedHosts: def(list(names("a host name")), []),
  auth: pre(object({ tokenFile: opt(absPath), tls: opt(tlsFiles), allow: def(list(names("a certname glob")), []) }), {}),
  puppet: pre(object({
    command: def(list(names("a program or argument"), 1, "needs at least the program"), ["/usr/bin/puppet"]),
    args: def(list(names("an argument")), []),
    runLockFile: opt(absPath),
    disabledLockFile: opt(absPath),
    lastRunSummary: opt(absPath),
    timeout: pre(duration(), "30m"),
  }), {}),
  rateLimit: pre(object({ max: def(positiveInt, 10), per: pre(duration(), "1m") }), {}),
  splayMax: pre(duration(), "60s"),
  broker: opt(broker),
});

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const oneOf = <T extends string>(values: readonly T[]): Check<T> => (v, path, p) =>
  values.includes(v as T) ? (v as T) : fail(p, path, `must be one of ${values.join(", ")}`);
const log = object({ level: def(oneOf(LEVELS), "info"), format: def(oneOf(["json", "text"] as const), "json") });

/** Sections other commands validate; `puppet-ha twitch` leaves them to `puppet-ha config check`. */
const OTHER_SECTIONS = new Set(["proxy", "admin", "sync", "fleet"]);

export interface TwitchFileConfig {
  twitch: TwitchConfig;
  log: { level: (typeof LEVELS)[number]; format: "json" | "text" };
}

/** The twitch and log sections of a parsed config file, or every problem found with its key path. */
export function checkTwitchConfig(raw: Record<string, unknown>): { ok: true; config: TwitchFileConfig } | { ok: false; problems: Problem[] } {
  const problems: Problem[] = [];
  for (const k of Object.keys(raw)) if (k !== "twitch" && k !== "log" && !OTHER_SECTIONS.has(k)) problems.push({ path: [k], message: "unknown key", atKey: true });
  const t = twitch(raw.twitch ?? {}, ["twitch"], problems) as TwitchConfig | undefined;
  const l = log(raw.log ?? {}, ["log"], problems) as TwitchFileConfig["log"] | undefined;
  if (t) {
    if (!t.auth.tokenFile && !t.auth.tls && !isLoopbackHost(t.listen.host)) {
      problems.push({ path: ["twitch", "listen"], message: `without auth (auth.tokenFile or auth.tls) twitch only binds loopback, not "${t.listen.host}"` });
    }
    if (t.auth.allow.length > 0 && !t.auth.tls) problems.push({ path: ["twitch", "auth", "allow"], message: "needs auth.tls (the allowlist names mTLS callers)" });
  }
  return problems.length > 0 || !t || !l ? { ok: false, problems } : { ok: true, config: { twitch: t, log: l } };
}
