// What every puppet-ha log line looks like, without pino: the keys redacted, journald's
// <priority> prefix, the text form for people. Shared by ./log.ts (pino) and twitch's own small
// logger (src/twitch/log.ts), which must not load pino on every node.
import { fstatSync } from "node:fs";

export const REDACT = [
  "authorization", "*.authorization", "headers.authorization", "*.headers.authorization",
  "token", "*.token", "password", "*.password", "privateKey", "*.privateKey", "key_pem", "*.key_pem",
];

/** sd-daemon(3) priorities of pino's levels (journald reads a leading <N> as the line's priority). */
const SYSLOG_PRIORITY: Record<string, number> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 };

/**
 * True when the file descriptor is connected to journald: systemd sets JOURNAL_STREAM to the
 * "device:inode" of the stream it gave the service, so a redirected stdout does not match.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const want = env.JOURNAL_STREAM;
  if (!want) return false;
  try {
    const st = fstatSync(fd);
    return want === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** pino's JSON line as `time LEVEL [part] msg key=value ...` for people. */
export function asText(line: string): string {
  const { time, level, msg, part, pid: _pid, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(" ");
  const when = new Date(Number(time)).toISOString();
  const prefix = typeof part === "string" ? `[${part}] ` : "";
  const text = typeof msg === "string" ? msg : JSON.stringify(msg ?? "");
  return `${when} ${String(level).toUpperCase()} ${prefix}${text}${fields ? ` ${fields}` : ""}\n`;
}

/** Text lines and/or the journald <priority> prefix (from the level, the first key pino writes). */
export function destination(out: NodeJS.WritableStream, text: boolean, journald: boolean): { write(line: string): void } {
  return {
    write(line: string) {
      const level = journald ? /^\{"level":"(\w+)"/.exec(line)?.[1] : undefined;
      const priority = journald ? `<${SYSLOG_PRIORITY[level ?? ""] ?? 6}>` : "";
      out.write(priority + (text ? asText(line) : line));
    },
  };
}
