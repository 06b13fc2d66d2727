// Child process of broker-lazy.test.ts: runs `puppet-ha twitch -c FILE` in this process with a
// module trace, waits until the broker's NATS client is loaded (the broker connects in the
// background), prints the packages loaded so far as JSON and exits.
import { traceModules } from "../cli/module-trace.js";

const trace = traceModules();
const packages = async () => [...new Set((await trace.urls()).map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean))];
const { buildProgram } = await import("../../../src/main.js");
const program = buildProgram();
const before = await packages();
void program.parseAsync(["node", "puppet-ha", "twitch", "-c", process.argv[2] as string]);
const deadline = Date.now() + 20_000;
while (!(await packages()).includes("@nats-io/transport-node") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
process.stdout.write(JSON.stringify({ before, after: await packages() }));
process.exit(0);
