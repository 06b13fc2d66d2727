// last_run_summary.yaml (Puppet's `lastrunfile`) turned into the few facts /puppet/status shows.
import { parsePuppetYaml } from "./puppet-yaml.js";

export type Outcome = "unchanged" | "changed" | "failed" | "changed+failed";

export interface LastRun {
  /** When the run ended (time.last_run), ISO 8601. */
  time: string | undefined;
  /** Seconds the run took (time.total). */
  durationSeconds: number | undefined;
  outcome: Outcome;
  /** The exit code `--detailed-exitcodes` gives for this outcome (0, 2, 4, 6). */
  exitCode: 0 | 2 | 4 | 6;
  resources: { changed: number; failed: number; outOfSync: number; skipped: number; total: number };
  changes: number;
  events: { failure: number; success: number; total: number };
  configVersion: string | undefined;
  puppetVersion: string | undefined;
}

function num(section: unknown, key: string): number {
  if (section && typeof section === "object" && key in section) {
    const v = (section as Record<string, unknown>)[key];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return 0;
}

function field(section: unknown, key: string): unknown {
  return section && typeof section === "object" ? (section as Record<string, unknown>)[key] : undefined;
}

function scalar(v: unknown): string | undefined {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
}

/** The detailed exit code for a run: 2 when something changed, 4 when something failed. */
export function outcomeOf(changed: number, failed: number): { outcome: Outcome; exitCode: 0 | 2 | 4 | 6 } {
  if (failed > 0 && changed > 0) return { outcome: "changed+failed", exitCode: 6 };
  if (failed > 0) return { outcome: "failed", exitCode: 4 };
  if (changed > 0) return { outcome: "changed", exitCode: 2 };
  return { outcome: "unchanged", exitCode: 0 };
}

/** Parse the summary text; undefined when it is not a Puppet run summary at all. */
export function parseLastRunSummary(text: string): LastRun | undefined {
  let doc: unknown;
  try {
    doc = parsePuppetYaml(text);
  } catch {
    return undefined;
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return undefined;
  const d = doc as Record<string, unknown>;
  if (!("time" in d) && !("version" in d) && !("resources" in d)) return undefined;
  const resources = {
    changed: num(d.resources, "changed"),
    failed: num(d.resources, "failed"),
    outOfSync: num(d.resources, "out_of_sync"),
    skipped: num(d.resources, "skipped"),
    total: num(d.resources, "total"),
  };
  const events = { failure: num(d.events, "failure"), success: num(d.events, "success"), total: num(d.events, "total") };
  // A run that failed before applying anything (no catalog) has no resources but a failure event.
  const failed = Math.max(resources.failed, events.failure);
  const lastRun = field(d.time, "last_run");
  const total = field(d.time, "total");
  const configVersion = field(d.version, "config");
  const puppetVersion = field(d.version, "puppet");
  return {
    time: typeof lastRun === "number" ? new Date(lastRun * 1000).toISOString() : undefined,
    durationSeconds: typeof total === "number" ? total : undefined,
    ...outcomeOf(resources.changed, failed),
    resources,
    changes: num(d.changes, "total"),
    events,
    configVersion: scalar(configVersion),
    puppetVersion: scalar(puppetVersion),
  };
}
