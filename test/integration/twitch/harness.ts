// Starts an in-process twitch on 127.0.0.1:0 against a fake puppet, with a log captured in
// memory and injectable clock, random and sleep; everything is torn down after the test.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { TestContext } from "node:test";
import { createLogger } from "../../../src/log.js";
import { twitchSection } from "../../../src/twitch/config.js";
import { startTwitch, type RunnerOverrides, type TwitchServer } from "../../../src/twitch/server.js";
import { fakePuppet, type FakePuppet } from "./fake-puppet.js";

export interface Harness extends TwitchServer {
  fake: FakePuppet;
  logs: () => Record<string, unknown>[];
}

export async function startHarness(
  t: TestContext,
  section: Record<string, unknown> = {},
  overrides: RunnerOverrides & { now?: () => number } = {},
): Promise<Harness> {
  const fake = fakePuppet(t);
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString("utf8").split("\n").filter((l) => l !== ""));
      cb();
    },
  });
  const log = createLogger({ level: "info", format: "json" }, out);
  const puppet = (section.puppet ?? {}) as Record<string, unknown>;
  const cfg = twitchSection.parse({
    listen: "127.0.0.1:0",
    rateLimit: { max: 1000, per: "1m" },
    ...section,
    puppet: { command: [fake.bin], ...puppet },
  });
  const server = await startTwitch(cfg, log, overrides);
  t.after(async () => {
    fake.release();
    await server.runner.idle();
    await server.close();
  });
  return { ...server, fake, logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** A token file for a test (mode 0600): the `auth` section to configure and the header to send. */
export function testToken(t: TestContext, token = "test-token-123"): { auth: { tokenFile: string }; headers: { authorization: string } } {
  const dir = mkdtempSync(join(tmpdir(), "twitch-token-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, "twitch.token");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return { auth: { tokenFile }, headers: { authorization: `Bearer ${token}` } };
}
