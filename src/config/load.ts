// Loads the YAML config once: read, parse, validate every key, report all problems with key path
// and line, and return a deeply frozen typed object.
import type { Document, LineCounter } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigProblem } from "../errors.js";
import { configSchema, type Config } from "./schema.js";
import { configPath, DEFAULT_CONFIG_FILE, deepFreeze, formatPath, parseYaml, problem, readConfigText } from "./yaml-doc.js";

export { configPath, DEFAULT_CONFIG_FILE, formatPath };

export function loadConfigFile(file: string): Readonly<Config> {
  return parseConfig(readConfigText(file), file);
}

export function parseConfig(text: string, file = "<config>"): Readonly<Config> {
  const { raw, doc, lines } = parseYaml(text, file);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.flatMap((i) => problemsOf(i, raw, doc, lines));
    problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    throw new ConfigError(file, problems);
  }
  return deepFreeze(result.data);
}

function problemsOf(issue: z.core.$ZodIssue, raw: unknown, doc: Document, lines: LineCounter): ConfigProblem[] {
  const base = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => problem([...base, k], "unknown key", doc, lines, true));
  }
  let message = issue.message;
  if (issue.code === "invalid_type") {
    // zod does not say whether the key was absent or held a value of another type: the file does.
    // The key is named by the problem's path (printed before the message).
    const given = valueAt(raw, base);
    message = given.present ? `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}, not ${describe(given.value)}` : "is required";
  }
  return [problem(base, message, doc, lines, false)];
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string", number: "a number", int: "a whole number", boolean: "true or false", array: "a list",
  object: "a mapping (key: value)", record: "a mapping (key: value)", map: "a mapping (key: value)",
};

/** The value at a key path of the parsed YAML, and whether the key is there at all. */
function valueAt(raw: unknown, path: (string | number)[]): { present: boolean; value?: unknown } {
  let v = raw;
  for (const seg of path) {
    if (v === null || typeof v !== "object" || !Object.hasOwn(v, seg)) return { present: false };
    v = (v as Record<string | number, unknown>)[seg];
  }
  return { present: true, value: v };
}

/** What a YAML value is, for an error message: its type and, for scalars, the value. */
function describe(v: unknown): string {
  if (v === null || v === undefined) return "an empty value";
  if (Array.isArray(v)) return `a list (${v.length} item${v.length === 1 ? "" : "s"})`;
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === "number" || typeof v === "boolean") return `the ${typeof v} ${v}`;
  return `a ${typeof v}`;
}
