// The IPC between the proxy's primary process and its data-plane workers (proxy.workers > 1): one
// typed, validated schema per direction; a message that does not match is refused with its problems.
import { z } from "zod";
import { WorkerMessageError } from "../../errors.js";
import type { MetricsJson } from "../../health/metrics.js";

const name = z.string().min(1);
const count = z.number().int().min(0);

/** The CA state workers route by: the primary's epoch and active CA, and a write hold while one is in place. */
const caState = z.strictObject({
  epoch: z.number().int().min(1),
  active: name,
  hold: z.strictObject({ id: name, target: name, since: z.number() }).optional(),
});

/** proxy.cluster: until when the primary's view of etcd may be acted on (null: no deadline, one proxy). */
const view = z.strictObject({ deadline: z.number().nullable(), unreachableSince: z.number().nullable() });

const backend = z.strictObject({
  pool: z.enum(["ca", "masters"]), name, state: z.enum(["unknown", "up", "down"]), reason: z.string(), drained: z.boolean(),
});

/** The whole config file, validated by the primary (workers never read the file themselves). */
const config = z.looseObject({ proxy: z.looseObject({}), log: z.looseObject({}) });

const toWorker = z.discriminatedUnion("type", [
  /** state: absent while the primary has read none yet (proxy.cluster before its first read of etcd). */
  z.strictObject({ type: z.literal("init"), config, state: caState.optional(), view, revision: count, backends: z.array(backend), crl: z.strictObject({ pem: z.string(), source: z.string() }) }),
  /** Apply before forwarding any further CA write; answer with "applied". */
  z.strictObject({ type: z.literal("state"), state: caState, view, revision: count }),
  z.strictObject({ type: z.literal("backends"), backends: z.array(backend) }),
  z.strictObject({ type: z.literal("crl"), pem: z.string(), source: z.string() }),
  z.strictObject({ type: z.literal("reload"), config }),
  z.strictObject({ type: z.literal("stats"), id: count }),
  z.strictObject({ type: z.literal("stop"), graceMs: count }),
]);

const backendStats = z.strictObject({ pool: z.enum(["ca", "masters"]), name, inFlight: count, requests: count, errors: count });

const toPrimary = z.discriminatedUnion("type", [
  /** The worker listens for messages: send it "init". */
  z.strictObject({ type: z.literal("ready") }),
  z.strictObject({ type: z.literal("listening"), port: z.number().int().min(1).max(65535) }),
  /** The state this worker routes by now, its CA writes in flight and the hold it acknowledges. */
  z.strictObject({ type: z.literal("applied"), revision: count, epoch: count, inFlight: count, holdAck: name.nullable() }),
  /** A request to a backend failed: the primary's pool judges it (passive check). */
  z.strictObject({ type: z.literal("passive"), pool: z.enum(["ca", "masters"]), backend: name, reason: z.string() }),
  /** A CA write was answered 2xx: the in-process sync (primary) asks for a pass. */
  z.strictObject({ type: z.literal("caWrite") }),
  /** A revocation went through this worker: the primary fetches the CRL now. */
  z.strictObject({ type: z.literal("revoked") }),
  z.strictObject({ type: z.literal("reloaded"), ok: z.boolean(), error: z.string().optional() }),
  z.strictObject({
    type: z.literal("stats"), id: count, backends: z.array(backendStats), heldRequests: count, connections: count, caWritesInFlight: count,
    /** prom-client's getMetricsAsJSON() of the worker's registry, aggregated by the primary. */
    metrics: z.array(z.custom<MetricsJson[number]>((v) => {
      const m = v as { name?: unknown; values?: unknown } | null;
      return typeof m?.name === "string" && Array.isArray(m.values);
    }, { error: "must be prom-client metrics ({name, values, ...})" })),
  }),
]);

export type WorkerCaState = z.output<typeof caState>;
export type WorkerView = z.output<typeof view>;
export type BackendLine = z.output<typeof backend>;
export type BackendStats = z.output<typeof backendStats>;
export type ToWorker = z.output<typeof toWorker>;
export type ToPrimary = z.output<typeof toPrimary>;

function parse<T>(schema: z.ZodType<T>, msg: unknown, from: string): T {
  const r = schema.safeParse(msg);
  if (r.success) return r.data;
  const type = (msg as { type?: unknown } | null)?.type;
  const problems = r.error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`).join("; ");
  throw new WorkerMessageError(from, typeof type === "string" ? type : "(no type)", problems);
}

export const parseToWorker = (msg: unknown): ToWorker => parse(toWorker, msg, "the primary");
export const parseToPrimary = (msg: unknown, worker: string): ToPrimary => parse(toPrimary, msg, `worker ${worker}`);
