// Moved to src/demo/cluster/descriptor.ts (the cluster is part of `puppet-ha demo` now); this
// re-export keeps the old import path working.
export * from "../../../src/demo/cluster/descriptor.js";
