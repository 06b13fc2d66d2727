// What a node knows about itself for filters and the status digest: facts, classes and
// environment, read from files after each agent run (never by running facter per request).
// Facts: a JSON or YAML file (Puppet's client_yaml facts cache, or `puppet facts show` output saved
// by the run), classes: the agent's classes.txt, environment: last_run_report.yaml's top line.
import { readFile } from "node:fs/promises";
import { parsePuppetYaml } from "../puppet-yaml.js";
import type { NodeFacts } from "./filter.js";

export interface FactSources {
  certname: string;
  factsFile: string | undefined;
  classesFile: string;
  lastRunReport: string;
}

async function readOptional(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Facts from JSON, plain YAML, or Puppet's YAML cache (`--- !ruby/object:Puppet::Node::Facts` with `values:`). */
export function parseFacts(text: string): Record<string, unknown> {
  let doc: unknown;
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{")) {
    doc = JSON.parse(trimmed);
  } else {
    doc = parsePuppetYaml(text);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return {};
  const d = doc as Record<string, unknown>;
  const values = d.values;
  return values && typeof values === "object" && !Array.isArray(values) ? (values as Record<string, unknown>) : d;
}

export function parseClasses(text: string): Set<string> {
  return new Set(text.split("\n").map((l) => l.trim()).filter((l) => l !== ""));
}

/** last_run_report.yaml can be megabytes: only its top-level `environment:` line is needed. */
export function environmentOf(reportText: string): string | undefined {
  return /^environment: ['"]?([a-z0-9_]+)['"]?\s*$/m.exec(reportText)?.[1];
}

export async function readNodeFacts(s: FactSources): Promise<NodeFacts> {
  const [facts, classes, report] = await Promise.all([readOptional(s.factsFile), readOptional(s.classesFile), readOptional(s.lastRunReport)]);
  let parsed: Record<string, unknown>;
  try {
    parsed = facts === undefined ? {} : parseFacts(facts);
  } catch {
    parsed = {};
  }
  const environment = (report === undefined ? undefined : environmentOf(report)) ?? (typeof parsed.environment === "string" ? parsed.environment : undefined);
  return { certname: s.certname, facts: parsed, classes: classes === undefined ? new Set() : parseClasses(classes), environment };
}

const DIGEST_FACTS = [
  ["os", "family"], ["os", "name"], ["os", "release", "full"], ["kernel"], ["kernelrelease"], ["puppetversion"],
  ["processors", "count"], ["memory", "system", "total"], ["networking", "fqdn"], ["networking", "ip"], ["role"],
] as const;

/** A few facts for `fleet status` (a whole facts set is tens of KB per node). */
export function factsDigest(n: NodeFacts): Record<string, string> {
  const out: Record<string, string> = {};
  for (const path of DIGEST_FACTS) {
    let v: unknown = n.facts;
    for (const k of path) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[path.join(".")] = String(v).slice(0, 200);
  }
  if (n.environment) out.environment = n.environment;
  out.classes = String(n.classes.size);
  return out;
}
