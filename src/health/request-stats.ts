// Per-request counters and latency histograms kept in preallocated arrays, so that the proxy's hot
// path costs two Map lookups, one bucket search and a few additions: no label hashing or string
// building per request (prom-client's own Counter/Histogram hash the labels on every call). The
// registry reads them at scrape time through two collector objects.
import type { Registry } from "prom-client";

export const STATUS_CLASSES = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"] as const;

/** Counts and latency sums of one pool/backend/status-class series. */
interface Series {
  labels: { pool: string; backend: string; status_class: string };
  count: number;
  sum: number;
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  buckets: Float64Array;
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export class RequestStats {
  readonly #bounds: readonly number[];
  readonly #byPool = new Map<string, Map<string, (Series | undefined)[]>>();
  readonly #all: Series[] = [];

  constructor(registry: Registry, names: { counter: string; histogram: string }, bounds: readonly number[]) {
    this.#bounds = bounds;
    const counter = {
      name: names.counter,
      help: "Requests proxied, by pool, backend and status class",
      get: () => Promise.resolve({
        name: names.counter, help: counter.help, type: "counter", aggregator: "sum",
        values: this.#all.map((s): MetricValue => ({ labels: s.labels, value: s.count })),
      }),
    };
    const histogram = {
      name: names.histogram,
      help: "Seconds from the request to the end of the response, by pool, backend and status class",
      get: () => Promise.resolve({
        name: names.histogram, help: histogram.help, type: "histogram", aggregator: "sum",
        values: this.#all.flatMap((s) => this.#histogramValues(names.histogram, s)),
      }),
    };
    registry.registerMetric(counter as unknown as Parameters<Registry["registerMetric"]>[0]);
    registry.registerMetric(histogram as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  /** Creates the 2xx..5xx series of these backends now, so they are exported as 0 before any request. */
  register(pool: string, backends: readonly string[]): void {
    for (const backend of backends) {
      const row = this.#row(pool, backend);
      for (let i = 2; i <= 5; i++) row[i] ??= this.#create(pool, backend, i);
    }
  }

  observe(pool: string, backend: string, status: number, seconds: number): void {
    const idx = status >= 100 && status < 600 ? (status / 100) | 0 : 0;
    const row = this.#row(pool, backend);
    const s = row[idx] ?? (row[idx] = this.#create(pool, backend, idx));
    s.count++;
    s.sum += seconds;
    const bounds = this.#bounds;
    let b = 0;
    while (b < bounds.length && seconds > (bounds[b] as number)) b++;
    s.buckets[b] = (s.buckets[b] as number) + 1;
  }

  #row(pool: string, backend: string): (Series | undefined)[] {
    let backends = this.#byPool.get(pool);
    if (!backends) this.#byPool.set(pool, (backends = new Map<string, (Series | undefined)[]>()));
    let row = backends.get(backend);
    if (!row) backends.set(backend, (row = new Array<Series | undefined>(STATUS_CLASSES.length)));
    return row;
  }

  #create(pool: string, backend: string, idx: number): Series {
    const s: Series = {
      labels: { pool, backend, status_class: STATUS_CLASSES[idx] as string },
      count: 0,
      sum: 0,
      buckets: new Float64Array(this.#bounds.length + 1),
    };
    this.#all.push(s);
    return s;
  }

  #histogramValues(name: string, s: Series): MetricValue[] {
    const out: MetricValue[] = [];
    let cumulative = 0;
    this.#bounds.forEach((le, i) => {
      cumulative += s.buckets[i] as number;
      out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
    });
    out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: "+Inf" }, value: s.count });
    out.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
    out.push({ metricName: `${name}_count`, labels: s.labels, value: s.count });
    return out;
  }
}
