// `puppet-ha demo --proxies 2`: the flag's validation (with --scenario), the extra ports, the L4
// load balancer's config, and the cluster story's checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFlags } from "../../../src/demo/command.js";
import { clusterChecks } from "../../../src/demo/cluster-story.js";
import { haproxyTcpConfig } from "../../../src/demo/cluster/haproxy-config.js";
import type { ClusterView } from "../../../src/demo/cluster/proxy-set.js";
import type { LoopRun } from "../../../src/demo/agent-loop.js";
import { demoClusterPorts, demoPorts } from "../../../src/demo/preflight.js";
import { UsageError } from "../../../src/errors.js";

const portsOf = (o: object) => Object.values(o) as number[];
const flags = (extra: Record<string, string>) => ({ stateDir: "/tmp/x", readyTimeout: "300", ...extra });

test("--proxies: 1 by default, 2 by default with --scenario cluster, 1 or 2 when given", () => {
  assert.equal(parseFlags(flags({})).proxies, 1);
  assert.equal(parseFlags(flags({ scenario: "cluster" })).proxies, 2);
  assert.equal(parseFlags(flags({ proxies: "2" })).proxies, 2);
  assert.equal(parseFlags(flags({ proxies: "1", scenario: "failover" })).proxies, 1);
  assert.equal(parseFlags(flags({ proxies: "2", scenario: "cluster" })).scenario, "cluster");
});

test("--proxies: every bad value is a usage error naming the flag and the value", () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ proxies: "0" }, /--proxies must be 1 or 2, not 0/],
    [{ proxies: "3" }, /--proxies 3 is not supported/],
    [{ proxies: "12" }, /--proxies 12 is not supported/],
    [{ proxies: "two" }, /--proxies must be a whole number \(1 or 2\), not "two"/],
    [{ proxies: "1.5" }, /--proxies must be a whole number/],
    [{ proxies: "-1" }, /--proxies must be a whole number/],
    [{ proxies: "" }, /--proxies must be a whole number/],
    [{ proxies: "1", scenario: "cluster" }, /--scenario cluster needs two proxies/],
    [{ proxies: "2", scenario: "failover" }, /--scenario failover runs with one proxy/],
    [{ scenario: "handover" }, /--scenario must be "failover" or "cluster", not "handover"/],
  ];
  for (const [f, message] of bad) assert.throws(() => parseFlags(flags(f)), (err: unknown) => err instanceof UsageError && message.test(err.message), JSON.stringify(f));
});

test("with two proxies every port of the demo is distinct, by default and from --base-port (N..N+15)", () => {
  for (const base of [undefined, 28140]) {
    const all = [...portsOf(demoPorts(base)), ...portsOf(demoClusterPorts(base))];
    assert.equal(new Set(all).size, all.length, `ports ${all.join(", ")}`);
  }
  assert.equal(Math.max(...portsOf(demoClusterPorts(28140))), 28155);
  assert.throws(() => demoClusterPorts(65535 - 10), /--base-port must be an integer from 1024 to 65520/);
});

test("the load balancer: TCP mode (TLS stays on the proxies), round robin over every proxy, connect checks, a refused connection redispatched", () => {
  const cfg = haproxyTcpConfig({ bind: { host: "127.0.0.1", port: 8140 }, servers: [{ name: "proxy-1", host: "127.0.0.1", port: 18144 }, { name: "proxy-2", host: "127.0.0.1", port: 18145 }] });
  assert.match(cfg, /^\s+mode tcp$/m);
  assert.doesNotMatch(cfg, /\bssl\b|mode http/);
  assert.match(cfg, /^\s+bind 127\.0\.0\.1:8140$/m);
  assert.match(cfg, /^\s+balance roundrobin$/m);
  assert.match(cfg, /^\s+server proxy-1 127\.0\.0\.1:18144 check inter 500ms fall 2 rise 2$/m);
  assert.match(cfg, /^\s+server proxy-2 127\.0\.0\.1:18145 check /m);
  assert.match(cfg, /^\s+option redispatch 1$/m);
  assert.match(cfg, /^\s+option tcplog$/m);
});

const view = (v: Partial<ClusterView>): ClusterView => ({ controller: "proxy-1", isController: true, etcdUnreachableSince: null, members: [], active: "ca1", epoch: 1, ...v });
const run = (certname: string, ok: boolean, startedAt: number, endedAt: number): LoopRun => ({ certname, exitCode: ok ? 2 : 1, ok, timedOut: false, startedAt, endedAt, phase: "x", stderrTail: "" });

test("the cluster story's checks: only a run in flight at the kill may fail; the CA decision must hold; no serial twice", (t) => {
  const root = mkdtempSync(join(tmpdir(), "puppet-ha-story-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const line = (serial: string, cn: string) => `0x${serial} 2026-11-20T08:19:27UTC 2031-11-20T08:19:27UTC /CN=${cn}\n`;
  for (const ca of ["ca1", "ca2"]) mkdirSync(join(root, ca));
  writeFileSync(join(root, "ca1", "inventory.txt"), line("0001", "ca") + line("0002", "a"));
  writeFileSync(join(root, "ca2", "inventory.txt"), line("0001", "ca"));
  const cadirs = { ca1: join(root, "ca1"), ca2: join(root, "ca2") };
  const base = { killedAt: 100, before: view({}), after: view({ controller: "proxy-2" }), cadirs, agentsDir: join(root, "agents") };

  const good = clusterChecks({ ...base, runs: [run("x", false, 90, 110)] });
  assert.deepEqual(good.map((c) => c.ok), [true, true, true, true]);
  const stray = clusterChecks({ ...base, runs: [run("x", false, 101, 130)] });
  assert.equal(stray[0]?.ok, false);
  assert.match(stray[0]?.text ?? "", /not in flight at the kill: x/);
  const moved = clusterChecks({ ...base, runs: [], after: view({ controller: "proxy-2", epoch: 2 }) });
  assert.equal(moved[1]?.ok, false);
  writeFileSync(join(root, "ca2", "inventory.txt"), line("0002", "b"));
  assert.equal(clusterChecks({ ...base, runs: [] })[2]?.ok, false);
  // An agent that enrolled without its cert on the active CA is lost.
  const lost = clusterChecks({ ...base, runs: [run("nocert", true, 1, 2)] });
  assert.equal(lost[3]?.ok, false);
  assert.match(lost[3]?.text ?? "", /nocert/);
});
