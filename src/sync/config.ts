// The `sync` config section: which cadirs exist, which this agent writes, and when it syncs.
import { validate as validCron } from "node-cron";
import { z } from "zod";
import { absPath, duration, httpUrl, listen, name } from "../config/fields.js";

/** A local absolute path, or `[user@]host:/path` reached over ssh. */
const cadir = z.string({ error: "must be a path or [user@]host:/path" }).refine(
  (s) => (s.startsWith("/") || /^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:\/[^\0]*$/.test(s)) && !s.includes("\0") && !s.startsWith("-"),
  { message: "must be an absolute path or [user@]host:/path" },
);

/** sync.arbiter.url: one proxy's admin URL, or a non-empty list of them (several proxies); a bad entry is named. */
function proxyUrls() {
  return z.unknown().transform((v, ctx): string | string[] => {
    const one = (x: unknown, path: number[]): string => {
      const r = httpUrl().safeParse(x);
      if (r.success) return r.data;
      for (const i of r.error.issues) ctx.addIssue({ code: "custom", message: i.message, path: [...path, ...i.path], input: x });
      return "";
    };
    if (!Array.isArray(v)) return one(v, []);
    if (v.length === 0) ctx.addIssue({ code: "custom", message: "needs at least one proxy URL", input: v });
    return v.map((x: unknown, i) => one(x, [i]));
  });
}

export const syncSection = z.strictObject({
  /** Every CA worker's cadir, by worker name (the names of proxy.ca.workers). */
  cadirs: z.record(name(), cadir).refine((r) => Object.keys(r).length >= 2, { message: "needs at least two cadirs" }),
  /** The cadirs this agent may write into; default: every local one. */
  writeInto: z.array(name()).optional(),
  /** node-cron expression of incremental passes besides the watch's (5 fields, or 6 with seconds). */
  schedule: z.string().refine((s) => validCron(s), { message: "not a cron schedule (write it like \"* * * * *\")" }).default("* * * * *"),
  /** node-cron expression of the full verification: no cache trusted, every file hashed, every line parsed. */
  verify: z.string().refine((s) => validCron(s), { message: "not a cron schedule (write it like \"0 * * * *\")" }).default("0 * * * *"),
  watch: z.boolean().default(true),
  /** Quiet time after the last change seen by the watch before a pass starts. */
  debounce: duration().prefault("100ms"),
  backupDir: absPath().default("/var/lib/puppet-ha/backups"),
  /** Local mirrors (mode 0700, they hold ca_key.pem): the staged source of each pass, remote destinations. */
  workDir: absPath().default("/var/lib/puppet-ha/sync"),
  maxDeletes: z.number().int().min(0).default(50),
  rsync: z.strictObject({
    command: z.string().default("rsync"),
    /** ssh command for remote cadirs, as an argument vector. */
    ssh: z.array(z.string()).default(["ssh", "-oBatchMode=yes"]),
    timeout: duration().prefault("60s"),
  }).prefault({}),
  /**
   * The proxy's admin API, for `{epoch, active}` (not used when sync runs inside the proxy). `url`
   * may list several proxies: all are asked, the highest epoch answered wins.
   */
  arbiter: z.strictObject({
    url: proxyUrls(),
    tokenFile: absPath(),
  }).optional(),
  /** The sync agent's own status API (not used when sync runs inside the proxy). */
  listen: listen().prefault("127.0.0.1:8142"),
});

export type SyncConfig = z.output<typeof syncSection>;
