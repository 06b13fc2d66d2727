// Cadirs reached over ssh (`host:/path`), with a fake `ssh` that runs the remote command locally:
// a remote active CA pulled onto a local standby, and a local active CA pushed to a remote one,
// guard and manifest check included (both work on local mirrors).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DivergenceError } from "../../../src/sync/errors.js";
import { contentsOf, differingPaths, fakeExecutable, makeHarness } from "./harness.js";

function fakeSsh(bin: string): string {
  // ssh [options] host command...: drop options and host, run the command here, log the host.
  return fakeExecutable(bin, "fake-ssh", [
    `echo "$*" >> "${bin}/ssh-calls"`,
    'while [ $# -gt 0 ]; do case "$1" in -l|-p|-i|-o|-F) shift 2 ;; -*) shift ;; *) break ;; esac; done',
    "shift",
    'exec sh -c "$*"',
  ].join("\n"));
}

test("a remote active CA is pulled onto a local standby over ssh", async (t) => {
  const h0 = makeHarness(t);
  const ssh = fakeSsh(h0.bin);
  const h = makeHarness(t, { config: { cadirs: { ca1: `puppet@ca1.example:${h0.ca1}`, ca2: h0.ca2 }, rsync: { ssh: [ssh, "-oBatchMode=yes"] } } });
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "in-sync", r?.error?.message);
  assert.deepEqual(await differingPaths(h0.ca1, h0.ca2), []);
  // rsync turns user@host into `-l user host`; -e options come first.
  assert.match(readFileSync(join(h0.bin, "ssh-calls"), "utf8"), /^-oBatchMode=yes -l puppet ca1\.example rsync --server --sender /m);
  h0.source.sign("node2");
  h0.source.writeTo(h0.ca1);
  const [r2] = await h.service.requestPass("ca2");
  assert.equal(r2?.result, "in-sync", r2?.error?.message);
  assert.ok(existsSync(join(h0.ca2, "signed/node2.pem")));
});

test("a local active CA is pushed to a remote standby; a remote divergence is refused and saved locally", async (t) => {
  const h0 = makeHarness(t);
  const ssh = fakeSsh(h0.bin);
  const h = makeHarness(t, { config: { cadirs: { ca1: h0.ca1, ca2: `ca2.example:${h0.ca2}` }, writeInto: ["ca2"], rsync: { ssh: [ssh] } } });
  const [r] = await h.service.requestPass("ca2");
  assert.equal(r?.result, "in-sync", r?.error?.message);
  assert.deepEqual(await differingPaths(h0.ca1, h0.ca2), []);

  writeFileSync(join(h0.ca2, "serial"), "0FFF");
  const before = await contentsOf(h0.ca2);
  const [d] = await h.service.requestPass("ca2");
  assert.equal(d?.result, "diverged");
  assert.ok(d?.error instanceof DivergenceError);
  assert.deepEqual(d.error.differences.map((x) => [x.kind, x.destination]), [["serial", "0x0FFF"]]);
  assert.deepEqual(await contentsOf(h0.ca2), before);
  assert.equal(readFileSync(join(d.error.savedTo as string, "serial"), "utf8"), "0FFF");
});
