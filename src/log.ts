// Logging: pino, JSON lines by default, `log.format: text` for people. Secrets are redacted by key.
import { pino, type Logger, type DestinationStream } from "pino";
import type { LogConfig } from "./config/schema.js";

export type { Logger } from "pino";

const REDACT = [
  "authorization", "*.authorization", "headers.authorization", "*.headers.authorization",
  "token", "*.token", "password", "*.password", "privateKey", "*.privateKey", "key_pem", "*.key_pem",
];

/** A destination that turns pino's JSON lines into `time LEVEL [part] msg key=value ...`. */
function textDestination(out: NodeJS.WritableStream): DestinationStream {
  const names: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
  return {
    write(line: string) {
      const { time, level, msg, part, pid: _pid, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const fields = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
        .join(" ");
      const when = new Date(Number(time)).toISOString();
      const levelName = names[Number(level)] ?? JSON.stringify(level);
      const prefix = typeof part === "string" ? `[${part}] ` : "";
      const text = typeof msg === "string" ? msg : JSON.stringify(msg ?? "");
      out.write(`${when} ${levelName} ${prefix}${text}${fields ? ` ${fields}` : ""}\n`);
    },
  };
}

export function createLogger(cfg: Pick<LogConfig, "level" | "format">, out: NodeJS.WritableStream = process.stdout): Logger {
  const options = { level: cfg.level, redact: { paths: REDACT, censor: "[redacted]" }, base: { pid: process.pid } };
  return cfg.format === "text" ? pino(options, textDestination(out)) : pino(options, out as DestinationStream);
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
