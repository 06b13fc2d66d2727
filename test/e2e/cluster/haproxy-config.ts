// Moved to src/demo/cluster/haproxy-config.ts (the cluster is part of `puppet-ha demo` now); this
// re-export keeps the old import path working.
export * from "../../../src/demo/cluster/haproxy-config.js";
