// The admin API of the admin listener: GET /api/ca (arbiter state, for sync agents) and the
// operator actions (failover, failback, drain, enable). Bearer token from admin.tokenFile on every
// route; the actions go through the narrow AdminActions interface, their typed errors are rendered
// by src/http-error.ts, and each action is logged and recorded as an event with the caller's address.
// Log lines carry the path without its query string and never the Authorization header.
import { Router, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "../log.js";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../errors.js";
import { sendError } from "../http-error.js";
import { bearerToken, redactTarget, type TokenFile } from "../token.js";
import type { ArbiterReport } from "./report.js";
import { EventKind, type EventLog } from "./events.js";

/** What GET /api/ca answers. */
export interface CaState {
  epoch: number;
  active: string;
  primary: string;
  failback: ArbiterReport["failback"];
}

/**
 * What the admin API asks of the proxy. Methods may throw the errors of ./admin-errors.js
 * (UnknownBackendError → 404, AdminConflictError → 409, AdminUnavailableError → 503) or any other
 * PuppetHaError (status from the catalog of src/errors.ts); anything else → 500.
 * The resolved values are returned to the caller as `result`.
 */
export interface AdminActions {
  caState(): CaState | Promise<CaState>;
  failover(): Promise<unknown>;
  failback(): Promise<unknown>;
  drain(backend: string): Promise<unknown>;
  enable(backend: string): Promise<unknown>;
}

export interface AdminApiOptions {
  actions: AdminActions;
  events: EventLog;
  /** undefined when admin.tokenFile is not set: every /api request is refused. */
  token: TokenFile | undefined;
  logger: Logger;
}

const REALM = 'Bearer realm="puppet-ha admin"';

/** The caller's address, without the IPv4-mapped IPv6 prefix. */
export function callerOf(req: Request): string {
  return (req.socket.remoteAddress ?? "unknown").replace(/^::ffff:/, "");
}

export function createAdminApi(opts: AdminApiOptions): Router {
  const { actions, events, token, logger } = opts;
  const router = Router();

  router.use("/api", (req: Request, res: Response, next: NextFunction) => {
    const caller = callerOf(req);
    const refuse = (err: UnauthorizedError | ForbiddenError) => {
      // Refusals are logged but not recorded as events: an unauthenticated caller must not be
      // able to flush the real events out of the ring buffer.
      logger.warn({ caller, method: req.method, path: redactTarget(req.originalUrl), status: err.status }, `admin API refused: ${err.message}`);
      sendError(req, res, err, { fallback: "json" });
    };
    if (!token) {
      refuse(new UnauthorizedError("the admin API is disabled: set admin.tokenFile in the puppet-ha config", `${REALM}, error="invalid_token", error_description="no admin token configured"`));
      return;
    }
    const presented = bearerToken(req.get("authorization"));
    if (presented === undefined) {
      refuse(new UnauthorizedError("a bearer token is required (Authorization: Bearer <token from admin.tokenFile>)", REALM));
      return;
    }
    if (!token.matches(presented)) {
      refuse(new ForbiddenError("wrong admin token"));
      return;
    }
    next();
  });

  router.get("/api/ca", async (_req, res) => {
    const s = await actions.caState();
    res.set("Cache-Control", "no-store").json({ epoch: s.epoch, active: s.active, primary: s.primary, failback: s.failback });
  });

  const action = (name: string, run: (req: Request) => Promise<unknown>) => async (req: Request, res: Response) => {
    const caller = callerOf(req);
    const what = req.params.name ? `${name} ${String(req.params.name)}` : name;
    logger.info({ caller, action: what }, `admin action ${what} requested`);
    try {
      const result = await run(req);
      events.record(EventKind.admin, `${what} by ${caller}: done`);
      logger.info({ caller, action: what }, `admin action ${what} done`);
      res.json({ ok: true, action: what, result: result ?? null });
    } catch (err) {
      const r = sendError(req, res, err, { fallback: "json", internalMessage: "internal error (see the proxy log)" });
      events.record(EventKind.admin, `${what} by ${caller}: refused (${r.message})`);
      const level = r.status >= 500 ? "error" : "warn";
      logger[level]({ caller, action: what, status: r.status, err }, `admin action ${what} failed: ${r.message}`);
    }
  };

  router.post("/api/ca/failover", action("failover", () => actions.failover()));
  router.post("/api/ca/failback", action("failback", () => actions.failback()));
  router.post("/api/backends/:name/drain", action("drain", (req) => actions.drain(String(req.params.name))));
  router.post("/api/backends/:name/enable", action("enable", (req) => actions.enable(String(req.params.name))));

  router.all("/api/{*rest}", (req, res) => {
    sendError(req, res, new NotFoundError(`no admin API route ${req.method} ${req.path}`), { fallback: "json" });
  });
  return router;
}
