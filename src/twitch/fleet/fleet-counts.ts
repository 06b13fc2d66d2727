// The fleet's counts on the proxy's status page: with a `fleet.broker` section the proxy keeps the
// broker's status bucket in memory through one open KV watch (./status-watch.ts: each new or changed
// record verified once, as `fleet status` does: signed by the certname of its key) and every minute
// counts how many nodes report, how their last runs went and how many fell silent; given the signed
// certnames (./signed-certnames.ts), also how many never reported. A broker that is down only shows
// as an error on the page; the proxy never waits for it.
import { statSync } from "node:fs";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../log.js";
import type { FleetConfig } from "../broker/config.js";
import type { StatusRecord } from "../broker/status.js";
import type { StatusWatch } from "./status-watch.js";
import type { FleetReport as FleetCounts } from "../../health/report.js";
import type { SignedCertnames } from "./signed-certnames.js";

export type { FleetCounts };

/** Pure: the counts of verified records at `now`. */
export function fleetCounts(records: readonly StatusRecord[], rejected: number, silentAfterMs: number, now: number): Omit<FleetCounts, "readAt" | "error"> {
  const c = { reporting: records.length, ok: 0, changed: 0, failed: 0, silent: 0, rejected, silentAfterMs };
  for (const r of records) {
    const last = r.lastRun;
    const seen = Math.max(r.published, last?.time ? Date.parse(last.time) : 0);
    if (now - seen > silentAfterMs) c.silent++;
    else if (last && last.failed > 0) c.failed++;
    else if (last && last.changed > 0) c.changed++;
    else c.ok++;
  }
  return c;
}

export const FLEET_COUNTS_EVERY_MS = 60_000;
/** Reads between two fresh watches (a safety net for a watch that stalls without an error; verifications are kept). */
export const FLEET_WATCH_RENEW_EVERY = 15;

export class FleetCountsWatcher {
  readonly #cfg: FleetConfig & { broker: NonNullable<FleetConfig["broker"]> };
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #signed: SignedCertnames | undefined;
  #signedError = "";
  #nc: NatsConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #counts: FleetCounts;
  #stopped = false;
  /** The open watch, with the trust of the CA and CRL files it was opened with (a change opens a new one). */
  #watch: StatusWatch | undefined;
  #trustStamp = "";
  #reads = 0;
  /** How many entries the last read verified, and how many the broker delivered since the read before. */
  lastVerified = 0;
  lastReceived = 0;

  constructor(cfg: FleetConfig & { broker: NonNullable<FleetConfig["broker"]> }, log: Logger, now: () => number = Date.now, signed?: SignedCertnames) {
    this.#cfg = cfg;
    this.#log = log;
    this.#now = now;
    this.#signed = signed;
    this.#counts = { reporting: 0, ok: 0, changed: 0, failed: 0, silent: 0, rejected: 0, silentAfterMs: cfg.silentAfter, readAt: undefined, error: undefined };
  }

  /** Read now, then every `everyMs` (the timer does not keep the process alive). */
  start(everyMs = FLEET_COUNTS_EVERY_MS): this {
    const tick = () => {
      void this.refresh().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, everyMs).unref();
      });
    };
    tick();
    return this;
  }

  get counts(): FleetCounts {
    return this.#counts;
  }

  /** Counts from the watched bucket (opened or caught up first); never throws (the error is kept in the counts). */
  async refresh(): Promise<FleetCounts> {
    const b = this.#cfg.broker;
    try {
      const [{ connectBroker }, { bindBucket }, { PuppetTrust }, { StatusWatch }] = await Promise.all([
        import("../broker/connect.js"), import("../broker/status.js"), import("../broker/trust.js"), import("./status-watch.js"),
      ]);
      if (!this.#nc) {
        const nc = await connectBroker({ urls: b.urls, cert: b.tls.cert, key: b.tls.key, ca: b.tls.ca, name: "proxy-status-page", connectTimeoutMs: 5000 }, this.#log);
        this.#nc = nc;
        // After a reconnect the watch's consumer may be gone with the old server: the next read opens a new one.
        void (async () => {
          for await (const st of nc.status()) if (st.type === "reconnect") this.#watch?.stop();
        })().catch(() => undefined);
      }
      const kv = await bindBucket(this.#nc, this.#cfg.statusBucket, false);
      // A new CA or CRL file: a new watch that verifies every entry again.
      const stamp = [b.tls.ca, b.tls.crl].map((f) => { const st = f ? statSync(f, { throwIfNoEntry: false }) : undefined; return `${st?.mtimeMs}:${st?.size}:${st?.ino}`; }).join("|");
      const previous = stamp === this.#trustStamp ? this.#watch?.entries : undefined;
      if (stamp !== this.#trustStamp || ++this.#reads % FLEET_WATCH_RENEW_EVERY === 0) this.#watch?.stop();
      this.#trustStamp = stamp;
      if (this.#watch?.alive) await this.#watch.catchUp(kv);
      else {
        this.#watch = undefined;
        this.#watch = await StatusWatch.open(kv, { trust: PuppetTrust.fromFiles(b.tls.ca, b.tls.crl), maxBytes: 1024 * 1024, ...(previous ? { previous } : {}) });
      }
      const taken = this.#watch.takeCounters();
      this.lastVerified = taken.verified;
      this.lastReceived = taken.received;
      const records: StatusRecord[] = [];
      let rejected = 0;
      for (const e of this.#watch.entries.values()) {
        if (e.record) records.push(e.record);
        else rejected++;
      }
      const never = await this.#neverReported(records);
      this.#counts = {
        ...fleetCounts(records, rejected, this.#cfg.silentAfter, this.#now()), ...(never === undefined ? {} : { neverReported: never }),
        readAt: new Date(this.#now()).toISOString(), error: undefined,
      };
    } catch (err) {
      this.#log.warn({ err }, "cannot read the fleet status bucket for the status page");
      this.#counts = { ...this.#counts, error: (err as Error).message };
    }
    return this.#counts;
  }

  /** Signed certnames without a verified record; undefined without a source or when it cannot be read (logged). */
  async #neverReported(records: readonly StatusRecord[]): Promise<number | undefined> {
    if (!this.#signed) return undefined;
    try {
      const signed = await this.#signed.read();
      const reporting = new Set(records.map((r) => r.certname));
      let n = 0;
      for (const name of signed) if (!reporting.has(name)) n++;
      this.#signedError = "";
      return n;
    } catch (err) {
      // Once per distinct failure, not every minute.
      if ((err as Error).message !== this.#signedError) this.#log.warn({ err, cadir: this.#signed.cadir }, "cannot read the signed certnames for the status page's never-reported count");
      this.#signedError = (err as Error).message;
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#watch?.stop();
    await this.#nc?.close().catch(() => undefined);
  }
}
