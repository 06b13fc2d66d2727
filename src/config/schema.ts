// The whole config file: one section per part, cross-section rules, and the resulting type.
import { availableParallelism } from "node:os";
import { z } from "zod";
import { proxySection } from "../proxy/config.js";
import { clusterSection } from "../proxy/control/config.js";
import { adminSection } from "../health/config.js";
import { syncSection } from "../sync/config.js";
import { twitchSection } from "../twitch/config.js";
import { fleetSection } from "../twitch/broker/config.js";

export const logSection = z.strictObject({
  level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  format: z.enum(["json", "text"]).default("json"),
}).prefault({});

export const configSchema = z.strictObject({
  // proxy.cluster (several proxies, one CA decision in etcd) lives with the control plane.
  proxy: proxySection.extend({
    cluster: clusterSection.optional(),
    /**
     * Data-plane worker processes sharing the listener (src/proxy/workers/); the primary keeps the
     * one CA decision (with proxy.cluster, the workers follow what this proxy applied from etcd). Default: one per core.
     */
    // z.custom: one message whether a non-number or a number below 1 is given.
    workers: z.custom<number>((v) => Number.isSafeInteger(v) && (v as number) >= 1, { error: "must be a whole number >= 1" }).optional(),
  }).transform((p) => ({ ...p, workers: p.workers ?? availableParallelism() })).optional(),
  admin: adminSection,
  sync: syncSection.optional(),
  twitch: twitchSection.optional(),
  fleet: fleetSection.optional(),
  log: logSection,
}).superRefine((cfg, ctx) => {
  if (cfg.sync?.writeInto) {
    cfg.sync.writeInto.forEach((n, i) => {
      if (!(n in (cfg.sync?.cadirs ?? {}))) {
        ctx.addIssue({ code: "custom", path: ["sync", "writeInto", i], message: `"${n}" is not one of sync.cadirs` });
      }
    });
  }
  if (cfg.sync && cfg.proxy) {
    const workers = new Set(cfg.proxy.ca.workers.map((w) => w.name));
    for (const n of Object.keys(cfg.sync.cadirs)) {
      if (!workers.has(n)) ctx.addIssue({ code: "custom", path: ["sync", "cadirs", n], message: `"${n}" is not a CA worker in proxy.ca.workers` });
    }
  }
});

export type Config = z.output<typeof configSchema>;
export type LogConfig = Config["log"];
