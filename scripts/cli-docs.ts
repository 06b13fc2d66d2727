// Generates the man page puppet-ha(1) and the bash completion from the commands' own definitions
// (src/main.ts buildProgram), so that both always match `puppet-ha --help`.
// Usage: node --import tsx scripts/cli-docs.ts OUTDIR   (writes OUTDIR/puppet-ha.1, OUTDIR/puppet-ha.bash)
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { buildProgram } from "../src/main.js";
import { VERSION } from "../src/version.js";

/** Every runnable command with its full name ("fleet twitch"), depth first. */
function walk(cmd: Command, prefix: string[] = []): { path: string[]; cmd: Command }[] {
  return cmd.commands.flatMap((c) => {
    const path = [...prefix, c.name()];
    return c.commands.length > 0 ? walk(c, path) : [{ path, cmd: c }];
  });
}

/** roff-escapes text: backslashes, and a leading dot or quote that would start a request. */
const roff = (s: string) => s.replace(/\\/g, "\\e").replace(/-/g, "\\-").replace(/^([.'])/gm, "\\&$1");

export function manPage(program: Command, version: string): string {
  const out = [
    `.TH PUPPET-HA 1 "" "puppet-ha ${version}" "User Commands"`,
    ".SH NAME",
    `puppet-ha \\- ${roff(program.description())}`,
    ".SH SYNOPSIS",
    ".B puppet-ha",
    ".I command",
    "[options]",
    ".SH DESCRIPTION",
    "One command with a subcommand per part. Every subcommand has \\fB\\-\\-help\\fR. Exit codes: 0 success,",
    "1 failure, 2 bad input (usage or config); \\fBcheck\\fR uses the monitoring plugin codes 0\\-3.",
    "The default config file is \\fI/etc/puppet\\-ha/puppet\\-ha.yaml\\fR.",
    ".SH COMMANDS",
  ];
  for (const { path, cmd } of walk(program)) {
    const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)).join(" ");
    out.push(".TP", `.B puppet\\-ha ${roff(path.join(" "))}${args ? ` ${roff(args)}` : ""}`, roff(cmd.description()));
    for (const o of cmd.options) out.push(".RS", ".TP", `.B ${roff(o.flags)}`, roff(o.description), ".RE");
  }
  out.push(
    ".SH FILES",
    ".TP", ".I /etc/puppet\\-ha/puppet\\-ha.yaml", "the config file (example: /usr/share/doc/puppet\\-ha/examples/puppet\\-ha.example.yaml)",
    ".TP", ".I /var/lib/puppet\\-ha", "state: the arbiter's epoch and active CA, sync backups",
    ".SH SEE ALSO",
    "systemctl(1), journalctl(1); the guides in /usr/share/doc/puppet\\-ha/",
    "",
  );
  return out.join("\n");
}

export function bashCompletion(program: Command): string {
  const top = program.commands.map((c) => c.name());
  const cases = program.commands.map((c) => {
    const words = c.commands.length > 0 ? c.commands.map((s) => s.name()) : [];
    const opts = (c.commands.length > 0 ? c.commands.flatMap((s) => s.options) : c.options).map((o) => o.long ?? "");
    const all = [...words, ...opts.filter(Boolean), "--help"];
    return `    ${c.name()}) COMPREPLY=($(compgen -W "${[...new Set(all)].join(" ")}" -- "$cur")) ;;`;
  });
  return [
    "# bash completion for puppet-ha (generated from its command definitions by scripts/cli-docs.ts)",
    "_puppet_ha() {",
    '  local cur prev',
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  case "$prev" in',
    "    -c|--config|--token-file|--state-dir) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;",
    "  esac",
    "  if [ \"$COMP_CWORD\" -eq 1 ]; then",
    `    COMPREPLY=($(compgen -W "${top.join(" ")} --help --version" -- "$cur")); return`,
    "  fi",
    '  case "${COMP_WORDS[1]}" in',
    ...cases,
    "  esac",
    "}",
    "complete -F _puppet_ha puppet-ha",
    "",
  ].join("\n");
}

const outDir = process.argv[2];
if (outDir) {
  mkdirSync(outDir, { recursive: true });
  const program = buildProgram();
  writeFileSync(join(outDir, "puppet-ha.1"), manPage(program, VERSION));
  writeFileSync(join(outDir, "puppet-ha.bash"), bashCompletion(program));
}
