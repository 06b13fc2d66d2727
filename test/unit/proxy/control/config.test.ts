// The proxy.cluster config section: defaults, the derived prefix, and every mistake reported with
// its key path (the timing rule, TLS consistency, duplicate endpoints, unknown keys).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../../src/config/load.js";
import { ConfigError, type ConfigProblem } from "../../../../src/errors.js";

const proxy = (cluster: string) => `proxy:
  tls: { cert: /c.pem, key: /k.pem, ca: /ca.pem, crl: /crl.pem }
  ca:
    workers:
      - { name: ca1, url: "http://127.0.0.1:18142" }
  masters:
    workers:
      - { name: m1, url: "http://127.0.0.1:18140" }
${cluster}`;

function problems(text: string): ConfigProblem[] {
  try {
    parseConfig(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
  assert.fail("expected a ConfigError");
}

test("no cluster section: nothing changes", () => {
  assert.equal(parseConfig(proxy("")).proxy?.cluster, undefined);
});

test("a minimal cluster section gets the documented defaults and the derived prefix", () => {
  const c = parseConfig(proxy(`  cluster:
    name: proxy-1
    etcd: { endpoints: ["http://127.0.0.1:2379/"] }
`)).proxy?.cluster;
  assert.deepEqual(c, { name: "proxy-1", clusterName: "main", etcd: { endpoints: ["http://127.0.0.1:2379"] }, prefix: "/puppet-ha/main", ttl: 10_000, loopWait: 2000, retryTimeout: 3000 });
});

test("clusterName sets the prefix unless prefix is given; TLS files are kept", () => {
  const c = parseConfig(proxy(`  cluster:
    name: proxy-1
    clusterName: site-b
    etcd:
      endpoints: ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
      tls: { ca: /etc/etcd/ca.pem, cert: /etc/etcd/proxy.pem, key: /etc/etcd/proxy-key.pem }
`)).proxy?.cluster;
  assert.equal(c?.prefix, "/puppet-ha/site-b");
  assert.deepEqual(c?.etcd.tls, { ca: "/etc/etcd/ca.pem", cert: "/etc/etcd/proxy.pem", key: "/etc/etcd/proxy-key.pem" });
  const p = parseConfig(proxy(`  cluster:
    name: proxy-1
    prefix: /ha/x
    etcd: { endpoints: ["http://127.0.0.1:2379"] }
`)).proxy?.cluster;
  assert.equal(p?.prefix, "/ha/x");
});

const mistakes: [string, string, [string, RegExp][]][] = [
  ["Patroni's rule", "ttl: 5s\n    loopWait: 2s\n    retryTimeout: 3s", [["proxy.cluster", /2s \+ 2 x 3s = 8s > 5s/]]],
  ["ttl not whole seconds, too short loopWait", "ttl: 10500ms\n    loopWait: 50ms", [["proxy.cluster.ttl", /whole seconds/], ["proxy.cluster.loopWait", /too short/]]],
  ["ttl below etcd's minimum", "ttl: 1s\n    loopWait: 100ms\n    retryTimeout: 100ms", [["proxy.cluster.ttl", /too short \(at least 2000 ms\)/]]],
  ["a bad prefix and name", "prefix: puppet-ha/\n    clusterName: a/b", [["proxy.cluster.prefix", /key prefix like/], ["proxy.cluster.clusterName", /must be a name/]]],
  ["an unknown key", "leaseTime: 10s", [["proxy.cluster.leaseTime", /unknown key/]]],
];
for (const [name, extra, expected] of mistakes) {
  test(`cluster mistake: ${name}`, () => {
    const ps = problems(proxy(`  cluster:
    name: proxy-1
    etcd: { endpoints: ["http://127.0.0.1:2379"] }
    ${extra}
`));
    assert.deepEqual(ps.map((p) => p.path), expected.map(([path]) => path), JSON.stringify(ps));
    expected.forEach(([, re], i) => assert.match(ps[i]?.message ?? "", re));
  });
}

test("etcd mistakes are all reported at once", () => {
  const ps = problems(proxy(`  cluster:
    etcd:
      endpoints: ["https://a:2379", "http://b:2379", "https://a:2379", "ftp://c"]
      tls: { ca: /ca.pem, key: /k.pem }
`));
  const byPath = Object.fromEntries(ps.map((p) => [p.path, p.message]));
  assert.match(byPath["proxy.cluster.name"] ?? "", /is required/);
  assert.match(byPath["proxy.cluster.etcd.endpoints[3]"] ?? "", /must start with http/);
  assert.ok(ps.length >= 2, JSON.stringify(ps));
  const ps2 = problems(proxy(`  cluster:
    name: p
    etcd:
      endpoints: ["https://a:2379", "http://b:2379", "https://a:2379"]
      tls: { ca: /ca.pem, key: /k.pem }
`));
  assert.deepEqual(ps2.map((p) => `${p.path}: ${p.message}`), [
    'proxy.cluster.etcd.endpoints[2]: duplicate etcd endpoint "https://a:2379"',
    "proxy.cluster.etcd.endpoints: mixes http:// and https:// endpoints: all members of one etcd cluster use the same scheme",
    "proxy.cluster.etcd.tls.cert: tls.cert and tls.key go together (etcd's client certificate and its key)",
  ]);
  const ps3 = problems(proxy(`  cluster:
    name: p
    etcd: { endpoints: ["https://a:2379"] }
`));
  assert.match(ps3[0]?.message ?? "", /https:\/\/ endpoints need tls\.ca/);
  const ps4 = problems(proxy(`  cluster:
    name: p
    etcd: { endpoints: ["http://a:2379"], tls: { ca: /ca.pem } }
`));
  assert.match(ps4[0]?.message ?? "", /tls is set but the endpoints use http:\/\//);
});
