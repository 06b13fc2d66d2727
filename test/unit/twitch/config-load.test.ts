// `puppet-ha twitch` reads its config with js-yaml and loads the `yaml` package only for a file with
// a problem (src/twitch/config-load.ts): a good file gives what the `yaml` package would give, and a
// bad one the same messages with line numbers as before.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ConfigError } from "../../../src/errors.js";
import { checkTwitchConfig } from "../../../src/twitch/config-check.js";
import { loadTwitchConfig } from "../../../src/twitch/config-load.js";

const dir = mkdtempSync(join(tmpdir(), "twitch-config-load-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string) => {
  const f = join(dir, `c${n++}.yaml`);
  writeFileSync(f, text);
  return f;
};

const GOOD = [
  readFileSync(new URL("../../../config/puppet-ha.example.yaml", import.meta.url), "utf8"),
  "",
  "# only a comment\n",
  `twitch:\n  listen: "127.0.0.1:0"\n  puppet: { command: ["/opt/x/puppet"] }\nlog: { level: silent }\n`,
  "twitch:\n  listen: 127.0.0.1:2023\n  rateLimit: { max: 0x10, per: 1m }\n  puppet:\n    args: ['--server', \"puppet\\u0041\", --noop]\n    timeout: 5m\n",
  "twitch:\n  rateLimit:\n    max: 0o17\n  allowedHosts:\n    - web1\n    - 'yes'\n    - null\n",
  "---\ntwitch: &t\n  splayMax: 0s\nlog:\n  format: text\n...\n",
];

test("good files: the same config as the `yaml` package gives", async () => {
  for (const text of GOOD) {
    const raw = (parse(text) ?? {}) as Record<string, unknown>;
    const expected = checkTwitchConfig(raw);
    if (expected.ok) assert.deepEqual(await loadTwitchConfig(file(text)), expected.config, text);
    else await assert.rejects(loadTwitchConfig(file(text)), ConfigError, text);
  }
});

async function problems(text: string): Promise<string[]> {
  const err = await loadTwitchConfig(file(text)).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ConfigError, `a ConfigError for ${JSON.stringify(text)}`);
  return err.problems.map((p) => `${p.line ?? "-"} ${p.path}: ${p.message}`);
}

test("a file with problems: every problem with its key path and line, as `config check` reports them", async () => {
  assert.deepEqual(await problems("twitch:\n  listen: 10.0.0.1:2023\nlog:\n  level: debug\n"), [
    '2 twitch.listen: without auth (auth.tokenFile or auth.tls) twitch only binds loopback, not "10.0.0.1"',
  ]);
  assert.deepEqual(await problems("twitch:\n  listen: 127.0.0.1:1\n  bogus: 1\nlog:\n  level: loud\n"), [
    "3 twitch.bogus: unknown key",
    "5 log.level: must be one of fatal, error, warn, info, debug, trace, silent",
  ]);
  assert.deepEqual(await problems("twitch:\n  rateLimit:\n    max: 1_000\n"), ["3 twitch.rateLimit.max: must be a whole number of at least 1"],
    "1_000 is a string in YAML 1.2 core");
});

test("YAML that does not parse, duplicate keys, several documents or a list: the `yaml` package's messages", async () => {
  const [syntax] = await problems("twitch:\n  listen: [127.0.0.1:0\n");
  assert.match(syntax ?? "", /^\d+ : /);
  assert.match((await problems("twitch: {}\ntwitch: {}\n"))[0] ?? "", /^\d+ : Map keys must be unique/);
  assert.match((await problems("twitch: {}\n---\nlog: {}\n"))[0] ?? "", /multiple documents/i);
  assert.deepEqual(await problems("- twitch\n"), ["- : the config must be a YAML mapping of sections"]);
});
