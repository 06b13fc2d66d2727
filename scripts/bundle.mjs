#!/usr/bin/env node
// Bundles the puppet-ha command for the Debian package and hand installs: ESM chunks with every npm
// dependency inside (no node_modules, no package.json read at run time: the version is injected
// here) in LIBDIR, and OUTFILE a relative symlink to LIBDIR/puppet-ha.mjs. Split, not one file, so
// that `puppet-ha twitch` on every node loads only its own chunks (docs/install.md: the footprint).
// Needs a Node.js >= 20.19 runtime; bundles none.
// Usage: node scripts/bundle.mjs [OUTFILE [LIBDIR]]   (defaults build/puppet-ha, OUTFILE.lib)
import { build } from "esbuild";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const outfile = resolve(process.argv[2] ?? join(root, "build", "puppet-ha"));
const libDir = resolve(process.argv[3] ?? `${outfile}.lib`);
/** The entry chunk's name; src/version.ts finds it beside its own chunk (every chunk is in LIBDIR). */
const ENTRY = "puppet-ha.mjs";

/**
 * A dynamic import() of a CommonJS package (the NATS client, yaml) gets its own chunk, which
 * esbuild gives only a default export: `const { connect } = await import(...)` would be undefined.
 * Such imports go through a small ESM facade that re-exports the package's properties by name.
 */
const requireFromRoot = createRequire(join(root, "package.json"));
const cjsFacades = {
  name: "cjs-dynamic-import-facades",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.kind !== "dynamic-import" || args.path.startsWith("node:")) return undefined;
      let file;
      try {
        file = requireFromRoot.resolve(args.path);
      } catch {
        return undefined; // an ES-module-only package: its chunk keeps its named exports
      }
      if (file.endsWith(".mjs") || JSON.parse(readFileSync(packageJsonOf(file), "utf8")).type === "module") return undefined;
      return { path: args.path, namespace: "cjs-facade" };
    });
    b.onLoad({ filter: /.*/, namespace: "cjs-facade" }, (args) => {
      const names = Object.keys(requireFromRoot(args.path)).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== "default");
      const spec = JSON.stringify(args.path);
      return {
        contents: `import * as m from ${spec};\n${names.map((n) => `export const ${n} = m.${n};`).join("\n")}\nexport default m;\n`,
        resolveDir: root,
        loader: "js",
      };
    });
  },
};
function packageJsonOf(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return join(dir, "package.json");
  }
  throw new Error(`no package.json above ${file}`);
}

rmSync(libDir, { recursive: true, force: true });
mkdirSync(libDir, { recursive: true });
await build({
  entryPoints: { "puppet-ha": join(root, "src", "cli.ts") },
  outdir: libDir,
  outExtension: { ".js": ".mjs" },
  chunkNames: "[name]-[hash]",
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20.19",
  define: { PUPPET_HA_BUILD_VERSION: JSON.stringify(pkg.version), PUPPET_HA_BUNDLE_ENTRY: JSON.stringify(`./${ENTRY}`) },
  // CommonJS dependencies (express and friends) call require() on Node built-ins.
  banner: {
    js: [
      `// puppet-ha ${pkg.version} (${pkg.license}), bundled with its npm dependencies; needs Node.js >= 20.19.`,
      'import { createRequire as __puppetHaCreateRequire } from "node:module";',
      "const require = __puppetHaCreateRequire(import.meta.url);",
    ].join("\n"),
  },
  // The npm packages' licence notices: one file, installed under /usr/share/doc (package-deb.mjs).
  legalComments: "external",
  plugins: [cjsFacades],
  logLevel: "warning",
});

// One notices file instead of one per chunk; every chunk pure ASCII so that V8 keeps its source
// at one byte per character (esbuild escapes strings but not comments or regular expressions).
const notices = new Set();
for (const f of readdirSync(libDir)) {
  const p = join(libDir, f);
  if (f.endsWith(".LEGAL.txt")) {
    for (const block of readFileSync(p, "utf8").split(/\n(?=\S)/)) if (block.trim()) notices.add(block.trimEnd());
    rmSync(p);
    continue;
  }
  const text = readFileSync(p, "utf8");
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  writeFileSync(p, f === ENTRY ? `#!/usr/bin/env node\n${ascii}` : ascii);
  chmodSync(p, f === ENTRY ? 0o755 : 0o644);
}
writeFileSync(join(libDir, "NOTICES"), `${[...notices].join("\n\n")}\n`);
if (existsSync(outfile) || isLink(outfile)) rmSync(outfile, { recursive: true, force: true });
mkdirSync(dirname(outfile), { recursive: true });
symlinkSync(relative(dirname(outfile), join(libDir, ENTRY)), outfile);
console.log(`bundle: ${outfile} -> ${join(libDir, ENTRY)} (puppet-ha ${pkg.version})`);

function isLink(p) {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
