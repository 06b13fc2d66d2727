// The real Puppet parts the end-to-end tier runs on are installed from Debian and usable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { execa } from "execa";

test("puppet agent from Debian answers its version", async () => {
  const r = await execa("puppet", ["--version"], { reject: false });
  assert.equal(r.exitCode, 0, "puppet is missing: run scripts/install-system-deps.sh as root");
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
});

test("puppetserver's jar and rsync are installed", async () => {
  assert.ok(existsSync("/usr/share/puppetserver/puppetserver.jar"), "puppetserver is missing: run scripts/install-system-deps.sh as root");
  const r = await execa("rsync", ["--version"], { reject: false });
  assert.equal(r.exitCode, 0, "rsync is missing");
});
