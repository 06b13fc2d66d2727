// The `twitch` config section: the node-side HTTP trigger for puppet agent runs. `puppet-ha twitch`
// itself checks it without zod (./config-check.ts, held equal to this schema by a test).
import { z } from "zod";
import { absPath, duration, listen, positiveInt } from "../config/fields.js";
import { brokerSection } from "./broker/config.js";
import { isLoopbackHost } from "./config-check.js";

export { isLoopbackHost };

export const twitchSection = z.strictObject({
  listen: listen().prefault("127.0.0.1:2023"),
  /**
   * Host names requests may carry in `Host`, besides IP addresses, the loopback names, this
   * machine's host name and the certname of auth.tls.cert (DNS-rebinding guard).
   */
  allowedHosts: z.array(z.string().min(1)).default([]),
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
    /**
     * Fixed arguments appended after `agent --onetime --no-daemonize --detailed-exitcodes` (and
     * after `config print ... --section agent`), e.g. ["--confdir", "/x", "--server", "h"].
     */
    args: z.array(z.string().min(1)).default([]),
    runLockFile: absPath().optional(),
    disabledLockFile: absPath().optional(),
    lastRunSummary: absPath().optional(),
    /** A run taking longer than this is killed and reported as failed. */
    timeout: duration().prefault("30m"),
  }).prefault({}),
  rateLimit: z.strictObject({ max: positiveInt().default(10), per: duration().prefault("1m") }).prefault({}),
  splayMax: duration().prefault("60s"),
  /** Optional: also take run requests from the fleet broker (NATS). */
  broker: brokerSection.optional(),
}).superRefine((t, ctx) => {
  if (!t.auth.tokenFile && !t.auth.tls && !isLoopbackHost(t.listen.host)) {
    ctx.addIssue({
      code: "custom",
      path: ["listen"],
      message: `without auth (auth.tokenFile or auth.tls) twitch only binds loopback, not "${t.listen.host}"`,
    });
  }
  if (t.auth.allow.length > 0 && !t.auth.tls) {
    ctx.addIssue({ code: "custom", path: ["auth", "allow"], message: "needs auth.tls (the allowlist names mTLS callers)" });
  }
});

export type TwitchConfig = z.output<typeof twitchSection>;
