// The `proxy` config section: the HTTPS front end, its CA pool and arbiter, the master pool.
import { z } from "zod";
import { absPath, duration, httpUrl, listen, name, positiveInt, size } from "../config/fields.js";

const worker = z.strictObject({
  name: name(),
  url: httpUrl(),
});

/** A CA worker; `sync` is the status API of the sync agent on its host (multi-host setups). */
const caWorker = worker.extend({
  sync: httpUrl().optional(),
});

const uniqueNames = (workers: { name: string }[], ctx: z.RefinementCtx) => {
  const seen = new Set<string>();
  workers.forEach((w, i) => {
    if (seen.has(w.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate worker name "${w.name}"` });
    seen.add(w.name);
  });
};

export const proxySection = z.strictObject({
  listen: listen().prefault("0.0.0.0:8140"),
  tls: z.strictObject({
    cert: absPath(),
    key: absPath(),
    ca: absPath(),
    crl: absPath(),
    /** Lowest TLS version offered to agents. */
    minVersion: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
  }),
  ca: z.strictObject({
    workers: z.array(caWorker).min(1, { message: "needs at least one CA worker" }).superRefine(uniqueNames),
    /** How long CA writes wait for a new active CA before 503 + Retry-After. */
    holdWrites: duration().prefault("10s"),
    /** How often the proxy re-fetches the CRL from the active CA (also right after revoking writes). */
    crlRefresh: duration({ min: 100 }).prefault("30s"),
    failback: z.enum(["manual", "auto"]).default("manual"),
    failbackAfter: duration().prefault("60s"),
    /** Largest CRL accepted from the CA (a CRL of 100k revocations is ~4 MB); larger answers are refused. */
    crlMaxSize: size().prefault("16MiB"),
    /** Added to the promoted standby's serial on failover. */
    serialGap: z.number().int().min(0).max(0xffffff).default(0x1000),
  }),
  masters: z.strictObject({
    balance: z.enum(["round-robin", "least-connections"]).default("round-robin"),
    workers: z.array(worker).min(1, { message: "needs at least one compile master" }).superRefine(uniqueNames),
    /** `file_bucket_file` requests all go to one master (the first healthy) so filebuckets stay in one place. */
    pinFileBucket: z.boolean().default(true),
  }),
  health: z.strictObject({
    interval: duration({ min: 50 }).prefault("1s"),
    // 1s, not less: a false CA failover costs a serial gap and a failback, and a puppetserver in
    // a GC pause can be slow to answer. A hung backend is down within interval + fall × timeout.
    timeout: duration({ min: 10 }).prefault("1s"),
    rise: positiveInt().default(2),
    fall: positiveInt().default(2),
    caPath: z.string().startsWith("/").default("/status/v1/simple/ca"),
    masterPath: z.string().startsWith("/").default("/status/v1/simple"),
  }).prefault({}),
  timeouts: z.strictObject({
    connect: duration().prefault("2s"),
    /** Longest wait for a free upstream connection (then 503; never counted against the backend). */
    queue: duration().prefault("10s"),
    response: duration().prefault("5m"),
    /** Longest time to receive a request body read before forwarding (all bodies of clients without a cert). */
    clientBody: duration().prefault("30s"),
    clientHeaders: duration().prefault("30s"),
    clientRequest: duration().prefault("10m"),
    clientIdle: duration().prefault("60s"),
    shutdown: duration().prefault("30s"),
  }).prefault({}),
  limits: z.strictObject({
    headerSize: size().prefault("32KiB").refine((n) => n >= 32 * 1024, { message: "must be at least 32KiB (X-Client-Cert alone adds ~2.7KiB)" }),
    body: size().prefault("64MiB"),
    /** Request bodies up to this size are kept so the request can be retried on another master. */
    retryBuffer: size().prefault("1MiB"),
    /** Requests in flight per client address (429 above). */
    perClient: positiveInt().default(128),
    /** Requests in flight from all clients without a verified certificate together (429 above). */
    unauthenticated: positiveInt().default(64),
  }).prefault({}),
  stateDir: absPath().default("/var/lib/puppet-ha"),
  accessLog: z.boolean().default(true),
});

export type ProxyConfig = z.output<typeof proxySection>;
