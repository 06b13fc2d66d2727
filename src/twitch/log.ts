// twitch's logger: the same JSON lines as src/log.ts's pino logger (level as a word, time, pid,
// bindings, fields, msg; the same keys redacted; `err` as type/message/stack; text form and
// journald priorities from ../log-lines.ts), in a page of code instead of pino on every node.
import { REDACT, destination, isJournalStream } from "../log-lines.js";

type LogFn = {
  (obj: object, msg?: string): void;
  (msg: string): void;
};

/** What twitch's code logs through: pino's Logger fits it too (tests and the fleet pass one). */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
export type LevelName = keyof typeof LEVELS;

/** Key names whose values never reach a log line (REDACT's paths, at any of their depths). */
const SECRET = new Set(REDACT.map((p) => p.split(".").pop() as string));

function redact(v: unknown, depth: number): unknown {
  if (depth > 2 || !v || typeof v !== "object" || Array.isArray(v) || v instanceof Error) return v;
  let out: Record<string, unknown> | undefined;
  for (const [k, inner] of Object.entries(v)) {
    const r = SECRET.has(k) ? "[redacted]" : redact(inner, depth + 1);
    if (r !== inner) (out ??= { ...(v as Record<string, unknown>) })[k] = r;
  }
  return out ?? v;
}

/** pino's standard `err` serializer: type, message, stack and the error's own fields. */
function serializeError(e: Error): Record<string, unknown> {
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (typeof v !== "function") own[k] = v;
  return { type: e.constructor.name, message: e.message, stack: e.stack ?? "", ...own };
}

export function createTwitchLogger(
  cfg: { level: LevelName; format: "json" | "text" }, out: NodeJS.WritableStream = process.stdout, extras: { journald?: boolean } = {},
): Logger {
  const fd = (out as { fd?: unknown }).fd;
  const journald = extras.journald ?? (typeof fd === "number" && isJournalStream(fd));
  const sink = cfg.format === "text" || journald ? destination(out, cfg.format === "text", journald) : { write: (l: string) => out.write(l) };
  const threshold = LEVELS[cfg.level];
  const make = (bindings: string): Logger => {
    const at = (level: Exclude<LevelName, "silent">): LogFn => {
      if (LEVELS[level] < threshold) return () => undefined;
      return (a: object | string, msg?: string) => {
        let fields = "";
        let text = msg;
        if (typeof a === "string") text = a;
        else {
          const obj = redact(a, 0) as Record<string, unknown>;
          const err = obj.err instanceof Error ? serializeError(obj.err) : undefined;
          const json = JSON.stringify(err ? { ...obj, err } : obj);
          if (json.length > 2) fields = `,${json.slice(1, -1)}`;
        }
        const m = text === undefined ? "" : `,"msg":${JSON.stringify(text)}`;
        sink.write(`{"level":"${level}","time":${Date.now()},"pid":${process.pid}${bindings}${fields}${m}}\n`);
      };
    };
    return {
      trace: at("trace"), debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), fatal: at("fatal"),
      child: (b) => {
        const json = JSON.stringify(redact(b, 0));
        return make(json.length > 2 ? `${bindings},${json.slice(1, -1)}` : bindings);
      },
    };
  };
  return make("");
}
