// The real Debian puppet with every directory it writes isolated under a temp dir, for the tests
// of the puppet_ha module and the Vagrant manifests (never /etc/puppet or /var/lib/puppet).
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { repoRoot } from "../../helpers/cli.js";

export const PUPPET = "/usr/bin/puppet";
export const moduleDir = join(repoRoot, "puppet/modules/puppet_ha");

export interface IsolatedPuppet {
  dir: string;
  run(args: string[]): ReturnType<typeof execa>;
  /** puppet apply --detailed-exitcodes of a manifest text with the repo's modules. */
  apply(manifest: string, extra?: string[], facts?: Record<string, string>): ReturnType<typeof execa>;
  cleanup(): void;
}

export function isolatedPuppet(prefix: string): IsolatedPuppet {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, "hiera.yaml"), "---\nversion: 5\n");
  const iso = ["confdir", "vardir", "codedir", "logdir", "rundir", "ssldir", "publicdir"].flatMap((d) => [`--${d}`, join(dir, "puppet", d)]);
  const run = (args: string[], env: Record<string, string> = {}) =>
    execa(PUPPET, [...args, ...iso, "--hiera_config", join(dir, "hiera.yaml"), "--color", "false"], { reject: false, cwd: dir, env });
  let n = 0;
  return {
    dir,
    run: (args) => run(args),
    apply(manifest, extra = [], facts = {}) {
      const file = join(dir, `site-${++n}.pp`);
      writeFileSync(file, manifest);
      const env = Object.fromEntries(Object.entries(facts).map(([k, v]) => [`FACTER_${k}`, v]));
      return run(["apply", "--detailed-exitcodes", "--modulepath", join(repoRoot, "puppet/modules"), ...extra, file], env);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Puppet's messages without facter's container noise. */
export const messages = (s: unknown) => String(s).split("\n").filter((l) => !/Facter: Permission denied/.test(l)).join("\n");

/** Every file under dir (relative to the module) with one of the extensions. */
export function filesIn(dir: string, ext: string): string[] {
  let out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out = out.concat(filesIn(p, ext));
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}
