#!/usr/bin/env node
// Bundles the puppet-ha command into one ESM file (build/puppet-ha) for the Debian package and
// hand installs: every npm dependency inside, no node_modules, no package.json read at run time
// (the version is injected here). Needs a Node.js >= 20.19 runtime; bundles none.
// Usage: node scripts/bundle.mjs [OUTFILE]
import { build } from "esbuild";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const outfile = process.argv[2] ?? join(root, "build", "puppet-ha");

await build({
  entryPoints: [join(root, "src", "cli.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20.19",
  define: { PUPPET_HA_BUILD_VERSION: JSON.stringify(pkg.version) },
  // CommonJS dependencies (express and friends) call require() on Node built-ins.
  banner: {
    js: [
      "#!/usr/bin/env node",
      `// puppet-ha ${pkg.version} (${pkg.license}), bundled with its npm dependencies; needs Node.js >= 20.19.`,
      'import { createRequire as __puppetHaCreateRequire } from "node:module";',
      "const require = __puppetHaCreateRequire(import.meta.url);",
    ].join("\n"),
  },
  legalComments: "eof",
  logLevel: "warning",
});
chmodSync(outfile, 0o755);
console.log(`bundle: ${outfile} (puppet-ha ${pkg.version})`);
