// Logging: pino, JSON lines by default, `log.format: text` for people. Secrets are redacted by key.
// Levels are words ("level":"error"); under systemd, when stdout is the journal (JOURNAL_STREAM),
// each line starts with its syslog priority (<3> for error) so that `journalctl -p err` works.
import { fstatSync } from "node:fs";
import { pino, type Logger, type DestinationStream, type LoggerOptions } from "pino";
import type { LogConfig } from "./config/schema.js";

export type { Logger } from "pino";

const REDACT = [
  "authorization", "*.authorization", "headers.authorization", "*.headers.authorization",
  "token", "*.token", "password", "*.password", "privateKey", "*.privateKey", "key_pem", "*.key_pem",
];

/** sd-daemon(3) priorities of pino's levels (journald reads a leading <N> as the line's priority). */
const SYSLOG_PRIORITY: Record<string, number> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 };

/** pino option: write the level as its word, not pino's number. */
export const levelAsWord: LoggerOptions["formatters"] = { level: (label) => ({ level: label }) };

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
function asText(line: string): string {
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
function destination(out: NodeJS.WritableStream, text: boolean, journald: boolean): DestinationStream {
  return {
    write(line: string) {
      const level = journald ? /^\{"level":"(\w+)"/.exec(line)?.[1] : undefined;
      const priority = journald ? `<${SYSLOG_PRIORITY[level ?? ""] ?? 6}>` : "";
      out.write(priority + (text ? asText(line) : line));
    },
  };
}

export interface LoggerExtras {
  /** Prefix syslog priorities for journald; default: whether `out` is the journal (JOURNAL_STREAM). */
  journald?: boolean;
}

export function createLogger(cfg: Pick<LogConfig, "level" | "format">, out: NodeJS.WritableStream = process.stdout, extras: LoggerExtras = {}): Logger {
  const options: LoggerOptions = { level: cfg.level, redact: { paths: REDACT, censor: "[redacted]" }, base: { pid: process.pid }, formatters: levelAsWord };
  const fd = (out as { fd?: unknown }).fd;
  const journald = extras.journald ?? (typeof fd === "number" && isJournalStream(fd));
  const text = cfg.format === "text";
  return pino(options, text || journald ? destination(out, text, journald) : (out as DestinationStream));
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
