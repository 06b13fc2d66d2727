// twitch's own logger (src/twitch/log.ts) writes the lines the project's pino logger writes: same
// fields in the same order, levels as words, secrets redacted, errors serialized, text form.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../../../src/log.js";
import { createTwitchLogger, type Logger } from "../../../src/twitch/log.js";

function capture(): { out: NodeJS.WritableStream; lines: () => string[] } {
  let text = "";
  return { out: { write: (s: string) => (text += s) } as unknown as NodeJS.WritableStream, lines: () => text.split("\n").filter(Boolean) };
}

function script(log: Logger): void {
  const l = log.child({ part: "twitch" });
  l.info({ run: "r1", caller: "admin@127.0.0.1", options: { noop: true, tags: ["a"] } }, "puppet run triggered");
  l.debug({ hidden: true }, "below the level");
  l.warn("reloaded the token and TLS files");
  l.info({ token: "s3cret", headers: { authorization: "Bearer x" }, nested: { password: "p" } }, "secrets");
  l.child({ request: "abc" }).error({ reason: "bad-signature" }, "fleet request dropped");
  l.info({}, "no fields");
}

const withoutTime = (line: string) => line.replace(/"time":\d+,/, "");

test("the same lines as pino's logger, time aside", () => {
  const a = capture();
  const b = capture();
  script(createLogger({ level: "info", format: "json" }, a.out, { journald: false }));
  script(createTwitchLogger({ level: "info", format: "json" }, b.out, { journald: false }));
  assert.equal(b.lines().length, 5);
  assert.deepEqual(b.lines().map(withoutTime), a.lines().map(withoutTime));
  assert.ok(!b.lines().join("\n").includes("s3cret") && !b.lines().join("\n").includes("Bearer"));
});

test("errors as pino serializes them; text form and journald priorities as the project's logger", () => {
  const err = Object.assign(new Error("spawn puppet ENOENT"), { code: "ENOENT" });
  const a = capture();
  const b = capture();
  createLogger({ level: "info", format: "json" }, a.out, { journald: false }).error({ err }, "failed");
  createTwitchLogger({ level: "info", format: "json" }, b.out, { journald: false }).error({ err }, "failed");
  const [pa, pb] = [JSON.parse(a.lines()[0] as string) as { err: unknown }, JSON.parse(b.lines()[0] as string) as { err: unknown }];
  assert.deepEqual(pb.err, pa.err);
  const t = capture();
  createTwitchLogger({ level: "info", format: "text" }, t.out, { journald: true }).child({ part: "twitch" }).warn({ n: 1 }, "hello");
  assert.match(t.lines()[0] as string, /^<4>\d{4}-\d\d-\d\dT[\d:.]+Z WARN \[twitch\] hello n=1$/);
  const silent = capture();
  createTwitchLogger({ level: "silent", format: "json" }, silent.out).fatal({}, "x");
  assert.deepEqual(silent.lines(), []);
});
