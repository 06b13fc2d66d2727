// The sync agent's own small HTTP API: GET /status (JSON, per destination), POST /pass (ask for a
// pass now), and what the proxy needs from a remote CA host for failback and promotion: POST /pull
// (a pull for one epoch, `final=1` during the write hold) and POST /advance-serial. Every POST needs
// the bearer token (the arbiter's token) when one is configured. Errors are rendered by
// src/http-error.ts: always `{error: {code, message, ...}}` with the status of the error's class.
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError } from "../errors.js";
import { sendError } from "../http-error.js";
import { bearerToken, TokenFile } from "../token.js";
import { DivergenceError } from "./errors.js";
import type { PassReport, SyncService } from "./service.js";

export function reportJson(r: PassReport) {
  return {
    destination: r.destination, ok: r.ok, result: r.result, epoch: r.epoch, source: r.source,
    durationMs: r.durationMs, bytes: r.bytes, reasons: r.reasons,
    ...(r.manifest ? { manifest: r.manifest, files: r.files } : {}),
    ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
    ...(r.differences ? { differences: r.differences } : {}),
  };
}

function wholeNumber(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/** Any error as `{error: {code, message}}`; a divergence also says what differs and where it was saved. */
function fail(req: Request, res: Response, err: unknown): void {
  const details = err instanceof DivergenceError ? { differences: err.differences, ...(err.savedTo ? { savedTo: err.savedTo } : {}) } : undefined;
  sendError(req, res, err, { fallback: "json", ...(details ? { details } : {}) });
}

function destinationOf(service: SyncService, name: string): string {
  if (!service.destinations.includes(name)) throw new NotFoundError(`"${name}" is not a destination of this sync agent`);
  return name;
}

/**
 * The API on `service`. `token` (or `tokenFile`, read now: a missing or empty file is a start-up
 * error) guards every POST; it is re-read when the file changes and on SIGHUP (token.reload()).
 */
export function createSyncApi(service: SyncService, opts: { tokenFile?: string; token?: TokenFile } = {}): Express {
  const token = opts.token ?? (opts.tokenFile ? new TokenFile(opts.tokenFile, { what: "arbiter token file" }) : undefined);
  const app = express();
  app.disable("x-powered-by");

  app.get("/status", (_req, res) => {
    res.json(service.status());
  });

  const requireToken = (req: Request, res: Response, next: NextFunction) => {
    if (token) {
      const presented = bearerToken(req.get("authorization"));
      if (presented === undefined) return fail(req, res, new UnauthorizedError("a bearer token is required (the arbiter's token)", "Bearer"));
      if (!token.matches(presented)) return fail(req, res, new ForbiddenError("wrong bearer token"));
    }
    next();
  };

  app.post("/pull", requireToken, async (req: Request, res: Response) => {
    // "pull now for epoch E" (final=1: the last pull of a failback, under the proxy's write hold):
    // waits; 200 with the pass report when in sync at E, 409 when fenced or diverged.
    const q = req.query as Record<string, string | undefined>;
    const destination = q.destination ?? "";
    const epoch = wholeNumber(q.epoch);
    try {
      if (epoch === undefined || destination === "") throw new BadRequestError(400, "pull needs ?destination=NAME&epoch=E (a whole number)");
      destinationOf(service, destination);
      const final = q.final === "1" || q.final === "true";
      res.json(reportJson(await (final ? service.finalPull(destination, epoch) : service.pullNow(destination, epoch))));
    } catch (err) {
      fail(req, res, err);
    }
  });

  app.post("/advance-serial", requireToken, async (req: Request, res: Response) => {
    // Promotion of this host's CA: skip `gap` serials, once per epoch (asked twice: one gap).
    const q = req.query as Record<string, string | undefined>;
    const epoch = wholeNumber(q.epoch);
    const gap = wholeNumber(q.gap);
    try {
      if (epoch === undefined || gap === undefined || !q.cadir) throw new BadRequestError(400, "advance-serial needs ?cadir=NAME&gap=N&epoch=E (whole numbers)");
      res.json(await service.advanceSerial(q.cadir, gap, epoch));
    } catch (err) {
      fail(req, res, err);
    }
  });

  app.post("/pass", requireToken, async (req: Request, res: Response) => {
    const q = req.query as Record<string, string | undefined>;
    const destination = q.destination;
    try {
      if (destination !== undefined) destinationOf(service, destination);
      if (q.epoch !== undefined) {
        // "pull now for epoch E": waits, 200 when in sync at E, 409 when fenced or diverged.
        const epoch = wholeNumber(q.epoch);
        if (epoch === undefined || destination === undefined) throw new BadRequestError(400, "epoch needs a destination and a whole number");
        res.json(reportJson(await service.pullNow(destination, epoch)));
        return;
      }
      const pending = service.requestPass(destination, "api");
      if (q.wait === "true" || q.wait === "1") {
        const reports = await pending;
        res.status(reports.every((r) => r.ok) ? 200 : 409).json({ reports: reports.map(reportJson) });
      } else {
        res.status(202).json({ requested: destination ? [destination] : service.destinations });
      }
    } catch (err) {
      fail(req, res, err);
    }
  });

  app.use((req, res) => {
    fail(req, res, new NotFoundError(`no route ${req.method} ${req.path}`));
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    fail(req, res, err);
  });
  return app;
}
