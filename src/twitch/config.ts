// The `twitch` config section: the node-side HTTP trigger for puppet agent runs.
import { z } from "zod";
import { absPath, duration, listen, positiveInt } from "../config/fields.js";

export const twitchSection = z.strictObject({
  listen: listen().prefault("127.0.0.1:2023"),
  auth: z.strictObject({
    tokenFile: absPath().optional(),
    /** mTLS with the node's own Puppet cert; callers need a cert of the Puppet CA. */
    tls: z.strictObject({ cert: absPath(), key: absPath(), ca: absPath(), crl: absPath().optional() }).optional(),
    /** Caller certnames allowed over mTLS (globs: `*` any run of characters, `?` one). */
    allow: z.array(z.string().min(1)).default([]),
  }).prefault({}),
  puppet: z.strictObject({
    /** Argument-vector prefix, e.g. ["sudo", "-n", "/usr/bin/puppet"]; never run through a shell. */
    command: z.array(z.string().min(1)).min(1).default(["/usr/bin/puppet"]),
    runLockFile: absPath().optional(),
    disabledLockFile: absPath().optional(),
    lastRunSummary: absPath().optional(),
    /** A run taking longer than this is killed and reported as failed. */
    timeout: duration().prefault("30m"),
  }).prefault({}),
  rateLimit: z.strictObject({ max: positiveInt().default(10), per: duration().prefault("1m") }).prefault({}),
  splayMax: duration().prefault("60s"),
});

export type TwitchConfig = z.output<typeof twitchSection>;
