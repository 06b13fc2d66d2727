// The Nagios/Icinga plugin's states and output format, apart from the report logic (and zod) so
// that `puppet-ha check` can report a usage error without loading the rest.
export const PluginState = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
export type PluginStateName = keyof typeof PluginState;

export interface CheckResult {
  state: PluginStateName;
  /** The first line of output, without the perfdata. */
  summary: string;
  /** Further lines (Nagios long output): the report's reasons. */
  details: string[];
  perfdata: string[];
}

/** The plugin's whole output: `PUPPET-HA STATE - summary | perfdata`, then the long output. */
export function formatCheckOutput(r: CheckResult): string {
  const first = `PUPPET-HA ${r.state} - ${r.summary.replace(/\|/g, "/")}${r.perfdata.length ? ` | ${r.perfdata.join(" ")}` : ""}`;
  return [first, ...r.details.map((d) => d.replace(/\|/g, "/"))].join("\n") + "\n";
}

export function unknown(summary: string): CheckResult {
  return { state: "UNKNOWN", summary, details: [], perfdata: [] };
}
