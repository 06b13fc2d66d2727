// What `puppet-ha twitch -c FILE` runs: serve the run trigger until SIGTERM/SIGINT. SIGHUP reloads
// the token and TLS files. On stop the listener closes and a run in flight is waited for (killing puppet
// mid-run, or leaving it writing to a closed pipe, is worse); a second signal exits at once.
import { configPath, loadTwitchConfig } from "./config-load.js";
import { createTwitchLogger } from "./log.js";
import { startTwitch } from "./server.js";

export { loadTwitchConfig };

export async function runTwitch(opts: { config?: string }): Promise<void> {
  const cfg = await loadTwitchConfig(configPath(opts.config));
  const twitch = cfg.twitch;
  const log = createTwitchLogger(cfg.log).child({ part: "twitch" });
  const t = await startTwitch(twitch, log);
  // The broker (NATS) is a second way in, loaded only when configured.
  const broker = twitch.broker
    ? await (await import("./broker/node.js")).startBrokerNode(twitch.broker, twitch.puppet, t.runner, log).catch(async (err: unknown) => {
      await t.close();
      throw err;
    })
    : undefined;
  await new Promise<void>((resolve) => {
    const hup = () => t.reload();
    const stop = (signal: string) => {
      process.off("SIGHUP", hup);
      const running = t.runner.running;
      log.info({ signal, runInFlight: running?.pid ?? null }, running ? "twitch stopping; waiting for the puppet run in flight" : "twitch stopping");
      process.once("SIGTERM", () => process.exit(1));
      process.once("SIGINT", () => process.exit(1));
      void Promise.all([t.close(), broker?.close()]).then(() => t.runner.idle()).then(resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    process.on("SIGHUP", hup);
  });
}
