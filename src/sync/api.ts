// The sync agent's own small HTTP API: GET /status (JSON, per destination), POST /pass (ask for a
// pass now), and what the proxy needs from a remote CA host for failback and promotion: POST /pull
// (a pull for one epoch, `final=1` during the write hold) and POST /advance-serial. Every POST needs
// the bearer token (the arbiter's token) when one is configured. Errors become HTTP only here.
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { PuppetHaError } from "../errors.js";
import { DivergenceError, FencingError } from "./errors.js";
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

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function wholeNumber(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/** 409 for fencing and divergence (with what differs), 500 otherwise; the code always. */
function sendError(res: Response, err: unknown): void {
  const e = err instanceof PuppetHaError ? err : undefined;
  const status = e instanceof FencingError || e instanceof DivergenceError ? 409 : 500;
  res.status(status).json({
    error: {
      code: e?.code ?? "E_INTERNAL", message: (err as Error).message,
      ...(e instanceof DivergenceError ? { differences: e.differences, ...(e.savedTo ? { savedTo: e.savedTo } : {}) } : {}),
    },
  });
}

export function createSyncApi(service: SyncService, opts: { tokenFile?: string } = {}): Express {
  const app = express();
  app.disable("x-powered-by");

  app.get("/status", (_req, res) => {
    res.json(service.status());
  });

  const requireToken = async (req: Request, res: Response, next: NextFunction) => {
    if (opts.tokenFile) {
      const expected = (await readFile(opts.tokenFile, "utf8")).trim();
      const m = /^Bearer (.+)$/.exec(req.get("authorization") ?? "");
      if (!m || !expected || !sameToken(m[1] as string, expected)) {
        res.status(401).set("www-authenticate", "Bearer").json({ error: "a valid bearer token is required" });
        return;
      }
    }
    next();
  };

  app.post("/pull", requireToken, async (req: Request, res: Response) => {
    // "pull now for epoch E" (final=1: the last pull of a failback, under the proxy's write hold):
    // waits; 200 with the pass report when in sync at E, 409 when fenced or diverged.
    const q = req.query as Record<string, string | undefined>;
    const destination = q.destination ?? "";
    const epoch = wholeNumber(q.epoch);
    if (epoch === undefined || destination === "") {
      res.status(400).json({ error: { code: "E_BAD_REQUEST", message: "pull needs ?destination=NAME&epoch=E (a whole number)" } });
      return;
    }
    if (!service.destinations.includes(destination)) {
      res.status(404).json({ error: { code: "E_NOT_FOUND", message: `"${destination}" is not a destination of this sync agent` } });
      return;
    }
    try {
      const final = q.final === "1" || q.final === "true";
      res.json(reportJson(await (final ? service.finalPull(destination, epoch) : service.pullNow(destination, epoch))));
    } catch (err) {
      sendError(res, err);
    }
  });

  app.post("/advance-serial", requireToken, async (req: Request, res: Response) => {
    // Promotion of this host's CA: skip `gap` serials, once per epoch (asked twice: one gap).
    const q = req.query as Record<string, string | undefined>;
    const epoch = wholeNumber(q.epoch);
    const gap = wholeNumber(q.gap);
    if (epoch === undefined || gap === undefined || !q.cadir) {
      res.status(400).json({ error: { code: "E_BAD_REQUEST", message: "advance-serial needs ?cadir=NAME&gap=N&epoch=E (whole numbers)" } });
      return;
    }
    try {
      res.json(await service.advanceSerial(q.cadir, gap, epoch));
    } catch (err) {
      sendError(res, err);
    }
  });

  app.post("/pass", requireToken, async (req: Request, res: Response) => {
    const q = req.query as Record<string, string | undefined>;
    const destination = q.destination;
    if (destination !== undefined && !service.destinations.includes(destination)) {
      res.status(404).json({ error: `"${destination}" is not a destination of this sync agent` });
      return;
    }
    if (q.epoch !== undefined) {
      // "pull now for epoch E": waits, 200 when in sync at E, 409 when fenced or diverged.
      const epoch = Number(q.epoch);
      if (!Number.isSafeInteger(epoch) || epoch < 0 || destination === undefined) {
        res.status(400).json({ error: "epoch needs a destination and a whole number" });
        return;
      }
      try {
        res.json(reportJson(await service.pullNow(destination, epoch)));
      } catch (err) {
        const e = err instanceof PuppetHaError ? err : undefined;
        res.status(e instanceof FencingError || e?.code === "E_DIVERGED" ? 409 : 500).json({ error: { code: e?.code ?? "E_INTERNAL", message: (err as Error).message } });
      }
      return;
    }
    const pending = service.requestPass(destination, "api");
    if (q.wait === "true" || q.wait === "1") {
      const reports = await pending;
      res.status(reports.every((r) => r.ok) ? 200 : 409).json({ reports: reports.map(reportJson) });
    } else {
      res.status(202).json({ requested: destination ? [destination] : service.destinations });
    }
  });

  app.use((_req, res) => {
    res.status(404).json({ error: "not found" });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err instanceof Error ? err.message : String(err) });
  });
  return app;
}
