// Entry point of the `puppet-ha` command (bin/puppet-ha.js runs the compiled copy of this file).
// Long-running commands (proxy, sync, twitch) keep the process alive and set the exit code on
// shutdown; short ones set it here. `puppet-ha twitch` builds only its own command line.
const entry = process.argv[2] === "twitch"
  ? import("./twitch/main.js").then((m) => m.twitchMain)
  : import("./main.js").then((m) => m.main);

entry.then((main) => main(process.argv)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`puppet-ha: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
