// The browser guards shared by twitch and the admin listener: which Host names are accepted
// (DNS rebinding) and which header sets mark a request made by a page of another site.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { crossSiteReason, hostAllowed, hostOf, listenerNames } from "../../src/request-origin.js";

test("hostOf: lowercased host without port, brackets or final dot", () => {
  for (const [authority, host] of [
    ["Node1.Example:2023", "node1.example"], ["[::1]:2023", "::1"], ["127.0.0.1", "127.0.0.1"], ["localhost.", "localhost"], ["[fe80::1]", "fe80::1"],
  ] as const) assert.equal(hostOf(authority), host, authority);
});

test("Host: IP literals, loopback names, the machine's name, the listen host and configured names; nothing else", () => {
  const names = listenerNames("node1.example", ["puppet-ha.example.com"], ["certname.example", undefined]);
  for (const h of ["127.0.0.1:2023", "10.1.2.3", "[::1]:2023", "localhost:2023", "LOCALHOST", `${hostname()}:2023`, "node1.example:2023", "puppet-ha.example.com", "certname.example:2023"]) {
    assert.ok(hostAllowed(h, names), h);
  }
  for (const h of [undefined, "", "evil.example:2023", "localhost.evil.example", "127.0.0.1.nip.io", "node1.example.evil.test"]) {
    assert.ok(!hostAllowed(h, names), String(h));
  }
  assert.ok(!listenerNames("0.0.0.0").includes("0.0.0.0"));
});

test("cross-site: Sec-Fetch-Site cross-site/same-site, a foreign or null Origin, a foreign Referer", () => {
  const base = { host: "127.0.0.1:2023", origin: undefined, referer: undefined, secFetchSite: undefined };
  const refused = [
    { secFetchSite: "cross-site" }, { secFetchSite: "same-site" }, { secFetchSite: "Cross-Site" },
    { origin: "http://evil.example" }, { origin: "null" }, { origin: "http://127.0.0.1:8080" }, { origin: "garbage" },
    { referer: "http://evil.example/page.html" },
  ];
  for (const r of refused) assert.ok(crossSiteReason({ ...base, ...r }), JSON.stringify(r));
  const allowed = [
    {}, { secFetchSite: "none" }, { secFetchSite: "same-origin", origin: "http://127.0.0.1:2023" },
    { origin: "http://127.0.0.1:2023" }, { referer: "http://127.0.0.1:2023/puppet/status" },
  ];
  for (const a of allowed) assert.equal(crossSiteReason({ ...base, ...a }), undefined, JSON.stringify(a));
});
