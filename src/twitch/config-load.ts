// Loads twitch's config file with js-yaml (~2 MB of RSS), not the `yaml` package (~7.6 MB; issue 16's
// 55 MB goal on every node). `yaml` is loaded only when the file has a problem, so the messages and
// line numbers stay those `puppet-ha config check` gives.
import { CORE_SCHEMA, load } from "js-yaml";
import { configPath, deepFreeze, readConfigText } from "../config/config-file.js";
import { ConfigError } from "../errors.js";
import { checkTwitchConfig, type TwitchFileConfig } from "./config-check.js";

export { configPath };

/** The mapping of sections if js-yaml reads the text as one; undefined for anything else. */
function fastParse(text: string): Record<string, unknown> | undefined {
  let doc: unknown;
  try {
    doc = load(text, { schema: CORE_SCHEMA }) ?? {};
  } catch {
    return undefined;
  }
  return doc && typeof doc === "object" && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
}

/**
 * The twitch and log sections of the file, checked without zod (./config-check.ts). A file with
 * any problem is parsed again with the `yaml` package: ConfigError lists every problem with its line.
 */
export async function loadTwitchConfig(file: string): Promise<Readonly<TwitchFileConfig>> {
  const text = readConfigText(file);
  const fast = fastParse(text);
  const quick = fast && checkTwitchConfig(fast);
  if (quick?.ok) return deepFreeze(quick.config);
  const { parseYaml, problem } = await import("../config/yaml-doc.js");
  const { raw, doc, lines } = parseYaml(text, file);
  const r = checkTwitchConfig(raw);
  if (r.ok) return deepFreeze(r.config);
  const problems = r.problems.map((p) => problem(p.path, p.message, doc, lines, p.atKey === true));
  problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  throw new ConfigError(file, problems);
}
