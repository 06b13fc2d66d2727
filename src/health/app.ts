// The admin listener's express app: /health, /health/live, /metrics, the status page at / and the
// admin API, and the Host guard the listener wraps it in. The proxy owns the socket; it hands this
// app a report source and its action methods.
import type { RequestListener } from "node:http";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { HostNotAllowedError, NotFoundError } from "../errors.js";
import { sendError } from "../http-error.js";
import { silentLogger, type Logger } from "../log.js";
import { hostAllowed, listenerNames } from "../request-origin.js";
import { TokenFile } from "../token.js";
import type { AdminConfig } from "./config.js";
import type { HealthReport } from "./report.js";
import type { HealthCore } from "./health-status.js";
import type { EventLog } from "./events.js";
import type { HealthMetrics } from "./metrics.js";
import { createAdminApi, type AdminActions } from "./admin-api.js";
import { renderStatusFragment, renderStatusPage, STATUS_PAGE_CSP } from "./status-page.js";

export interface AdminAppOptions {
  /** The current state, judged (assessHealth() of ./health-status.js); called once per request. */
  getReport: () => HealthCore | Promise<HealthCore>;
  actions: AdminActions;
  /** Events shown on /health and the status page; failover/failback events are counted in metrics. */
  events: EventLog;
  metrics: HealthMetrics;
  /** admin.tokenFile; read now (a missing or empty file throws FileAccessError), re-read on change. */
  tokenFile: string | undefined;
  version: string;
  logger?: Logger;
}

export function createAdminApp(opts: AdminAppOptions): Express {
  const logger = opts.logger ?? silentLogger();
  const token = opts.tokenFile ? new TokenFile(opts.tokenFile, { what: "admin token file", warn: (m) => logger.warn(m) }) : undefined;
  const { events, metrics } = opts;
  events.onRecord((e) => metrics.countEvent(e));

  const report = async (): Promise<HealthReport> => {
    const core = await opts.getReport();
    const { status, reasons, time, ...rest } = core;
    return { status, reasons, time, version: opts.version, ...rest, events: events.list() };
  };

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use((_req, res, next) => {
    res.set({ "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store" });
    next();
  });

  app.get("/health/live", (_req, res) => {
    res.json({ status: "live", version: opts.version });
  });

  app.get("/health", async (_req, res) => {
    const r = await report();
    res.status(r.status === "down" ? 503 : 200).json(r);
  });

  app.get("/metrics", async (_req, res) => {
    const text = await metrics.render(await report());
    res.type(metrics.contentType).send(text);
  });

  app.get("/", async (req, res) => {
    const r = await report();
    const html = req.query.fragment === "1" ? renderStatusFragment(r) : renderStatusPage(r);
    res.set("Content-Security-Policy", STATUS_PAGE_CSP).type("html").send(html);
  });

  app.use(createAdminApi({ actions: opts.actions, events, token, logger }));

  app.use((req, res) => {
    sendError(req, res, new NotFoundError(`no route ${req.method} ${req.path}`), { fallback: "json" });
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err, path: req.path }, "admin listener: request failed");
    sendError(req, res, err, { fallback: "json", internalMessage: "internal error (see the proxy log)" });
  });
  return app;
}

/**
 * Refuse requests whose Host names none of the listener's names (admin.allowedHosts, the listen
 * address, loopback, this machine): a DNS-rebinding page could otherwise read /health and /metrics.
 */
export function hostGuard(app: RequestListener, cfg: Pick<AdminConfig, "listen" | "allowedHosts">): RequestListener {
  const names = listenerNames(cfg.listen.host, cfg.allowedHosts);
  return (req, res) => {
    if (hostAllowed(req.headers.host, names)) {
      app(req, res);
      return;
    }
    req.resume();
    sendError(req, res, new HostNotAllowedError(req.headers.host ?? "(none)"), { fallback: "json" });
  };
}
