// Node filters of a fleet request, parsed and evaluated as pure functions: certname globs, facts
// (`os.family=Debian`, `role=~^web`, `!=`, `!~`), classes (names in classes.txt) and environment.
// Every part given must match (AND); within certname globs any one suffices (OR).
import { globToRegExp } from "../auth.js";

/** The filter as it travels in a request: strings, parsed on both sides. */
export interface WireFilter {
  certname?: string[];
  facts?: string[];
  classes?: string[];
  environment?: string;
}

export type FactTest = { path: string[]; op: "=" | "!=" | "=~" | "!~"; value: string; re: RegExp | undefined };

export interface Filter {
  certname: RegExp[];
  facts: FactTest[];
  classes: string[];
  environment: string | undefined;
}

export class FilterError extends Error {}

export const MAX_FILTER_TERMS = 10_000;
const FACT = /^([A-Za-z0-9_][A-Za-z0-9_.-]*?)(=~|!~|!=|=)(.*)$/;
const CLASS = /^(::)?[a-z][a-z0-9_]*(::[a-z][a-z0-9_]*)*$/;
const GLOB = /^[A-Za-z0-9_.*?-]{1,253}$/;

/** `os.family=Debian` or `role=~^web`: the fact path is dot-separated into nested keys. */
export function parseFact(text: string): FactTest {
  const m = FACT.exec(text);
  if (!m) throw new FilterError(`fact filter "${text.slice(0, 80)}" is not FACT=VALUE, FACT!=VALUE, FACT=~REGEX or FACT!~REGEX`);
  const op = m[2] as FactTest["op"];
  const value = m[3] as string;
  let re: RegExp | undefined;
  if (op === "=~" || op === "!~") {
    if (value.length > 200) throw new FilterError(`fact filter "${text.slice(0, 80)}": the regex is longer than 200 characters`);
    try {
      re = new RegExp(value);
    } catch (err) {
      throw new FilterError(`fact filter "${text.slice(0, 80)}": bad regex (${(err as Error).message})`);
    }
  }
  return { path: (m[1] as string).split("."), op, value, re };
}

export function parseFilter(w: WireFilter): Filter {
  const list = (v: unknown, what: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw new FilterError(`filter ${what} must be a list of strings`);
    if (v.length > MAX_FILTER_TERMS) throw new FilterError(`filter ${what}: more than ${MAX_FILTER_TERMS} terms`);
    return v;
  };
  const certname = list(w.certname, "certname").map((g) => {
    if (!GLOB.test(g)) throw new FilterError(`certname filter "${g.slice(0, 80)}" is not a certname glob`);
    return globToRegExp(g);
  });
  const classes = list(w.classes, "classes").map((c) => {
    if (!CLASS.test(c)) throw new FilterError(`class filter "${c.slice(0, 80)}" is not a Puppet class name`);
    return c.replace(/^::/, "");
  });
  if (w.environment !== undefined && (typeof w.environment !== "string" || !/^[a-z0-9_]{1,64}$/.test(w.environment))) {
    throw new FilterError("filter environment must match ^[a-z0-9_]+$");
  }
  return { certname, facts: list(w.facts, "facts").map(parseFact), classes, environment: w.environment };
}

/** What a node knows about itself when it evaluates a filter. */
export interface NodeFacts {
  certname: string;
  facts: Record<string, unknown>;
  classes: ReadonlySet<string>;
  environment: string | undefined;
}

function factValue(facts: Record<string, unknown>, path: readonly string[]): string | undefined {
  let v: unknown = facts;
  for (const key of path) {
    if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
}

export function factMatches(t: FactTest, facts: Record<string, unknown>): boolean {
  const v = factValue(facts, t.path);
  switch (t.op) {
    case "=": return v === t.value;
    case "!=": return v !== t.value;
    case "=~": return v !== undefined && (t.re as RegExp).test(v);
    case "!~": return v === undefined || !(t.re as RegExp).test(v);
  }
}

/** Undefined when the node matches, else the first reason it does not. */
export function mismatch(f: Filter, n: NodeFacts): string | undefined {
  if (f.certname.length > 0 && !f.certname.some((re) => re.test(n.certname))) return "certname";
  for (const t of f.facts) if (!factMatches(t, n.facts)) return `fact ${t.path.join(".")}`;
  for (const c of f.classes) if (!n.classes.has(c)) return `class ${c}`;
  if (f.environment !== undefined && f.environment !== n.environment) return "environment";
  return undefined;
}
