// The twitch HTTP API (express): /puppet/twitch and /puppet/status. Errors become statuses here
// and only here. Plain text like puppet-twitch by default, JSON when the client accepts JSON.
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "../log.js";
import { PuppetHaError } from "../errors.js";
import { authenticate, presentedBy, type AuthPolicy, type Caller } from "./auth.js";
import {
  AgentDisabledError, AlreadyRunningError, AuthRequiredError, BadParameterError, ForbiddenError, RateLimitedError,
} from "./errors.js";
import { disabledMessage, runLockState } from "./locks.js";
import { describeOptions, parseTriggerQuery } from "./params.js";
import type { RateLimiter } from "./ratelimit.js";
import type { AgentRunner, RunResult } from "./runner.js";

export interface TwitchAppDeps {
  runner: AgentRunner;
  policy: AuthPolicy;
  limiter: RateLimiter;
  log: Logger;
}

type Body = { text: string; json: Record<string, unknown> };

/** JSON only when the client prefers it to text (curl's `*\/*` gets text, like puppet-twitch). */
export function wantsJson(req: Request): boolean {
  return req.accepts(["text/plain", "application/json"]) === "application/json";
}

function send(req: Request, res: Response, status: number, body: Body): void {
  if (wantsJson(req)) res.status(status).json(body.json);
  else res.status(status).type("text/plain; charset=utf-8").send(body.text);
}

function rawQuery(req: Request): string {
  const i = req.originalUrl.indexOf("?");
  return i < 0 ? "" : req.originalUrl.slice(i + 1);
}

function runJson(r: RunResult): Record<string, unknown> {
  return {
    id: r.id, status: r.status, exitCode: r.exitCode ?? null, message: r.message, startedAt: r.startedAt,
    durationMs: r.durationMs, splayMs: r.splayMs, options: r.options,
    changed: r.summary?.resources.changed ?? null, failed: r.summary?.resources.failed ?? null,
    summary: r.summary ?? null,
  };
}

export function errorStatus(err: unknown): number {
  if (err instanceof BadParameterError) return 400;
  if (err instanceof AuthRequiredError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof AlreadyRunningError) return 409;
  if (err instanceof AgentDisabledError) return 423;
  if (err instanceof RateLimitedError) return 429;
  return 500;
}

export function createTwitchApp(deps: TwitchAppDeps): express.Express {
  const { runner, policy, limiter, log } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  const identify = (req: Request, res: Response, next: NextFunction) => {
    res.locals.caller = authenticate(policy, presentedBy(req));
    next();
  };

  app.all("/puppet/twitch", identify, async (req, res) => {
    const caller = res.locals.caller as Caller;
    if (req.method !== "GET" && req.method !== "POST") {
      res.set("Allow", "GET, POST");
      send(req, res, 405, { text: "Method not allowed", json: { status: "error", error: "E_METHOD", message: "Method not allowed" } });
      return;
    }
    const retryAfter = limiter.take(caller.identity);
    if (retryAfter > 0) throw new RateLimitedError(retryAfter);
    const trigger = parseTriggerQuery(rawQuery(req));
    const run = runner.start(trigger, caller.identity);
    log.info({ caller: caller.identity, run: run.id, options: describeOptions(trigger), async: trigger.async }, "puppet run triggered");
    if (trigger.async) {
      send(req, res, 202, { text: "Triggered puppet run", json: { status: "triggered", message: "Triggered puppet run", run: { id: run.id } } });
      return;
    }
    const r = await run.done;
    if (r.ok) {
      send(req, res, 200, { text: "Puppet run complete", json: { status: "complete", message: "Puppet run complete", run: runJson(r) } });
    } else if (r.status === "locked") {
      send(req, res, 409, { text: "Puppet already running", json: { status: "running", error: "E_TWITCH_RUNNING", message: "Puppet already running", run: runJson(r) } });
    } else {
      send(req, res, 500, { text: `Puppet run failed: ${r.message}`, json: { status: "failed", error: "E_TWITCH_RUN_FAILED", message: r.message, run: runJson(r) } });
    }
  });

  app.get("/puppet/status", identify, (req, res) => {
    const paths = runner.paths;
    const own = runner.running;
    const lock = runLockState(runner.probe.readFile(paths.runLockFile), (pid) => runner.probe.cmdline(pid));
    const disabled = disabledMessage(runner.probe.readFile(paths.disabledLockFile));
    const lastRun = runner.readSummary() ?? null;
    const last = runner.lastResult;
    const json = {
      running: own !== undefined || lock.state === "live",
      run: own ?? null,
      agentLockPid: lock.state === "live" ? lock.pid : null,
      disabled: disabled !== undefined,
      disabled_message: disabled ?? null,
      lastRun,
      lastTriggered: last ? runJson(last) : null,
    };
    const lines = [
      `running: ${json.running ? "yes" : "no"}`,
      `disabled: ${disabled === undefined ? "no" : `yes${disabled ? ` (${disabled})` : ""}`}`,
    ];
    if (lastRun) {
      lines.push(
        `last run: ${lastRun.time ?? "unknown time"}, ${lastRun.outcome}, exit code ${lastRun.exitCode}`,
        `resources: ${lastRun.resources.changed} changed, ${lastRun.resources.failed} failed, ${lastRun.resources.total} total`,
        `duration: ${lastRun.durationSeconds ?? "?"} s`,
      );
    } else {
      lines.push("last run: none");
    }
    if (last) lines.push(`last triggered run: ${last.status}, exit code ${last.exitCode ?? "none"}, ${last.message}`);
    send(req, res, 200, { text: lines.join("\n") + "\n", json });
  });

  app.use((req: Request, res: Response) => {
    send(req, res, 404, { text: "Not found", json: { status: "error", error: "E_NOT_FOUND", message: "Not found" } });
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = errorStatus(err);
    const caller = (res.locals.caller as Caller | undefined)?.identity ?? presentedBy(req).remote;
    const code = err instanceof PuppetHaError ? err.code : "E_INTERNAL";
    const message = err instanceof PuppetHaError ? err.message : "Internal error";
    if (status === 500) log.error({ err, caller }, "twitch request failed");
    else log.info({ caller, status, code, path: req.path }, message);
    const json: Record<string, unknown> = { status: "error", error: code, message };
    if (err instanceof AgentDisabledError) {
      json.status = "disabled";
      json.disabled_message = err.disabledMessage;
    }
    if (err instanceof AlreadyRunningError) {
      json.status = "running";
      json.pid = err.pid ?? null;
    }
    if (err instanceof AuthRequiredError) res.set("WWW-Authenticate", 'Bearer realm="puppet-ha twitch"');
    if (err instanceof RateLimitedError) res.set("Retry-After", String(Math.ceil(err.retryAfterMs / 1000)));
    send(req, res, status, { text: message, json });
  });
  return app;
}
