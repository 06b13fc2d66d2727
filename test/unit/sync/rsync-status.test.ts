// rsync argument vectors and output parsing, lag and state of a destination, and the debounce
// of watch events (injected clock).
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyArgs, dryRunArgs, parseItemized, parseLocation, parseTransferredBytes, sshOption } from "../../../src/sync/rsync.js";
import { DestinationTracker, healthReports, lagOf } from "../../../src/sync/status.js";
import { debouncer, type Clock } from "../../../src/sync/triggers.js";
import { destinationsOf } from "../../../src/sync/service.js";

test("locations: local paths and [user@]host:/path", () => {
  assert.deepEqual(parseLocation("/srv/ca/"), { kind: "local", path: "/srv/ca" });
  assert.deepEqual(parseLocation("puppet@ca1.example.com:/etc/puppetlabs/puppet/ssl/ca"), { kind: "remote", host: "puppet@ca1.example.com", path: "/etc/puppetlabs/puppet/ssl/ca" });
});

test("the copy and dry-run argument vectors end with -- SRC/ DST/", () => {
  const plan = { from: parseLocation("/a"), to: parseLocation("/b"), ssh: ["ssh"] };
  assert.deepEqual(copyArgs({ ...plan, backupDir: "/bk/ca2/T", maxDeletes: 50 }), [
    "-a", "--checksum", "--delete", "--delay-updates", "--max-delete=50", "--backup", "--backup-dir=/bk/ca2/T", "--stats", "--", "/a/", "/b/",
  ]);
  assert.deepEqual(dryRunArgs(plan), ["-a", "--checksum", "--delete", "--dry-run", "--itemize-changes", "--", "/a/", "/b/"]);
  const remote = dryRunArgs({ from: parseLocation("root@h:/ca"), to: parseLocation("/b"), ssh: ["ssh", "-oBatchMode=yes", "-i", "/k ey"] });
  assert.deepEqual(remote.slice(0, 4), ["-a", "--checksum", "-e", "ssh -oBatchMode=yes -i '/k ey'"]);
  assert.deepEqual(remote.slice(-3), ["--", "root@h:/ca/", "/b/"]);
  assert.equal(sshOption(["ssh", "-p", "2222"]), "ssh -p 2222");
});

test("itemized output: updates, deletes, attribute-only and noise lines", () => {
  const out = [
    "created directory /tmp/x",
    "cd+++++++++ ./",
    ">f+++++++++ signed/a.pem",
    ">fcs....... serial",
    ".d..t...... signed/",
    "*deleting   requests/old.pem",
    ".f          unchanged",
    "",
  ].join("\n");
  assert.deepEqual(parseItemized(out), { updates: ["./", "signed/a.pem", "serial", "signed/"], deletes: ["requests/old.pem"] });
  assert.equal(parseTransferredBytes("Total file size: 9 bytes\nTotal transferred file size: 1,234 bytes\n"), 1234);
  assert.equal(parseTransferredBytes(""), 0);
});

test("lag: 0 in sync, since the first change not copied, else since the last success", () => {
  assert.equal(lagOf("in-sync", 1000, 500, 100), 0);
  assert.equal(lagOf("syncing", 1000, 400, 100), 600);
  assert.equal(lagOf("error", 1000, undefined, 100), 900);
  assert.equal(lagOf("diverged", 1000, undefined, undefined), null);
});

test("tracker: a change seen during a pass keeps the destination behind after that pass", () => {
  const t = new DestinationTracker("ca2", "/b");
  assert.equal(t.view(0).state, "syncing", "unknown before the first pass");
  t.passStarted(100);
  t.passEnded(150, { result: "in-sync", bytes: 10, epoch: 1, reasons: ["start"] });
  assert.equal(t.view(200).state, "in-sync");
  assert.equal(t.view(200).lagMs, 0);
  t.changeSeen(300);
  assert.equal(t.view(400).state, "syncing");
  assert.equal(t.view(400).lagMs, 100);
  t.passStarted(350);
  t.changeSeen(360); // after the pass read the source: not covered by it
  t.passEnded(380, { result: "in-sync", bytes: 5, epoch: 1, reasons: ["watch"] });
  assert.equal(t.view(400).state, "syncing");
  assert.equal(t.view(400).lagMs, 40);
  t.passStarted(400);
  t.passEnded(420, { result: "error", bytes: 0, epoch: 1, reasons: ["watch"] }, { code: "E_RSYNC", message: "x", at: "t" });
  const v = t.view(500);
  assert.equal(v.state, "error");
  assert.equal(v.lagMs, 140, "still since the first change not copied");
  assert.equal(v.lastError?.code, "E_RSYNC");
  assert.equal(v.lastPass?.durationMs, 20);
});

test("debounce: quiet time after the last event, at most maxWait after the first", () => {
  let now = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  let id = 0;
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => { timers.push({ at: now + ms, fn, id: ++id }); return id; },
    clearTimeout: (h) => { const i = timers.findIndex((t) => t.id === h); if (i >= 0) timers.splice(i, 1); },
  };
  const advance = (to: number) => {
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > to) break;
      timers.shift();
      now = next.at;
      next.fn();
    }
    now = to;
  };
  const fired: number[] = [];
  const d = debouncer(clock, 100, 1000, () => fired.push(now));
  d.poke();
  advance(50);
  d.poke();
  advance(149);
  assert.deepEqual(fired, []);
  advance(150);
  assert.deepEqual(fired, [150]);
  for (let t = 200; t <= 1500; t += 50) { advance(t); d.poke(); }
  assert.deepEqual(fired, [150, 1200], "a steady stream still fires once a second");
});

test("destinations: writeInto, else every local cadir", () => {
  assert.deepEqual(destinationsOf({ cadirs: { ca1: "/a", ca2: "/b", ca3: "h:/c" } }), ["ca1", "ca2"]);
  assert.deepEqual(destinationsOf({ cadirs: { ca1: "/a", ca2: "/b" }, writeInto: ["ca2"] }), ["ca2"]);
});

test("health reports: the flat shape /health uses, with the divergence per serial and file", () => {
  const t = new DestinationTracker("ca2", "/b");
  t.source = "ca1";
  t.epoch = 4;
  t.passStarted(1000);
  t.passEnded(1200, { result: "diverged", bytes: 0, epoch: 4, reasons: ["schedule"] }, { code: "E_DIVERGED", message: "ca2 diverged", at: "t" }, {
    differences: [{ kind: "inventory-serial", path: "inventory.txt", serial: "0x0009", subject: "/CN=rogue", message: "serial 0x0009 (/CN=rogue) is not in the source inventory" }],
    savedTo: "/bk/ca2/diverged-1",
  });
  assert.deepEqual(healthReports({ ca2: t.view(1500) }), [{
    destination: "ca2", source: "ca1", state: "diverged", epoch: 4,
    lastError: "E_DIVERGED: ca2 diverged",
    lastPass: { at: new Date(1000).toISOString(), durationMs: 200, bytes: 0, result: "diverged" },
    divergence: [{ serial: "0x0009", subject: "/CN=rogue", file: "inventory.txt", reason: "serial 0x0009 (/CN=rogue) is not in the source inventory" }],
  }]);
});
