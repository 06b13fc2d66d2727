// "Every command in the docs is exercised": the shell commands in the fenced sh blocks of docs/*.md
// and vagrant/README.md. Every `puppet-ha ...` command is checked against the real CLI (commander
// program from buildProgram(): the subcommand exists, every flag is one it defines, value flags
// have a value, no stray arguments); every other command must be one of the standard tools the
// demo and e2e tests run. Also: relative links resolve, every guide is in the index, and every key
// of config/puppet-ha.example.yaml is in the config reference.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { buildProgram } from "../../../src/main.js";
import { repoRoot } from "../../helpers/cli.js";

const docsDir = join(repoRoot, "docs");
const files = [
  ...readdirSync(docsDir).filter((f) => f.endsWith(".md")).map((f) => join(docsDir, f)),
  join(repoRoot, "vagrant/README.md"),
  join(repoRoot, "puppet/modules/puppet_ha/README.md"),
];

/** Tools other than puppet-ha that the docs may use, with the subcommands allowed (undefined: any). */
const ALLOWED: Record<string, string[] | undefined> = {
  curl: undefined,
  systemctl: ["start", "stop", "restart", "reload", "status", "disable", "enable", "daemon-reload"],
  // docs/install.md: the package and the bundle by hand.
  npm: ["ci", "run"],
  dpkg: ["-i"],
  install: undefined,
  ln: ["-s"],
  useradd: undefined,
  promtool: ["check", "test"],
  journalctl: undefined,
  puppet: ["agent", "config"],
  puppetserver: ["ca"],
  vagrant: ["up"],
  cat: undefined,
};

interface Found { file: string; line: number; argv: string[] }

/** The shell code blocks of a Markdown file, with the line each starts on. */
function shellBlocks(text: string): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i] as string); i++) body.push((lines[i] as string).slice((open[1] as string).length));
    if (["sh", "bash", "shell"].includes(open[2] as string)) out.push({ line: start + 2, code: body.join("\n") });
    else assert.ok(!["console", "shell-session", ""].includes(open[2] as string) || !body.some((l) => /^\s*(\$ )?puppet-ha /.test(l)),
      `line ${start + 1}: commands belong in a sh block`);
  }
  return out;
}

/** Shell words of one line: quotes removed, $(...) substitutions returned as nested commands. */
function words(src: string, nested: string[]): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  const push = () => {
    if (word !== undefined) (commands[commands.length - 1] as string[]).push(word);
    word = undefined;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i] as string;
    if (c === "'") {
      const end = src.indexOf("'", i + 1);
      assert.ok(end > 0, `unterminated ' in ${src}`);
      word = (word ?? "") + src.slice(i + 1, end);
      i = end;
    } else if (c === "\"" || (c === "$" && src[i + 1] === "(")) {
      // Double quotes may hold $(...): collect the substitution as its own command.
      const close = c === "\"" ? "\"" : ")";
      let j = c === "\"" ? i + 1 : i + 2;
      let text = "";
      let depth = 0;
      for (; j < src.length; j++) {
        if (src[j] === "$" && src[j + 1] === "(") {
          const k = src.indexOf(")", j);
          nested.push(src.slice(j + 2, k));
          text += "$SUBST";
          j = k;
          continue;
        }
        if (src[j] === "(") depth++;
        if (src[j] === close && depth === 0) break;
        if (src[j] === ")") depth--;
        text += src[j] as string;
      }
      assert.ok(j < src.length, `unterminated ${c} in ${src}`);
      if (c === "$") nested.push(text);
      word = (word ?? "") + (c === "$" ? "$SUBST" : text);
      i = j;
    } else if (c === "#" && word === undefined) {
      break;
    } else if (/\s/.test(c)) {
      push();
    } else if (c === "|" || c === ";" || c === "&") {
      push();
      if (src[i + 1] === c) i++;
      commands.push([]);
    } else if (c === ">" || c === "<") {
      push();
      // A redirection's target is not an argument.
      while (src[i + 1] === ">" || src[i + 1] === "&" || /\s/.test(src[i + 1] ?? "")) i++;
      while (i + 1 < src.length && !/\s/.test(src[i + 1] as string)) i++;
    } else {
      word = (word ?? "") + c;
    }
  }
  push();
  return commands.filter((w) => w.length > 0);
}

function commandsIn(file: string): Found[] {
  const found: Found[] = [];
  for (const block of shellBlocks(readFileSync(file, "utf8"))) {
    const lines = block.code.replace(/\\\n\s*/g, " ").split("\n");
    lines.forEach((l, k) => {
      const nested: string[] = [];
      const all = words(l, nested);
      for (let n = 0; n < nested.length; n++) all.push(...words(nested[n] as string, nested));
      for (let argv of all) {
        while (argv[0] !== undefined && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[0])) argv = argv.slice(1);
        if (argv.length > 0) found.push({ file: relative(repoRoot, file), line: block.line + k, argv });
      }
    });
  }
  return found;
}

const found = files.flatMap(commandsIn);
const where = (f: Found) => `${f.file}:${f.line}: ${f.argv.join(" ")}`;

/** Problems of one `puppet-ha ...` argv against the commander program. */
function checkPuppetHa(program: Command, argv: string[]): string[] {
  let cmd = program;
  let i = 1;
  while (i < argv.length && !(argv[i] as string).startsWith("-") && (cmd === program || cmd.commands.length > 0)) {
    const sub = cmd.commands.find((c) => c.name() === argv[i] || c.aliases().includes(argv[i] as string));
    if (!sub) return [`"${argv.slice(0, i + 1).join(" ")}": no such subcommand (has: ${cmd.commands.map((c) => c.name()).join(", ") || "none"})`];
    cmd = sub;
    i++;
  }
  if (["-V", "--version", "-h", "--help"].includes(argv[i] as string) && argv.length === i + 1) return [];
  if (cmd.commands.length > 0) return [`"${argv.slice(0, i).join(" ")}" needs a subcommand (${cmd.commands.map((c) => c.name()).join(", ")})`];
  const problems: string[] = [];
  const options: readonly Option[] = cmd.options;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith("-")) {
      if (cmd.registeredArguments.length === 0) problems.push(`unexpected argument "${a}"`);
      continue;
    }
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    if (flag === "-h" || flag === "--help") continue;
    const opt = options.find((o) => o.long === flag || o.short === flag);
    if (!opt) {
      problems.push(`"${flag}" is not an option of "${cmd.name()}" (has: ${options.map((o) => o.long).join(", ")})`);
      continue;
    }
    if (opt.required && inline === undefined) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("-")) problems.push(`"${flag}" needs a value`);
      else if (opt.argChoices && !opt.argChoices.includes(value)) problems.push(`"${flag} ${value}": not one of ${opt.argChoices.join(", ")}`);
      i++;
    }
  }
  return problems;
}

test("the docs and the Vagrant README hold the puppet-ha commands an operator needs", () => {
  const ha = found.filter((f) => f.argv[0] === "puppet-ha");
  const subcommands = new Set(ha.map((f) => f.argv.slice(1).filter((a) => !a.startsWith("-")).slice(0, 2).join(" ")));
  for (const needed of ["config check", "check", "fleet twitch", "ca failover", "ca failback", "ca status", "backend drain"]) {
    assert.ok([...subcommands].some((s) => s.startsWith(needed)), `no "puppet-ha ${needed}" in a sh block: ${[...subcommands].join(", ")}`);
  }
  assert.ok(ha.length >= 10, `only ${ha.length} puppet-ha commands found`);
});

test("runbooks act through the admin CLI, not curl with the admin token", () => {
  const curlApi = found.filter((f) => f.file.startsWith("docs/") && f.argv[0] === "curl" && f.argv.some((a) => /\/api\/|Authorization: Bearer/.test(a)));
  assert.deepEqual(curlApi.map(where), []);
});

test("every puppet-ha command in the docs is one the CLI defines, with flags it defines", () => {
  const program = buildProgram();
  const problems = found.filter((f) => f.argv[0] === "puppet-ha").flatMap((f) => checkPuppetHa(program, f.argv).map((p) => `${where(f)}\n    ${p}`));
  assert.deepEqual(problems, []);
});

test("the checker itself refuses unknown subcommands, unknown flags, missing values and stray arguments", () => {
  const program = buildProgram();
  assert.match(checkPuppetHa(program, ["puppet-ha", "failover"]).join(), /no such subcommand/);
  assert.match(checkPuppetHa(program, ["puppet-ha", "check", "--uri", "x"]).join(), /"--uri" is not an option of "check"/);
  assert.match(checkPuppetHa(program, ["puppet-ha", "check", "--url"]).join(), /"--url" needs a value/);
  assert.match(checkPuppetHa(program, ["puppet-ha", "sync", "-c", "f", "now"]).join(), /unexpected argument "now"/);
  assert.match(checkPuppetHa(program, ["puppet-ha", "fleet"]).join(), /needs a subcommand/);
  assert.match(checkPuppetHa(program, ["puppet-ha", "fleet", "twitch", "--scheme", "ftp"]).join(), /not one of http, https/);
  assert.deepEqual(checkPuppetHa(program, ["puppet-ha", "fleet", "twitch", "-t", "f", "--no-progress", "--timeout=5s"]), []);
  assert.deepEqual(checkPuppetHa(program, ["puppet-ha", "--version"]), []);
  assert.deepEqual(checkPuppetHa(program, ["puppet-ha", "backend", "drain", "m1", "-c", "f"]), [], "NAME is an argument, not a subcommand");
  assert.match(checkPuppetHa(program, ["puppet-ha", "ca", "status", "now"]).join(), /unexpected argument "now"/);
  const nested: string[] = [];
  assert.deepEqual(words(`curl -s -H "Authorization: Bearer $(cat /etc/t)" http://x/api | grep ok # note`, nested), [["curl", "-s", "-H", "Authorization: Bearer $SUBST", "http://x/api"], ["grep", "ok"]]);
  assert.deepEqual(nested, ["cat /etc/t"]);
});

test("every other shell command in the docs is a standard tool the demo and e2e tests run", () => {
  const others = found.filter((f) => f.argv[0] !== "puppet-ha");
  const problems: string[] = [];
  for (const f of others) {
    const name = f.argv[0] as string;
    if (!(name in ALLOWED)) {
      problems.push(`${where(f)}\n    "${name}" is not one of ${Object.keys(ALLOWED).join(", ")}, puppet-ha`);
      continue;
    }
    const subs = ALLOWED[name];
    if (subs && !subs.includes(f.argv[1] as string)) problems.push(`${where(f)}\n    "${name} ${f.argv[1]}" is not one of ${subs.map((s) => `${name} ${s}`).join(", ")}`);
  }
  assert.deepEqual(problems, []);
  // The list the demo/e2e must exercise, printed for whoever maintains them.
  const depth: Record<string, number> = { curl: 1, cat: 1, journalctl: 1, puppetserver: 3 };
  const list = [...new Set(others.map((f) => f.argv.slice(0, depth[f.argv[0] as string] ?? 2).join(" ")))].sort();
  console.log(`non-puppet-ha commands in the docs: ${list.join(", ")}`);
});

test("relative links in the docs resolve, and the index links every guide", () => {
  const problems: string[] = [];
  for (const file of files) {
    for (const m of readFileSync(file, "utf8").matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1] as string;
      if (/^[a-z]+:/.test(target)) continue;
      if (!existsSync(join(dirname(file), target))) problems.push(`${relative(repoRoot, file)}: ${target}`);
    }
  }
  assert.deepEqual(problems, [], "broken links");
  const index = readFileSync(join(docsDir, "README.md"), "utf8");
  for (const f of readdirSync(docsDir).filter((x) => x.endsWith(".md") && x !== "README.md")) {
    assert.ok(index.includes(`](${f})`), `docs/README.md does not link ${f}`);
  }
});

test("the config reference names every key of config/puppet-ha.example.yaml", () => {
  const example = parseYaml(readFileSync(join(repoRoot, "config/puppet-ha.example.yaml"), "utf8")) as Record<string, unknown>;
  const reference = readFileSync(join(docsDir, "config-reference.md"), "utf8");
  const missing: string[] = [];
  const walk = (o: Record<string, unknown>, path: string[]) => {
    for (const [k, v] of Object.entries(o)) {
      const p = [...path, k];
      const leafOrMap = v !== null && typeof v === "object" && !Array.isArray(v) && !["workers", "cadirs", "rateLimit"].includes(k);
      if (leafOrMap) walk(v as Record<string, unknown>, p);
      else if (p.length > 1 && !reference.includes(`\`${p.slice(1).join(".")}`)) missing.push(p.join("."));
    }
  };
  walk(example, []);
  assert.deepEqual(missing, []);
  for (const section of Object.keys(example)) assert.match(reference, new RegExp(`^## ${section}\\b`, "m"), `no section ${section}`);
});
