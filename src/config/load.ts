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
    const problems = result.error.issues.flatMap((i) => problemsOf(i, doc, lines));
    problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    throw new ConfigError(file, problems);
  }
  return deepFreeze(result.data);
}

function problemsOf(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter): ConfigProblem[] {
  const base = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => problem([...base, k], "unknown key", doc, lines, true));
  }
  let message = issue.message;
  if (issue.code === "invalid_type" && issue.input === undefined) message = "is required";
  return [problem(base, message, doc, lines, false)];
}
