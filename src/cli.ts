// Entry point of the `puppet-ha` command (bin/puppet-ha.js runs the compiled copy of this file).
// Long-running commands (proxy, sync, twitch) keep the process alive and set the exit code on
// shutdown; short ones set it here.
import { main } from "./main.js";

main(process.argv).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`puppet-ha: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
