// `puppet-ha config check -c FILE`: validate a config, print every problem or the normalised result.
// The config schema (zod, every section) and yaml are loaded when the command runs.
import type { Command } from "commander";

const SECRET_KEY = /(^|[^a-z])(token|password|secret|passphrase)$/i;

/** Secret values masked by key name; keys ending in File hold paths, not secrets, and stay. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? "********" : maskSecrets(v)]));
  }
  return value;
}

export function registerConfigCommand(program: Command): void {
  const config = program.command("config").description("work with the puppet-ha config file");
  config
    .command("check")
    .description("validate a config file; print every problem with its key path, or the normalised config")
    .option("-c, --config <file>", "config file (default: $PUPPET_HA_CONFIG or /etc/puppet-ha/puppet-ha.yaml)")
    .action(async (opts: { config?: string }) => {
      const [{ configPath, loadConfigFile }, { stringify }] = await Promise.all([import("./load.js"), import("yaml")]);
      const file = configPath(opts.config);
      const cfg = loadConfigFile(file);
      process.stdout.write(`# ${file}: OK (durations in milliseconds, sizes in bytes)\n`);
      process.stdout.write(stringify(maskSecrets(cfg)));
    });
}
