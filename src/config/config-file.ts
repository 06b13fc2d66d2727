// Which config file to read, reading it, and the path and freezing helpers every loader shares,
// without any YAML parser: `puppet-ha twitch` parses its file with a smaller one (src/twitch/config-load.ts).
import { readFileSync } from "node:fs";
import { FileAccessError } from "../errors.js";

export const DEFAULT_CONFIG_FILE = "/etc/puppet-ha/puppet-ha.yaml";

/** The config file to use: `-c FILE`, else $PUPPET_HA_CONFIG, else the default path. */
export function configPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.PUPPET_HA_CONFIG ?? DEFAULT_CONFIG_FILE;
}

export function readConfigText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (cause) {
    throw new FileAccessError(file, "config file", { cause });
  }
}

export function formatPath(path: readonly (string | number)[]): string {
  return path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : s ? `${s}.${p}` : p), "");
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
