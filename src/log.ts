// Logging: pino, JSON lines by default, `log.format: text` for people. Secrets are redacted by key.
// Levels are words ("level":"error"); under systemd, when stdout is the journal (JOURNAL_STREAM),
// each line starts with its syslog priority (<3> for error) so that `journalctl -p err` works.
import { pino, type Logger, type DestinationStream, type LoggerOptions } from "pino";
import type { LogConfig } from "./config/schema.js";
import { REDACT, destination, isJournalStream } from "./log-lines.js";

export { isJournalStream };

export type { Logger } from "pino";

/** pino option: write the level as its word, not pino's number. */
export const levelAsWord: LoggerOptions["formatters"] = { level: (label) => ({ level: label }) };

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
