// The sync agent's own small HTTP API: GET /status (JSON, per destination) and POST /pass (ask for
// a pass now; bearer token = the arbiter's token when one is configured). Errors become HTTP only here.
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { PuppetHaError } from "../errors.js";
import { FencingError } from "./errors.js";
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

export function createSyncApi(service: SyncService, opts: { tokenFile?: string } = {}): Express {
  const app = express();
  app.disable("x-powered-by");

  app.get("/status", (_req, res) => {
    res.json(service.status());
  });

  app.post("/pass", async (req: Request, res: Response) => {
    if (opts.tokenFile) {
      const expected = (await readFile(opts.tokenFile, "utf8")).trim();
      const m = /^Bearer (.+)$/.exec(req.get("authorization") ?? "");
      if (!m || !expected || !sameToken(m[1] as string, expected)) {
        res.status(401).set("www-authenticate", "Bearer").json({ error: "a valid bearer token is required" });
        return;
      }
    }
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
