// The failover story's summary: gathers the evidence from the state dir (inventories, signed/
// certs, access logs, the agents' own certs) and prints it with the "nothing lost" verdict.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LoopRun } from "./agent-loop.js";
import { duplicateSerials, failedProxyRequests, normalSerial, parseInventory, serialRanges, signedCsrs, type FailedRequest, type InventoryEntry } from "./verify.js";

export interface Check {
  ok: boolean;
  text: string;
}

export interface StoryEvidence {
  runs: LoopRun[];
  timeline: string[];
  requests: { total: number; failed: FailedRequest[] };
  signedBy: Record<"ca1" | "ca2", string[]>;
  serialsBy: Record<"ca1" | "ca2", string[]>;
  pause: string;
  checks: Check[];
}

const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : "");
export const lines = (f: string): string[] => read(f).split("\n").filter(Boolean);

export interface EvidenceInput {
  cadirs: Record<"ca1" | "ca2", string>;
  /** Jetty access-log lines of each CA written during the story. */
  caAccess: Record<"ca1" | "ca2", string[]>;
  proxyLogLines: string[];
  agentsDir: string;
  runs: LoopRun[];
  timeline: string[];
  pause: string;
  /** False when the story could not fail back: the "on the primary after failback" check is skipped. */
  failedBack: boolean;
}

/** The runs whose agent has no cert in its ssldir, or one whose serial and subject `inventory` lacks. */
export function runsWithoutCert(runs: LoopRun[], agentsDir: string, inventory: InventoryEntry[]): LoopRun[] {
  return runs.filter((r) => {
    const pem = read(join(agentsDir, r.certname, "ssl", "certs", `${r.certname}.pem`));
    if (!pem) return true;
    const serial = normalSerial(new X509Certificate(pem).serialNumber);
    return !inventory.some((e) => e.serial === serial && e.subject === `/CN=${r.certname}`);
  });
}

export function gatherEvidence(i: EvidenceInput): StoryEvidence {
  const inv = { ca1: parseInventory(read(join(i.cadirs.ca1, "inventory.txt"))), ca2: parseInventory(read(join(i.cadirs.ca2, "inventory.txt"))) };
  const signedBy = { ca1: signedCsrs(i.caAccess.ca1), ca2: signedCsrs(i.caAccess.ca2) };
  const serialOf = (entries: InventoryEntry[], cn: string) => entries.filter((e) => e.subject === `/CN=${cn}`).at(-1)?.serial;
  const serialsBy = {
    ca1: signedBy.ca1.map((cn) => serialOf(inv.ca1, cn) ?? serialOf(inv.ca2, cn)).filter((s): s is string => s !== undefined),
    ca2: signedBy.ca2.map((cn) => serialOf(inv.ca2, cn) ?? serialOf(inv.ca1, cn)).filter((s): s is string => s !== undefined),
  };
  const checks: Check[] = [];
  const dups = duplicateSerials(inv.ca1, inv.ca2);
  const all = new Set([...inv.ca1, ...inv.ca2].map((e) => e.serial));
  checks.push({
    ok: dups.length === 0,
    text: dups.length === 0
      ? `no serial issued twice across both inventories (${all.size} serials)`
      : `serial issued twice: ${dups.map((d) => `${d.serial} (${d.lines.join(" | ")})`).join("; ")}`,
  });
  if (i.failedBack) {
    const missing = signedBy.ca2.filter((cn) => {
      const line2 = inv.ca2.find((e) => e.subject === `/CN=${cn}`)?.line;
      const same = read(join(i.cadirs.ca1, "signed", `${cn}.pem`)) === read(join(i.cadirs.ca2, "signed", `${cn}.pem`));
      return !line2 || !inv.ca1.some((e) => e.line === line2) || !same || !existsSync(join(i.cadirs.ca1, "signed", `${cn}.pem`));
    });
    checks.push({
      ok: missing.length === 0 && signedBy.ca2.length > 0,
      text: missing.length === 0
        ? `every cert signed by the standby ca2 (${signedBy.ca2.length}) is on ca1 after failback (inventory line and signed/ file)`
        : `signed by ca2 but missing or different on ca1 after failback: ${missing.join(", ")}`,
    });
    const okRuns = i.runs.filter((r) => r.ok);
    const lost = runsWithoutCert(okRuns, i.agentsDir, inv.ca1);
    checks.push({
      ok: lost.length === 0,
      text: lost.length === 0
        ? `every agent that enrolled (${okRuns.length}) finds its cert's serial in ca1's inventory`
        : `agents whose cert is not in ca1's inventory: ${lost.map((r) => r.certname).join(", ")}`,
    });
  }
  return { runs: i.runs, timeline: i.timeline, requests: failedProxyRequests(i.proxyLogLines), signedBy, serialsBy, pause: i.pause, checks };
}

export function formatSummary(e: StoryEvidence, totalS: number, verdict: string): string {
  const failedRuns = e.runs.filter((r) => !r.ok);
  const byPhase = (cn: string[], phase: string) => e.runs.filter((r) => r.phase === phase && cn.includes(r.certname)).length;
  const phases = [...new Set(e.runs.map((r) => r.phase))];
  const out = [
    "",
    `=== puppet-ha demo: failover story (${totalS.toFixed(1)} s)`,
    "timeline:",
    ...e.timeline.map((t) => `  ${t}`),
    `agent runs: ${e.runs.length} (${e.runs.length - failedRuns.length} ok, ${failedRuns.length} failed)${failedRuns.length ? `: ${failedRuns.map((r) => `${r.certname} exit ${r.exitCode} (${r.phase})`).join(", ")}` : ""}`,
    `proxy requests: ${e.requests.total}, failed (5xx): ${e.requests.failed.length}${e.requests.failed.length ? `: ${e.requests.failed.slice(0, 5).map((f) => `${f.method} ${f.path} ${f.status}`).join(", ")}` : ""}`,
    `certs signed: ca1 ${e.signedBy.ca1.length} (${phases.map((p) => `${p} ${byPhase(e.signedBy.ca1, p)}`).join(", ")}), ca2 ${e.signedBy.ca2.length} (${phases.map((p) => `${p} ${byPhase(e.signedBy.ca2, p)}`).join(", ")})`,
    `serials issued: ca1 ${serialRanges(e.serialsBy.ca1)}; ca2 ${serialRanges(e.serialsBy.ca2)}`,
    `failback write pause: ${e.pause}`,
    "checks:",
    ...e.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.text}`),
    `RESULT: ${verdict}`,
    "",
  ];
  return out.join("\n");
}
