// The version puppet-ha reports (--version, /health, puppet_ha_build_info). The package build
// (scripts/bundle.mjs) replaces PUPPET_HA_BUILD_VERSION with the version at build time, so the
// installed single-file command reads no package.json; from a git checkout (tsx, dist/) it is
// read once from the repository's package.json.
import { readFileSync } from "node:fs";

declare const PUPPET_HA_BUILD_VERSION: string | undefined;

function checkoutVersion(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** Running as the single bundled file (scripts/bundle.mjs): no module of src/ exists beside it. */
export const BUNDLED: boolean = typeof PUPPET_HA_BUILD_VERSION === "string";

export const VERSION: string = typeof PUPPET_HA_BUILD_VERSION === "string" ? PUPPET_HA_BUILD_VERSION : checkoutVersion();
