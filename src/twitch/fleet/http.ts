// A small HTTP(S) client for fleet: client certs and a private CA (which fetch cannot take on
// Node 20 without undici), our own deadline per request, the whole body as text.
import http from "node:http";
import https from "node:https";

export interface ClientTls {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function httpRequest(
  url: string,
  o: { method: string; headers?: Record<string, string>; tls?: ClientTls; timeoutMs: number },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const secure = u.protocol === "https:";
    const options: https.RequestOptions = {
      method: o.method,
      headers: o.headers ?? {},
      agent: false,
      ...(secure ? { ...o.tls } : {}),
    };
    const req = (secure ? https : http).request(u, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}
