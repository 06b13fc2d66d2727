// SIGHUP on a real `puppet-ha proxy` process (two data-plane workers, the default on two cores):
// a new proxy.ca.crlRefresh takes effect at once, and the keys a reload cannot apply
// (proxy.limits.headerSize, log.format) are named in its "need a restart" warning instead of
// being ignored in silence (docs/upgrading.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../../helpers/etcd.js";
import { ProxyChild } from "../../helpers/proxy-child.js";
import { fakeBackend, pki, until } from "./harness.js";

const CRL_PATH = "/puppet-ca/v1/certificate_revocation_list/ca";

test("SIGHUP applies proxy.ca.crlRefresh and warns that limits.headerSize and log.format need a restart", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-reload-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const config = (crlRefresh: string, headerSize: string, format: string) => ({
    proxy: {
      listen: `127.0.0.1:${port}`, tls: pki().files, workers: 2, stateDir: join(dir, "state"), accessLog: false,
      ca: { workers: [{ name: "ca1", url: ca1.url }], crlRefresh },
      masters: { workers: [{ name: "m1", url: m1.url }] },
      limits: { headerSize },
    },
    admin: { listen: `127.0.0.1:${adminPort}` },
    log: { level: "info", format },
  });
  const proxy = ProxyChild.start(t, { name: "reload", dir, port, adminPort, token: "unused", config: config("1h", "64KiB", "json") });
  await proxy.ready();
  // At most one CRL fetch comes without the interval (on the first CA transition, if any).
  const fetches = () => ca1.own.filter((s) => s.url === CRL_PATH).length;
  const before = fetches();

  // ProxyChild's config file is <dir>/<name>.json: rewrite it, then SIGHUP the process by PID.
  writeFileSync(join(dir, "reload.json"), JSON.stringify(config("200ms", "128KiB", "text")));
  assert.ok(proxy.pid !== undefined);
  process.kill(proxy.pid, "SIGHUP");
  await until(() => fetches() >= before + 3, 15_000, "CRL fetches every 200 ms after the reload (was 1h)");

  const log = () => readFileSync(join(dir, "reload.log"), "utf8");
  await until(() => log().includes("need a restart"), 10_000, "the reload's restart warning");
  const warnings = log().split("\n").filter((l) => l.includes("need a restart"));
  const keys = warnings.flatMap((l) => (JSON.parse(l) as { keys: string[] }).keys);
  assert.ok(keys.includes("limits.headerSize"), `limits.headerSize named: ${warnings.join("\n")}`);
  assert.ok(keys.includes("log.format"), `log.format named: ${warnings.join("\n")}`);
  assert.ok(!keys.includes("ca.crlRefresh"), "crlRefresh is applied, not reported");
});
