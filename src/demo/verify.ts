// The failover story's evidence, decided in pure code: inventory.txt lines, CSRs a CA signed (from
// its Jetty access log), failed proxy requests (from its JSON log), and the "nothing lost" checks.

export interface InventoryEntry {
  /** Lower-case hex without leading zeros, e.g. "0x100b". */
  serial: string;
  subject: string;
  line: string;
}

/** Parses inventory.txt: "0x0005 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC /CN=smoke-1". */
export function parseInventory(text: string): InventoryEntry[] {
  const out: InventoryEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^0x([0-9a-fA-F]+)\s+\S+\s+\S+\s+(\S.*)$/.exec(line.trim());
    if (m?.[1] && m[2]) out.push({ serial: normalSerial(m[1]), subject: m[2], line: line.trim() });
  }
  return out;
}

export function normalSerial(hex: string): string {
  return `0x${BigInt(`0x${hex.replace(/^0x/i, "")}`).toString(16)}`;
}

/** Certnames whose CSR a CA accepted (autosigned): `PUT /puppet-ca/v1/certificate_request/<cn>` answered 200. */
export function signedCsrs(accessLogLines: string[]): string[] {
  const out: string[] = [];
  for (const l of accessLogLines) {
    const m = /"PUT \/puppet-ca\/v1\/certificate_request\/([^?\s"]+)[^"]*" 200 /.exec(l);
    if (m?.[1]) out.push(decodeURIComponent(m[1]));
  }
  return out;
}

export interface FailedRequest {
  method: string;
  path: string;
  status: number;
}

/** Access lines of the proxy's JSON log (part "access") answered 5xx. */
export function failedProxyRequests(logLines: string[]): { total: number; failed: FailedRequest[] } {
  let total = 0;
  const failed: FailedRequest[] = [];
  for (const l of logLines) {
    if (!l.startsWith("{")) continue;
    let o: { part?: unknown; status?: unknown; method?: unknown; path?: unknown };
    try {
      o = JSON.parse(l) as typeof o;
    } catch {
      continue;
    }
    if (o.part !== "access" || typeof o.status !== "number") continue;
    total += 1;
    if (o.status >= 500) failed.push({ method: String(o.method), path: String(o.path), status: o.status });
  }
  return { total, failed };
}

/**
 * A write pause the proxy reported for the failback: the first numeric field whose name speaks of
 * a hold or pause (e.g. writePauseMs, heldMs) in a failback log line or in the failback response.
 */
export function failbackPauseMs(logLines: string[], responseBody?: string): number | undefined {
  const find = (o: unknown, depth = 0): number | undefined => {
    if (!o || typeof o !== "object" || depth > 3) return undefined;
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === "number" && /(pause|hold|held)/i.test(k) && !/count|requests/i.test(k)) return v;
      const inner = find(v, depth + 1);
      if (inner !== undefined) return inner;
    }
    return undefined;
  };
  const parse = (s: string): unknown => { try { return JSON.parse(s); } catch { return undefined; } };
  const fromBody = responseBody ? find(parse(responseBody)) : undefined;
  if (fromBody !== undefined) return fromBody;
  for (const l of logLines) {
    if (!/failback/i.test(l)) continue;
    const v = find(parse(l));
    if (v !== undefined) return v;
  }
  return undefined;
}

/** Serials that appear with two different inventory lines across all inventories (issued twice). */
export function duplicateSerials(...inventories: InventoryEntry[][]): { serial: string; lines: string[] }[] {
  const bySerial = new Map<string, Set<string>>();
  for (const inv of inventories) {
    for (const e of inv) {
      const lines = bySerial.get(e.serial) ?? new Set<string>();
      lines.add(e.line);
      bySerial.set(e.serial, lines);
    }
  }
  return [...bySerial].filter(([, lines]) => lines.size > 1).map(([serial, lines]) => ({ serial, lines: [...lines] }));
}

/** "0x9-0xb, 0x100c" style ranges of a set of serials. */
export function serialRanges(serials: string[]): string {
  const nums = [...new Set(serials.map((s) => BigInt(s)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: string[] = [];
  for (let i = 0; i < nums.length;) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === (nums[j] as bigint) + 1n) j += 1;
    const a = `0x${(nums[i] as bigint).toString(16)}`;
    parts.push(i === j ? a : `${a}-0x${(nums[j] as bigint).toString(16)}`);
    i = j + 1;
  }
  return parts.length > 0 ? parts.join(", ") : "none";
}
