// Moved to src/demo/cluster/agent.ts (the cluster is part of `puppet-ha demo` now); this
// re-export keeps the old import path working (bench/scenarios/agents.ts uses it).
export * from "../../../src/demo/cluster/agent.js";
