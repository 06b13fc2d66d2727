// Zod building blocks for config fields, each with the error message a Puppet operator reads.
import { z } from "zod";
import { parseDuration, parseListen, parseSize } from "./units.js";

/** A duration like `500ms`, `2s`, `5m`, `1h`; parsed to milliseconds. */
export const duration = (opts: { min?: number } = {}) =>
  z.string({ error: "must be a duration like 500ms, 2s or 5m" }).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `not a duration: "${text}" (write it like 500ms, 2s, 5m, 1h)` });
      return z.NEVER;
    }
    if (opts.min !== undefined && ms < opts.min) {
      ctx.addIssue({ code: "custom", message: `"${text}" is too short (at least ${opts.min} ms)` });
      return z.NEVER;
    }
    return ms;
  });

/** A size like `64KiB`, `16MiB`, or a byte count; parsed to bytes. */
export const size = () =>
  z.union([z.string(), z.number()], { error: "must be a size like 64KiB or 16MiB" }).transform((v, ctx) => {
    const bytes = parseSize(v);
    if (bytes === undefined) {
      ctx.addIssue({ code: "custom", message: `not a size: "${String(v)}" (write it like 64KiB, 16MiB)` });
      return z.NEVER;
    }
    return bytes;
  });

/** A listen address `host:port` or `[v6]:port`. */
export const listen = () =>
  z.string({ error: "must be an address like 127.0.0.1:8141" }).transform((text, ctx) => {
    const a = parseListen(text);
    if (!a) {
      ctx.addIssue({ code: "custom", message: `not a listen address: "${text}" (write it like 127.0.0.1:8141 or [::1]:8141)` });
      return z.NEVER;
    }
    return a;
  });

/** An http:// or https:// URL (backends, the arbiter). Trailing slash removed. */
export const httpUrl = () =>
  z.string({ error: "must be a URL like http://127.0.0.1:18140" }).transform((text, ctx) => {
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      ctx.addIssue({ code: "custom", message: `not a URL: "${text}"` });
      return z.NEVER;
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      ctx.addIssue({ code: "custom", message: `not a URL for a backend: "${text}" (must start with http:// or https://)` });
      return z.NEVER;
    }
    if (u.username || u.password || u.search || u.hash) {
      ctx.addIssue({ code: "custom", message: `URL must not carry credentials, a query or a fragment: "${text}"` });
      return z.NEVER;
    }
    return u.href.replace(/\/$/, "");
  });

/** An absolute file system path. */
export const absPath = () =>
  z.string({ error: "must be an absolute path" }).refine((p) => p.startsWith("/") && !p.includes("\0"), {
    message: "must be an absolute path",
  });

/** A backend or CA worker name: short, safe in URLs, metrics labels and file names. */
export const name = () =>
  z.string({ error: "must be a name" }).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, {
    message: "must be a name of letters, digits, '.', '_' or '-' (at most 63)",
  });

export const positiveInt = (what = "a whole number of at least 1") =>
  z.number({ error: `must be ${what}` }).int({ message: `must be ${what}` }).min(1, { message: `must be ${what}` });
