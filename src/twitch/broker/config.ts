// Config of the fleet broker: `twitch.broker` (a node joins the fleet over NATS) and the top-level
// `fleet` section (what `fleet run` and `fleet status` use when given -c). Defaults live here.
import { z } from "zod";
import { absPath, duration, positiveInt, size } from "../../config/fields.js";
import { PREFIX } from "./subjects.js";
import { isNatsUrl } from "../config-check.js";

const natsUrl = () =>
  z.string({ error: "must be a NATS URL like tls://nats.example.com:4222" })
    .refine(isNatsUrl, { message: "must be a NATS URL like tls://nats.example.com:4222 (no credentials, no path)" });

const tlsFiles = z.strictObject({ cert: absPath(), key: absPath(), ca: absPath(), crl: absPath().optional() });

export const DEFAULT_PREFIX = "puppet-ha.fleet";
export const DEFAULT_BUCKET = "puppet_ha_fleet";

const prefix = () => z.string().regex(PREFIX, { message: "must be dot-separated words of letters, digits, '_' or '-'" }).default(DEFAULT_PREFIX);
const bucket = () => z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: "must be letters, digits, '_' or '-'" }).default(DEFAULT_BUCKET);

export const brokerSection = z.strictObject({
  urls: z.array(natsUrl()).min(1, { message: "needs at least one NATS URL" }),
  /** The node's own Puppet cert and key (client cert, and the key replies are signed with). */
  tls: tlsFiles,
  /** Certnames whose signed requests this node acts on (globs). */
  allow: z.array(z.string().min(1)).min(1, { message: "needs at least one controller certname (glob)" }),
  subjectPrefix: prefix(),
  statusBucket: bucket(),
  /** Publish the last run summary and a facts digest to the status bucket after every run. */
  publishStatus: z.boolean().default(true),
  maxSkew: duration().prefault("30s"),
  maxTtl: duration({ min: 1000 }).prefault("10m"),
  maxMessageSize: size().prefault("64KiB"),
  /** Facts as JSON or YAML; unset: `<puppet command> facts show --render-as json` after each run. */
  factsFile: absPath().optional(),
  /** Default: classes.txt beside the agent's run lock (puppet's statedir). */
  classesFile: absPath().optional(),
  /** Default: last_run_report.yaml beside the agent's run lock. */
  lastRunReport: absPath().optional(),
});

export type BrokerConfig = z.output<typeof brokerSection>;

export const fleetSection = z.strictObject({
  broker: z.strictObject({ urls: z.array(natsUrl()).min(1, { message: "needs at least one NATS URL" }), tls: tlsFiles }).optional(),
  subjectPrefix: prefix(),
  statusBucket: bucket(),
  /** `fleet status` flags nodes that have not reported for longer than this. */
  silentAfter: duration().prefault("2h"),
  /** `fleet run` defaults. */
  concurrency: positiveInt().default(100),
  canary: z.number().int().min(0).default(1),
});

export type FleetConfig = z.output<typeof fleetSection>;
