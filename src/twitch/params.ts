// Trigger parameters: the strict grammar of the query string and the agent's argument vector.
// Pure code: nothing a caller sends reaches the command line unless it matched a grammar here.
import { BadParameterError } from "./errors.js";

export interface RunOptions {
  noop: boolean;
  tags: string[];
  environment: string | undefined;
  splay: boolean;
}

export interface TriggerRequest extends RunOptions {
  /** false = answer only when the run has finished (?async=false). */
  async: boolean;
}

/** Puppet's tag grammar (Puppet::Util::Tagging): starts with a letter, digit or `_`. */
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9_:.-]{0,127}$/;
/** Puppet's environment name grammar. */
export const ENVIRONMENT = /^[a-z0-9_]{1,64}$/;
export const MAX_TAGS = 32;
const KEYS = new Set(["async", "noop", "tags", "environment", "splay"]);

/** The fixed vector every run starts with, after the configured command prefix. */
export const AGENT_ARGS = ["agent", "--onetime", "--no-daemonize", "--detailed-exitcodes"] as const;

function parseBool(key: string, value: string): boolean {
  // `?noop` alone means true, like a flag.
  if (value === "" || value === "true" || value === "1" || value === "yes") return true;
  if (value === "false" || value === "0" || value === "no") return false;
  throw new BadParameterError(key, `${key} must be true or false`);
}

export function parseTags(value: string): string[] {
  const tags = value.split(",");
  if (tags.length > MAX_TAGS) throw new BadParameterError("tags", `at most ${MAX_TAGS} tags`);
  for (const t of tags) {
    if (!TAG.test(t)) throw new BadParameterError("tags", "tags must be a comma list of Puppet tag names");
  }
  return tags;
}

export function checkEnvironment(value: string): string {
  if (!ENVIRONMENT.test(value)) throw new BadParameterError("environment", "environment must match ^[a-z0-9_]+$");
  return value;
}

/** Parse a raw query string (without `?`): unknown or repeated keys and bad values throw. */
export function parseTriggerQuery(query: string): TriggerRequest {
  const req: TriggerRequest = { async: true, noop: false, tags: [], environment: undefined, splay: false };
  const seen = new Set<string>();
  for (const [key, value] of new URLSearchParams(query)) {
    if (!KEYS.has(key)) throw new BadParameterError(key, `unknown parameter "${key.slice(0, 40)}"`);
    if (seen.has(key)) throw new BadParameterError(key, `parameter "${key}" given twice`);
    seen.add(key);
    if (key === "async") req.async = parseBool(key, value);
    else if (key === "noop") req.noop = parseBool(key, value);
    else if (key === "splay") req.splay = parseBool(key, value);
    else if (key === "tags") req.tags = parseTags(value);
    else req.environment = checkEnvironment(value);
  }
  return req;
}

/** The whole argument vector: prefix, fixed vector, configured fixed args, then the options. */
export function agentArgv(command: readonly string[], extraArgs: readonly string[], opts: RunOptions): [string, string[]] {
  const [file, ...prefixArgs] = command;
  if (file === undefined) throw new Error("empty puppet command");
  const args = [...prefixArgs, ...AGENT_ARGS, ...extraArgs];
  if (opts.noop) args.push("--noop");
  if (opts.tags.length > 0) args.push("--tags", opts.tags.join(","));
  if (opts.environment !== undefined) args.push("--environment", opts.environment);
  return [file, args];
}

/** The settings whose values `puppet config print` gives us, in this order. */
export const SETTINGS = ["agent_catalog_run_lockfile", "agent_disabled_lockfile", "lastrunfile"] as const;

export function configPrintArgv(command: readonly string[], extraArgs: readonly string[]): [string, string[]] {
  const [file, ...prefixArgs] = command;
  if (file === undefined) throw new Error("empty puppet command");
  return [file, [...prefixArgs, "config", "print", ...SETTINGS, "--section", "agent", ...extraArgs]];
}

/** Parse `name = value` lines of `puppet config print a b c`. */
export function parseConfigPrint(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const m = /^([a-z_]+) = (.*)$/.exec(line.trim());
    if (m) out.set(m[1] as string, (m[2] as string).trim());
  }
  return out;
}

export function describeOptions(o: RunOptions): string {
  const parts = [];
  if (o.noop) parts.push("noop");
  if (o.tags.length) parts.push(`tags=${o.tags.join(",")}`);
  if (o.environment) parts.push(`environment=${o.environment}`);
  if (o.splay) parts.push("splay");
  return parts.join(" ") || "default";
}
