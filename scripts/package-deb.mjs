#!/usr/bin/env node
// `npm run package`: builds build/puppet-ha_VERSION-1_all.deb with dpkg-deb from the bundled
// command (scripts/bundle.mjs: ESM chunks in /usr/lib/puppet-ha, /usr/bin/puppet-ha a symlink to
// its entry), the systemd units (deploy/systemd), the example
// config, the man page puppet-ha(1) and the bash completion (scripts/cli-docs.ts), and the docs.
// The package depends on nodejs (>= 20.19) and bundles no runtime (docs/install.md says where to
// get one); its postinst creates the puppet-ha user and /var/lib/puppet-ha and starts nothing.
// Usage: node scripts/package-deb.mjs [OUTDIR]
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const outDir = process.argv[2] ?? join(root, "build");
const version = `${pkg.version}-1`;
const stage = join(outDir, "deb-root");
const deb = join(outDir, `puppet-ha_${version}_all.deb`);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status})`);
}
function put(rel, content, mode = 0o644) {
  const p = join(stage, rel);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
}
const read = (rel) => readFileSync(join(root, rel));

rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
run(process.execPath, [join(root, "scripts/bundle.mjs"), join(stage, "usr/bin/puppet-ha"), join(stage, "usr/lib/puppet-ha")]);
mkdirSync(join(stage, "usr/share/doc/puppet-ha"), { recursive: true });
renameSync(join(stage, "usr/lib/puppet-ha/NOTICES"), join(stage, "usr/share/doc/puppet-ha/NOTICES"));
const generated = join(outDir, "cli-docs");
run(process.execPath, ["--import", "tsx", join(root, "scripts/cli-docs.ts"), generated]);
put("usr/share/man/man1/puppet-ha.1.gz", gzipSync(readFileSync(join(generated, "puppet-ha.1")), { level: 9 }));
put("usr/share/bash-completion/completions/puppet-ha", readFileSync(join(generated, "puppet-ha.bash")));
for (const unit of readdirSync(join(root, "deploy/systemd"))) put(`lib/systemd/system/${unit}`, read(`deploy/systemd/${unit}`));
put("usr/share/doc/puppet-ha/examples/puppet-ha.example.yaml", read("config/puppet-ha.example.yaml"));
for (const page of readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md"))) put(`usr/share/doc/puppet-ha/docs/${page}`, read(`docs/${page}`));
put("usr/share/doc/puppet-ha/README.md", read("README.md"));
for (const f of readdirSync(join(root, "deploy/monitoring"))) put(`usr/share/doc/puppet-ha/monitoring/${f}`, read(`deploy/monitoring/${f}`));
put("usr/share/doc/puppet-ha/copyright", [
  "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
  "Upstream-Name: puppet-ha",
  "",
  "Files: *",
  "License: Apache-2.0",
  " On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.",
  " /usr/lib/puppet-ha bundles npm packages under their own licenses (MIT, ISC, BSD);",
  " their notices are in /usr/share/doc/puppet-ha/NOTICES.",
  "",
].join("\n"));

function du(dir) {
  let bytes = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    bytes += e.isDirectory() ? du(p) : lstatSync(p).size;
  }
  return bytes;
}
/** Debian's extended description: lines of at most 79 characters, each starting with a space. */
function wrap(text) {
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > 78) {
      lines.push(` ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, ` ${line}`];
}
put("DEBIAN/control", [
  "Package: puppet-ha",
  `Version: ${version}`,
  "Architecture: all",
  "Maintainer: puppet-ha maintainers <puppet-ha@example.invalid>",
  `Installed-Size: ${Math.ceil(du(stage) / 1024)}`,
  // Debian 12 ships Node.js 18: install 20.19+ from NodeSource (or a later distro) first.
  "Depends: nodejs (>= 20.19), adduser",
  "Recommends: rsync, openssh-client",
  "Suggests: puppetserver | openvox-server",
  "Section: admin",
  "Priority: optional",
  "Homepage: https://example.invalid/puppet-ha",
  `Description: ${pkg.description.split(":")[0]}`,
  ...wrap(`${pkg.description}. One command, puppet-ha, with systemd units for its proxy, sync and twitch parts. Nothing is started or enabled on install: see /usr/share/doc/puppet-ha/docs/install.md.`),
  "",
].join("\n"));
put("DEBIAN/postinst", read("deploy/debian/postinst"), 0o755);
put("DEBIAN/postrm", read("deploy/debian/postrm"), 0o755);
run("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", stage, deb]);
console.log(`package: ${deb}`);
