// The process under test of the sync-scale scenario: the sync service in watch mode (as inside
// `puppet-ha proxy` or `puppet-ha sync`), with a static arbiter, driven over IPC by the parent.
// (What passes add to proxied requests is measured in a real proxy: sync-proxy-p99.ts.)
import { staticArbiter } from "../../src/sync/arbiter.js";
import { syncSection } from "../../src/sync/config.js";
import { createSyncService, type PassReport } from "../../src/sync/service.js";

const [ca1, ca2, workDir, backupDir] = process.argv.slice(2) as [string, string, string, string];
const config = syncSection.parse({ cadirs: { ca1, ca2 }, writeInto: ["ca2"], watch: true, debounce: "100ms", backupDir, workDir, maxDeletes: 50 });
// The schedule is the parent's to fire (message "full"), so that figures do not mix.
const service = createSyncService({ config, arbiter: staticArbiter({ epoch: 1, active: "ca1" }), cron: () => ({ stop: () => undefined }) });
const passes: PassReport[] = [];
service.events.on("pass", (r: PassReport) => passes.push(r));

const timed = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  const r = await fn();
  return { ms: Math.round((performance.now() - t) * 10) / 10, r };
};

process.on("message", (m: { op: string }) => {
  void (async () => {
    switch (m.op) {
      case "start": {
        const ready = new Promise<void>((res) => service.events.on("pass", (r: PassReport) => { if (r.reasons.includes("watch-ready")) res(); }));
        const t = await timed(async () => { await service.start(); await ready; });
        return { startMs: t.ms, first: passes.map((p) => ({ reasons: p.reasons, result: p.result, durationMs: p.durationMs, full: p.full })) };
      }
      case "noop": {
        const out: number[] = [];
        for (let i = 0; i < 5; i++) out.push((await timed(() => service.requestPass("ca2", "bench-noop"))).ms);
        return { ms: out, result: passes.at(-1)?.result, hashed: passes.at(-1)?.hashed };
      }
      case "full": {
        const t = await timed(() => service.requestPass("ca2", "full-verify"));
        return { ms: t.ms, result: passes.at(-1)?.result, full: passes.at(-1)?.full, status: service.status().destinations.ca2?.lastFullVerification };
      }
      case "final-pull": {
        const t = await timed(() => service.finalPull("ca2", 1));
        return { ms: t.ms, result: passes.at(-1)?.result };
      }
      case "passes":
        return { passes: passes.length };
      case "stop":
        await service.stop();
        setImmediate(() => process.exit(0));
        return {};
      default:
        throw new Error(`unknown op ${m.op}`);
    }
  })().then((r) => process.send?.({ ok: true, ...r }), (err: unknown) => process.send?.({ ok: false, error: String(err) }));
});
process.send?.({ ok: true, ready: true });
