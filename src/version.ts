// The version puppet-ha reports (--version, /health, puppet_ha_build_info). The package build
// (scripts/bundle.mjs) replaces PUPPET_HA_BUILD_VERSION with the version at build time, so the
// installed bundle reads no package.json; from a git checkout (tsx, dist/) it is read once from
// the repository's package.json.
import { readFileSync } from "node:fs";

declare const PUPPET_HA_BUILD_VERSION: string | undefined;
declare const PUPPET_HA_BUNDLE_ENTRY: string | undefined;

function checkoutVersion(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** Running from the bundle (scripts/bundle.mjs): chunks with no module of src/ beside them. */
export const BUNDLED: boolean = typeof PUPPET_HA_BUILD_VERSION === "string";

export const VERSION: string = typeof PUPPET_HA_BUILD_VERSION === "string" ? PUPPET_HA_BUILD_VERSION : checkoutVersion();

/**
 * The bundle's entry file (src/cli.ts), which the scan worker thread and the demo run. Every chunk
 * sits in one directory, so it is beside this module's own chunk whichever chunk that is.
 */
export function bundleEntry(): URL {
  if (typeof PUPPET_HA_BUNDLE_ENTRY !== "string") throw new Error("bundleEntry: not running from the bundle");
  return new URL(PUPPET_HA_BUNDLE_ENTRY, import.meta.url);
}
