// Keeps the listener's CRL current: fetches the active CA's CRL (If-Modified-Since) every
// interval and right after revoking writes (kick), coalescing triggers so one fetch runs at a time.
// Answers larger than proxy.ca.crlMaxSize are refused while they arrive (the current CRL stays).
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { CrlTooLargeError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { realScheduler, type Scheduler } from "../scheduler.js";

export const CRL_PATH = "/puppet-ca/v1/certificate_revocation_list/ca";

export interface CrlFetchResult {
  status: number;
  body: string;
  lastModified: string | undefined;
}

/** Rejects with CrlTooLargeError as soon as the answer is known to exceed maxBytes. */
export type CrlFetch = (url: string, ifModifiedSince: string | undefined, timeoutMs: number, maxBytes: number) => Promise<CrlFetchResult>;

export const httpCrlFetch: CrlFetch = (url, ims, timeoutMs, maxBytes) =>
  new Promise((resolve, reject) => {
    const headers: Record<string, string> = { "x-client-verify": "NONE", accept: "text/plain", "user-agent": "puppet-ha-crl" };
    if (ims) headers["if-modified-since"] = ims;
    const req = (url.startsWith("https:") ? httpsRequest : httpRequest)(url, { agent: false, headers });
    const timer = setTimeout(() => req.destroy(new Error(`no CRL within ${timeoutMs} ms`)), timeoutMs);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      const declared = Number(res.headers["content-length"] ?? 0);
      if (declared > maxBytes) return req.destroy(new CrlTooLargeError(url, maxBytes));
      res.on("data", (c: Buffer) => {
        bytes += c.length;
        if (bytes > maxBytes) {
          chunks.length = 0;
          req.destroy(new CrlTooLargeError(url, maxBytes));
        } else chunks.push(c);
      });
      res.on("end", () => {
        clearTimeout(timer);
        const lm = res.headers["last-modified"];
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), lastModified: lm });
      });
      res.on("error", reject);
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });

export interface CrlRefresherOptions {
  /** Base URL of the active CA worker now. */
  activeUrl(): string;
  /** Offer a fetched CRL: "" when adopted, else why not. */
  offer(pem: string, source: string): string;
  /** Called after a CRL was adopted (swap the secure context). */
  adopted(): void;
  /** Called when an answer was refused as too large (the current CRL stays). */
  refused?(reason: string): void;
  intervalMs: number;
  timeoutMs: number;
  /** proxy.ca.crlMaxSize, read at each fetch (config reload). */
  maxBytes(): number;
  fetch?: CrlFetch;
  scheduler?: Scheduler;
  log?: Logger;
  /** Told every fetch's result (metrics count the failures). */
  fetched?(result: string): void;
}

export class CrlRefresher {
  private running = false;
  private stopped = false;
  private fetching: Promise<void> | undefined;
  private again = false;
  private cancelTimer: (() => void) | undefined;
  private lastModified: string | undefined;
  private lastUrl: string | undefined;
  lastFetch: { at: number; result: string } | undefined;
  private readonly sched: Scheduler;

  constructor(private readonly o: CrlRefresherOptions) {
    this.sched = o.scheduler ?? realScheduler;
  }

  start(): void {
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.stopped = true;
    this.cancelTimer?.();
  }

  /**
   * SIGHUP with a new proxy.ca.crlRefresh: the next fetch is one new interval from now (or from the
   * end of the fetch in progress).
   */
  setIntervalMs(ms: number): void {
    if (ms === this.o.intervalMs) return;
    this.o.intervalMs = ms;
    if (!this.fetching) this.schedule();
  }

  private schedule(): void {
    this.cancelTimer?.();
    if (this.running) this.cancelTimer = this.sched.setTimeout(() => void this.kick(), this.o.intervalMs);
  }

  /** Fetch now (or right after the fetch in progress). Resolves when the CRL is current. */
  kick(): Promise<void> {
    if (this.fetching) {
      this.again = true;
      return this.fetching;
    }
    this.fetching = this.loop().finally(() => {
      this.fetching = undefined;
      this.schedule();
    });
    return this.fetching;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.once();
    } while (this.again && !this.stopped);
  }

  private async once(): Promise<void> {
    const base = this.o.activeUrl();
    const url = base + CRL_PATH;
    // A different CA may have its own Last-Modified clock: ask unconditionally after a switch.
    const ims = this.lastUrl === url ? this.lastModified : undefined;
    let result: string;
    try {
      const r = await (this.o.fetch ?? httpCrlFetch)(url, ims, this.o.timeoutMs, this.o.maxBytes());
      if (r.status === 304) result = "not modified";
      else if (r.status !== 200) result = `HTTP ${r.status}`;
      else {
        const why = this.o.offer(r.body, url);
        this.lastUrl = url;
        this.lastModified = r.lastModified;
        if (why === "") {
          this.o.adopted();
          result = "adopted";
        } else result = why;
      }
    } catch (err) {
      result = err instanceof Error ? err.message : String(err);
      if (err instanceof CrlTooLargeError) {
        this.o.log?.warn({ url, limit: err.limit }, "CRL refused: too large");
        this.o.refused?.(result);
      }
    }
    this.lastFetch = { at: this.sched.now(), result };
    this.o.fetched?.(result);
    this.o.log?.[result === "adopted" ? "info" : "debug"]({ url, result }, "CRL fetch");
  }
}
