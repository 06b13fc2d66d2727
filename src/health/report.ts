// The shape of GET /health: the one document the status page, `puppet-ha check` and operators
// read. The proxy builds it from its snapshot; nothing else in it is computed by its readers.

export type BackendStateName = "up" | "down" | "drain" | "unknown";

export interface BackendReport {
  name: string;
  url: string;
  state: BackendStateName;
  /** ISO time of the last state change. */
  since: string;
  lastCheck?: { at: string; ok: boolean; latencyMs?: number; error?: string };
  consecutiveFailures: number;
  inFlight: number;
  requests: number;
  errors: number;
}

export interface PoolReport {
  name: "ca" | "masters";
  balance?: string;
  backends: BackendReport[];
}

export interface ArbiterReport {
  active: string;
  epoch: number;
  /** The first CA worker in priority order. */
  primary: string;
  failback: { policy: "manual" | "auto"; state: string; detail?: string };
  heldWrites: number;
  /** The promoted standby's sync lag at the last failover (worst-case loss window), in ms. */
  lastFailoverLagMs?: number;
  warnings: string[];
}

export type SyncStateName = "in-sync" | "syncing" | "diverged" | "error";

export interface SyncDestinationReport {
  destination: string;
  source?: string;
  state: SyncStateName;
  epoch?: number;
  lagMs?: number;
  lastSuccess?: string;
  lastError?: string;
  lastPass?: { at: string; durationMs: number; bytes: number; result: string };
  /** The last full verification (every file hashed): when, how long, files in the manifest, files and bytes hashed. */
  lastFullVerification?: { at: string; durationMs: number; files: number; hashed: number; hashedBytes: number };
  /** What differs when diverged: serials, subjects, files. */
  divergence?: { serial?: string; subject?: string; file?: string; reason: string }[];
}

export interface ExpiryReport {
  /** ISO time. */
  notAfter: string;
  daysLeft: number;
}

export interface HealthReport {
  status: "ok" | "degraded" | "down";
  reasons: string[];
  time: string;
  version: string;
  pools: PoolReport[];
  arbiter: ArbiterReport;
  sync: SyncDestinationReport[];
  expiry: { caCert?: ExpiryReport; crl?: ExpiryReport & { number?: string } };
  /** The last events, newest first (failover, failback, divergence, CRL reload, backend up/down, admin actions). */
  events: { at: string; kind: string; message: string }[];
  /** With proxy.cluster only: the cluster as this proxy sees it. */
  cluster?: ClusterReport;
  /** With a fleet.broker section only: the nodes' last runs from the broker's status bucket. */
  fleet?: FleetReport;
  /** With proxy.workers > 1 only: the data-plane worker processes (their numbers are summed into pools). */
  workers?: WorkersReport;
}

export interface WorkersReport {
  configured: number;
  /** Workers listening now. */
  running: number;
  /** Workers started again after one died. */
  restarts: number;
  list: { id: number; pid: number; since: string; listening: boolean; answered: boolean; appliedEpoch: number; caWritesInFlight: number; connections: number }[];
}

/** Counts of the fleet status bucket (src/twitch/fleet/fleet-counts.ts). */
export interface FleetReport {
  /** Nodes with a verified status record. */
  reporting: number;
  ok: number;
  changed: number;
  failed: number;
  /** Reporting nodes not heard from for longer than fleet.silentAfter (counted here, not as ok/changed/failed). */
  silent: number;
  /** Records that failed verification. */
  rejected: number;
  /**
   * Signed, unrevoked certnames of a cadir on the proxy's machine (sync.cadirs) without a verified
   * record; absent when no cadir is local or it could not be read.
   */
  neverReported?: number;
  silentAfterMs: number;
  /** When the bucket was last read, ISO 8601; undefined before the first read. */
  readAt: string | undefined;
  /** Why the last read failed. */
  error: string | undefined;
}


/** One proxy of a cluster, from its record in etcd. */
export interface ClusterMemberReport {
  name: string;
  adminUrl: string;
  appliedEpoch: number;
  viewAgeMs: number | null;
  caWritesInFlight: number;
}

export interface ClusterReport {
  /** This proxy's member name. */
  name: string;
  /** The member name holding the controller key (from the last read), if any. */
  controller: string | null;
  isController: boolean;
  /** ISO time since which reads of etcd fail; null while they succeed. */
  etcdUnreachableSince: string | null;
  viewAgeMs: number | null;
  members: ClusterMemberReport[];
  leaseRenewals: number;
  leaseRenewalFailures: number;
  controllerChanges: number;
  viewDeadlineMisses: number;
}
