// The `admin` config section: the admin listener (health, metrics, status page, admin API).
import { z } from "zod";
import { absPath, duration, listen, positiveInt } from "../config/fields.js";

export const adminSection = z.strictObject({
  listen: listen().prefault("127.0.0.1:8141"),
  /** Host names requests may carry in `Host`, besides IP addresses, the loopback names and this machine's (DNS-rebinding guard). */
  allowedHosts: z.array(z.string().min(1)).default([]),
  /** Bearer token for POST /api/... and GET /api/ca; unset means the admin API is refused. */
  tokenFile: absPath().optional(),
  tls: z.strictObject({ cert: absPath(), key: absPath() }).optional(),
  /** /health turns degraded when a sync destination lags more than this. */
  maxSyncLag: duration().prefault("2m"),
  /** /health turns degraded when the CA cert or CRL expires within this many days. */
  expiryWarnDays: positiveInt().default(30),
}).prefault({});

export type AdminConfig = z.output<typeof adminSection>;
