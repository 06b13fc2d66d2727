// The twitch HTTP API on plain node:http: /puppet/twitch and /puppet/status. Plain text like
// puppet-twitch by default, JSON when the client prefers it; errors are rendered by
// src/http-error.ts. Browsers never trigger runs (Host, Origin, Sec-Fetch-Site checks), and
// parameters that change what runs need authentication even on loopback.
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Logger } from "./log.js";
import { MethodNotAllowedError, NotFoundError, PuppetHaError } from "../errors.js";
import { preferredFormat, sendBody, sendError } from "../http-error.js";
import { checkHost, crossSiteReason, listenerNames } from "../request-origin.js";
import { authenticate, presentedBy, type AuthPolicy, type Caller } from "./auth.js";
import { AgentDisabledError, AlreadyRunningError, AuthRequiredError, CrossSiteError, RateLimitedError } from "./errors.js";
import { disabledMessage, runLockState } from "./locks.js";
import { describeOptions, parseTriggerQuery, type RunOptions } from "./params.js";
import type { RateLimiter } from "./ratelimit.js";
import type { AgentRunner, RunResult } from "./runner.js";

export interface TwitchAppDeps {
  runner: AgentRunner;
  policy: AuthPolicy;
  limiter: RateLimiter;
  log: Logger;
  /** Names allowed in Host (listenerNames() of src/request-origin.ts); default: loopback's. */
  hostNames?: readonly string[];
}

type Body = { text: string; json: Record<string, unknown> };

function send(req: IncomingMessage, res: ServerResponse, status: number, body: Body): void {
  sendBody(res, status, req.method === "HEAD" ? "text" : preferredFormat(req.headers.accept, "text"), body);
}

function runJson(r: RunResult): Record<string, unknown> {
  return {
    id: r.id, status: r.status, exitCode: r.exitCode ?? null, message: r.message, startedAt: r.startedAt,
    durationMs: r.durationMs, splayMs: r.splayMs, options: r.options,
    changed: r.summary?.resources.changed ?? null, failed: r.summary?.resources.failed ?? null,
    summary: r.summary ?? null,
  };
}

/** Options that change what the agent does; an anonymous (loopback, no auth) caller may not set them. */
export function changesWhatRuns(o: RunOptions): boolean {
  return o.noop || o.tags.length > 0 || o.environment !== undefined;
}

/** Refuse a request a browser page of another site made (run before anything else is looked at). */
function refuseBrowsers(req: IncomingMessage): void {
  const h = req.headers;
  const reason = crossSiteReason({ host: h.host, origin: h.origin, referer: h.referer, secFetchSite: h["sec-fetch-site"] });
  if (reason) throw new CrossSiteError(reason);
}

async function trigger(d: TwitchAppDeps, req: IncomingMessage, res: ServerResponse, caller: Caller, query: string): Promise<void> {
  const { runner, limiter, log } = d;
  if (req.method !== "GET" && req.method !== "POST") throw new MethodNotAllowedError(["GET", "POST"]);
  const retryAfter = limiter.take(caller.identity);
  if (retryAfter > 0) throw new RateLimitedError(retryAfter);
  const t = parseTriggerQuery(query);
  if (caller.method === "none" && changesWhatRuns(t)) {
    throw new AuthRequiredError("noop, tags and environment need authentication (configure auth.tokenFile or auth.tls)");
  }
  const run = runner.start(t, caller.identity);
  log.info({ caller: caller.identity, run: run.id, options: describeOptions(t), async: t.async }, "puppet run triggered");
  if (t.async) {
    send(req, res, 202, { text: "Triggered puppet run", json: { status: "triggered", message: "Triggered puppet run", run: { id: run.id } } });
    return;
  }
  const r = await run.done;
  if (r.ok) {
    send(req, res, 200, { text: "Puppet run complete", json: { status: "complete", message: "Puppet run complete", run: runJson(r) } });
  } else if (r.status === "locked") {
    send(req, res, 409, { text: "Puppet already running", json: { status: "running", message: "Puppet already running", error: { code: "E_TWITCH_RUNNING", message: "Puppet already running" }, run: runJson(r) } });
  } else {
    send(req, res, 500, { text: `Puppet run failed: ${r.message}`, json: { status: "failed", message: r.message, error: { code: "E_TWITCH_RUN_FAILED", message: r.message }, run: runJson(r) } });
  }
}

function status(d: TwitchAppDeps, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== "GET" && req.method !== "HEAD") throw new MethodNotAllowedError(["GET", "HEAD"]);
  const { runner } = d;
  const lock = runLockState(runner.probe.readFile(runner.paths.runLockFile), (pid) => runner.probe.cmdline(pid));
  const disabled = disabledMessage(runner.probe.readFile(runner.paths.disabledLockFile));
  const lastRun = runner.readSummary() ?? null;
  const own = runner.running;
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
}

/** Top-level JSON fields puppet-ha fleet and other clients read besides `error`. */
function errorExtra(err: unknown, message: string): Record<string, unknown> {
  if (err instanceof AgentDisabledError) return { status: "disabled", message, disabled_message: err.disabledMessage };
  if (err instanceof AlreadyRunningError) return { status: "running", message, pid: err.pid ?? null };
  return { status: "error", message };
}

export function createTwitchApp(deps: TwitchAppDeps): RequestListener {
  const { policy, log } = deps;
  const names = deps.hostNames ?? listenerNames("127.0.0.1");
  return (req, res) => {
    req.resume(); // no route reads a body
    const target = req.url ?? "/";
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    let caller: Caller | undefined;
    const handle = async () => {
      checkHost(req.headers.host, names);
      if (path !== "/puppet/twitch" && path !== "/puppet/status") throw new NotFoundError();
      refuseBrowsers(req);
      caller = authenticate(policy, presentedBy(req));
      if (path === "/puppet/twitch") await trigger(deps, req, res, caller, q < 0 ? "" : target.slice(q + 1));
      else status(deps, req, res);
    };
    handle().catch((err: unknown) => {
      const who = caller?.identity ?? presentedBy(req).remote;
      const message = err instanceof PuppetHaError ? err.message : "Internal error";
      const extra = errorExtra(err, message);
      const headers: Record<string, string> = {};
      if (err instanceof AuthRequiredError) headers["www-authenticate"] = 'Bearer realm="puppet-ha twitch"';
      if (err instanceof RateLimitedError) headers["retry-after"] = String(Math.ceil(err.retryAfterMs / 1000));
      const r = sendError(req, res, err, { fallback: "text", extra, headers, internalMessage: "Internal error" });
      // The path only: a query string may carry anything, credentials included.
      if (r.status >= 500) log.error({ err, caller: who, path }, "twitch request failed");
      else log.info({ caller: who, status: r.status, code: r.code, path }, r.message);
    });
  };
}
