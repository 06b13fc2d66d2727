// The YAML side of loading a config file, without any schema: which file, parse with line numbers, find the
// line of a key path for a problem, freeze the result. Used by ./load.ts (zod, every section) and
// by twitch's own loader (src/twitch/config-load.ts, only when its fast parse finds a problem), which must not load zod.
import { isMap, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from "yaml";
import { ConfigError, type ConfigProblem } from "../errors.js";
import { formatPath } from "./config-file.js";

export { configPath, DEFAULT_CONFIG_FILE, deepFreeze, formatPath, readConfigText } from "./config-file.js";

/** The file's mapping of sections; throws ConfigError for YAML errors or a non-mapping. */
export function parseYaml(text: string, file: string): { raw: Record<string, unknown>; doc: Document; lines: LineCounter } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({
      path: "",
      message: e.message.split("\n")[0] ?? e.message,
      line: lines.linePos(e.pos[0]).line,
    })));
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: "", message: "the config must be a YAML mapping of sections" }]);
  }
  return { raw: raw as Record<string, unknown>, doc, lines };
}

export function problem(path: (string | number)[], message: string, doc: Document, lines: LineCounter, atKey: boolean): ConfigProblem {
  const node = findNode(doc, path, atKey);
  const line = node?.range ? lines.linePos(node.range[0]).line : undefined;
  return { path: formatPath(path), message, ...(line !== undefined ? { line } : {}) };
}

/** The YAML node at a key path (the key itself when atKey), or the nearest existing parent. */
function findNode(doc: Document, path: (string | number)[], atKey: boolean): YamlNode | undefined {
  let node: unknown = doc.contents;
  let found: YamlNode | undefined = doc.contents ?? undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === seg);
      if (!pair) return found;
      if (last && atKey) return pair.key as YamlNode;
      node = pair.value;
      found = (pair.value as YamlNode | null) ?? (pair.key as YamlNode);
    } else if (isSeq(node) && typeof seg === "number") {
      node = node.items[seg];
      if (!node) return found;
      found = node as YamlNode;
    } else {
      return found;
    }
  }
  return found;
}
