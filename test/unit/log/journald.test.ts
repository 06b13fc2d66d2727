// Logs for journald: levels are words in the JSON lines, and when stdout is the journal each line
// starts with its syslog priority (<3> error, <4> warn, <6> info) so `journalctl -p err` selects
// errors; JOURNAL_STREAM is honoured only for the very stream systemd handed over.
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, isJournalStream } from "../../../src/log.js";

function sink(): { out: Writable; lines: string[] } {
  const lines: string[] = [];
  const out = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(...chunk.toString().split("\n").filter(Boolean)); cb(); } });
  return { out, lines };
}

test("JSON lines carry the level as a word, with no priority prefix off the journal", () => {
  const { out, lines } = sink();
  const log = createLogger({ level: "info", format: "json" }, out, { journald: false });
  log.error("boom");
  log.info("fine");
  assert.equal((JSON.parse(lines[0]!) as { level: unknown }).level, "error");
  assert.equal((JSON.parse(lines[1]!) as { level: unknown }).level, "info");
});

test("on the journal every line starts with its syslog priority, JSON and text alike", () => {
  const json = sink();
  const log = createLogger({ level: "debug", format: "json" }, json.out, { journald: true });
  log.fatal("f");
  log.error("e");
  log.warn("w");
  log.info("i");
  log.debug("d");
  assert.deepEqual(json.lines.map((l) => l.slice(0, 4)), ["<2>{", "<3>{", "<4>{", "<6>{", "<7>{"]);
  assert.equal((JSON.parse(json.lines[1]!.slice(3)) as { msg: string }).msg, "e");

  const text = sink();
  createLogger({ level: "info", format: "text" }, text.out, { journald: true }).child({ part: "proxy" }).error({ backend: "ca1" }, "CA down");
  assert.match(text.lines[0]!, /^<3>\d{4}-\d\d-\d\dT[\d:.]+Z ERROR \[proxy\] CA down backend=ca1$/);
});

test("JOURNAL_STREAM counts only when it names this file descriptor's device and inode", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-journal-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fd = openSync(join(dir, "stream"), "w");
  t.after(() => closeSync(fd));
  const st = fstatSync(fd);
  assert.equal(isJournalStream(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino}` }), true);
  assert.equal(isJournalStream(fd, { JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }), false, "stdout redirected elsewhere");
  assert.equal(isJournalStream(fd, {}), false);
});
