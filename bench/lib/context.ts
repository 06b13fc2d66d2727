// What every scenario gets: its scratch dir, the PKI, the mode, the CPU split and a logger.
import type { BenchPki } from "./pki.js";

export interface BenchContext {
  /** Scratch dir of this run (configs, logs, state). */
  dir: string;
  pki: BenchPki;
  quick: boolean;
  /** CPU of the front end under test, and of everything else (generator, originator, backends). */
  cpu: { frontEnd: string; load: string };
  /** Fake server scripts (fakes.ts). */
  fakes: { ca: string; fleet: string };
  log: (msg: string) => void;
}

/** One row of the report: a measured figure per system and, when there is one, the target. */
export interface Row {
  scenario: string;
  metric: string;
  unit: string;
  values: Partial<Record<string, number>>;
  /** "puppet-ha / haproxy" style ratios, computed by the scenario. */
  ratios?: Record<string, number>;
  target?: { text: string; pass: boolean };
  note?: string;
}

export interface ScenarioResult {
  name: string;
  rows: Row[];
  /** Everything measured, for latest.json. */
  data: unknown;
  notes: string[];
  /** Extra files for bench/results (name -> content), e.g. failover.svg. */
  files?: Record<string, string>;
}
