// Splits a proxy CPU profile (`bench/proxy-cpu.ts --prof DIR`, i.e. node --cpu-prof) into the
// parts of the request path, in % of busy time and in µs per request when given the measured CPU:
//
//   node --import tsx bench/profile-split.ts /tmp/prof/v0.cpuprofile [--us 61.3] [--top 25]
//
// (bench/proxy-cpu.ts --prof prints this split for each build by itself.)
// Each sample goes to the part of the frame nearest its leaf that matches a rule below (so time in
// `emit` called by forward.ts counts as events, not as forwarding). Native socket writes are split
// by caller: under the upstream client (undici, or src/proxy/upstream-client/) it is the plaintext
// upstream write, otherwise TLS encryption plus the client write. "(program)" is native time V8 cannot attribute to a JS frame: mostly TLS reads
// (decryption) and libuv. Module loading at start-up is left out.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

type Rule = [part: string, test: (f: CallFrame) => boolean];

const url = (re: RegExp) => (f: CallFrame) => re.test(f.url);
const fn = (re: RegExp) => (f: CallFrame) => f.url === "" && re.test(f.functionName);

const UPSTREAM_CLIENT = /undici|\/proxy\/upstream-client\//;

/** Nearest-to-leaf match wins; the order only matters for a frame matching two rules. */
const RULES: Rule[] = [
  ["metrics", url(/\/health\/|prom-client/)],
  ["logging", url(/pino|sonic-boom|\/log\.js|access-log/)],
  ["identity headers", (f) => /\/proxy\/identity\.js/.test(f.url)],
  ["routing", url(/\/proxy\/(route|pool|admission)\.js/)],
  ["forwarding (forward.ts, server.ts)", url(/\/proxy\/(forward|server|upstream|respond)\.js/)],
  ["upstream client: undici or upstream-client/ (request, response parse)", url(UPSTREAM_CLIENT)],
  ["timers", url(/^node:(internal\/)?timers/)],
  ["HTTP server parse", url(/^node:(_http_server|_http_common|_http_incoming)/)],
  ["response writing", url(/^node:_http_outgoing/)],
  ["TLS (JS side)", url(/^node:_tls/)],
  ["streams, sockets, events", url(/^node:(net|events|stream|internal\/streams|internal\/stream_base_commons|internal\/process|buffer)/)],
  ["GC", fn(/^\(garbage collector\)$/)],
  ["native: TLS reads, libuv", fn(/^\(program\)$/)],
];

const WRITES = /^(writev|writeBuffer|writeLatin1String|writeUtf8String|writeAsciiString)$/;

/** The split of one profile as a Markdown table (µs per request when `us` is given), then the top functions. */
export function splitProfile(file: string, us?: number, top = 0): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stackOf = (id: number): CallFrame[] => {
    const out: CallFrame[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) out.push((byId.get(cur) as ProfileNode).callFrame);
    return out;
  };
  const parts = new Map<string, number>();
  const leaves = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    const stack = stackOf(p.samples[i] as number);
    const leaf = stack[0] as CallFrame;
    if (leaf.functionName === "(idle)" || stack.some((f) => f.url.startsWith("node:internal/modules"))) continue;
    busy += dt;
    const part = partOf(stack);
    parts.set(part, (parts.get(part) ?? 0) + dt);
    const key = `${leaf.functionName || "(anonymous)"} ${leaf.url.replace(/.*node_modules\//, "").replace(/.*\/dist\//, "")}:${leaf.lineNumber + 1}`;
    leaves.set(key, (leaves.get(key) ?? 0) + dt);
  }
  let out = `| part | share of busy CPU |${us === undefined ? "" : " µs/req |"}\n|---|---|${us === undefined ? "" : "---|"}\n`;
  for (const [part, t] of [...parts].sort((a, b) => b[1] - a[1])) {
    const share = t / busy;
    out += `| ${part} | ${(100 * share).toFixed(1)}% |${us === undefined ? "" : ` ${(share * us).toFixed(1)} |`}\n`;
  }
  out += `\nbusy ${(busy / 1e6).toFixed(2)} s of CPU in the profile (start-up excluded)\n`;
  if (top > 0) {
    out += `\ntop ${top} functions by self time:\n`;
    for (const [k, t] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, top)) out += `${((100 * t) / busy).toFixed(1).padStart(5)}% ${k}\n`;
  }
  return out;
}

function partOf(stack: readonly CallFrame[]): string {
  const leaf = stack[0] as CallFrame;
  if (leaf.url === "" && WRITES.test(leaf.functionName)) {
    // The writer nearest the leaf: the upstream client's request writer, or Node's HTTP response
    // (which runs inside the upstream client's completion callback, so "the upstream client
    // somewhere on the stack" is not enough).
    const writer = stack.find((f) => UPSTREAM_CLIENT.test(f.url) || /^node:_http_(outgoing|server)/.test(f.url));
    return writer && UPSTREAM_CLIENT.test(writer.url) ? "upstream socket write (syscall)" : "TLS encrypt + client socket write";
  }
  for (const f of stack) {
    const rule = RULES.find(([, test]) => test(f));
    if (rule) return rule[0];
  }
  return "other";
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { us: { type: "string" }, top: { type: "string", default: "0" } } });
  const file = positionals[0];
  if (!file) throw new Error("usage: profile-split.ts FILE.cpuprofile [--us CPU_US_PER_REQUEST] [--top N]");
  process.stdout.write(splitProfile(file, values.us === undefined ? undefined : Number(values.us), Number(values.top)));
}
