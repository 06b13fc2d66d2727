// The optional `proxy.cluster` config section: several proxies sharing one CA decision in etcd.
// Without it nothing changes (one proxy, the state file in proxy.stateDir).
import { z } from "zod";
import { absPath, duration, httpUrl, name } from "../../config/fields.js";
import { DEFAULT_TIMING, MIN_TTL_MS, timingProblems } from "./timing.js";

const s = (ms: number) => `${ms / 1000}s`;

const etcdSection = z.strictObject({
  /** Client URLs of the etcd members; tried in turn. */
  endpoints: z.array(httpUrl()).min(1, { message: "needs at least one etcd client URL" }),
  /** etcd with TLS: the CA that signed its certificates, and this proxy's client certificate and key. */
  tls: z.strictObject({
    ca: absPath(),
    cert: absPath().optional(),
    key: absPath().optional(),
  }).optional(),
}).superRefine((e, ctx) => {
  const seen = new Set<string>();
  e.endpoints.forEach((u, i) => {
    if (seen.has(u)) ctx.addIssue({ code: "custom", path: ["endpoints", i], message: `duplicate etcd endpoint "${u}"` });
    seen.add(u);
  });
  const https = e.endpoints.filter((u) => u.startsWith("https:")).length;
  if (https > 0 && https < e.endpoints.length) {
    ctx.addIssue({ code: "custom", path: ["endpoints"], message: "mixes http:// and https:// endpoints: all members of one etcd cluster use the same scheme" });
  }
  if (https > 0 && !e.tls) ctx.addIssue({ code: "custom", path: ["tls"], message: "https:// endpoints need tls.ca (and usually tls.cert and tls.key for etcd's client-cert auth)" });
  if (https === 0 && e.tls) ctx.addIssue({ code: "custom", path: ["tls"], message: "tls is set but the endpoints use http://: write them as https://" });
  if (e.tls && (e.tls.cert === undefined) !== (e.tls.key === undefined)) {
    ctx.addIssue({ code: "custom", path: ["tls", e.tls.cert === undefined ? "cert" : "key"], message: "tls.cert and tls.key go together (etcd's client certificate and its key)" });
  }
});

export const clusterSection = z.strictObject({
  /** This proxy's member name: unique in the cluster, shown in /health and on the controller key. */
  name: name(),
  /** Names the cluster; the default prefix is /puppet-ha/<clusterName>. */
  clusterName: name().default("main"),
  etcd: etcdSection,
  /** Where in etcd this cluster's keys live. */
  prefix: z.string().regex(/^(\/[A-Za-z0-9_.-]+)+$/, { message: 'must be a key prefix like "/puppet-ha/main" (starts with /, no trailing /)' }).optional(),
  /** Lifetime of each proxy's etcd lease; the controller steps down ttl/10 before it could expire. */
  ttl: duration({ min: MIN_TTL_MS }).refine((ms) => ms % 1000 === 0, { message: "must be whole seconds (etcd leases are counted in seconds)" })
    .prefault(s(DEFAULT_TIMING.ttlMs)),
  /** Pause between lease renewals and between reads of the CA state. */
  loopWait: duration({ min: 100 }).prefault(s(DEFAULT_TIMING.loopWaitMs)),
  /** How long one etcd request may take. */
  retryTimeout: duration({ min: 100 }).prefault(s(DEFAULT_TIMING.retryTimeoutMs)),
}).superRefine((c, ctx) => {
  // The field rules above are the same as timingProblems' own; only the rule across fields is left.
  for (const [key, message] of timingProblems({ ttlMs: c.ttl, loopWaitMs: c.loopWait, retryTimeoutMs: c.retryTimeout })) {
    if (key === "") ctx.addIssue({ code: "custom", path: [], message });
  }
}).transform((c) => ({ ...c, prefix: c.prefix ?? `/puppet-ha/${c.clusterName}` }));

export type ClusterConfig = z.output<typeof clusterSection>;
