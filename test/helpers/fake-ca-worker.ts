// A CA worker that keeps a real cadir like puppetserver: a CSR lands in requests/<cn>.pem; signing
// reads the hex `serial` file, writes signed/<cn>.pem (a real certificate with that serial), appends
// the inventory line and writes serial + 1. Every write is logged with the X-Puppet-HA-Epoch the
// proxy sent. It can be killed (sockets dropped, restarted later on the same port) or paused.
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import forge from "node-forge";
import type { CaWrite } from "./ca-history-checker.js";
import type { TestCa } from "./pki.js";

const stamp = (d: Date) => `${d.toISOString().slice(0, 19)}UTC`;

/** Signs with the cadir's CA key; every certificate carries the CA's own public key (no key generation: fast). */
function signer(ca: TestCa): (certname: string, serialHex: string) => string {
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const leaf = forge.pki.setRsaPublicKey(caKey.n, caKey.e);
  return (certname, serialHex) => {
    const c = forge.pki.createCertificate();
    c.publicKey = leaf;
    c.serialNumber = serialHex.length % 2 === 1 ? `0${serialHex}` : serialHex;
    c.validity.notBefore = new Date(Date.now() - 86_400_000);
    c.validity.notAfter = new Date(Date.now() + 5 * 365 * 86_400_000);
    c.setSubject([{ name: "commonName", value: certname }]);
    c.setIssuer(caCert.subject.attributes);
    c.sign(caKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(c);
  };
}

export class FakeCaWorker {
  readonly url: string;
  private server: Server;
  private readonly sockets = new Set<Socket>();
  private paused: (() => void)[] | undefined;
  private readonly sign: (certname: string, serialHex: string) => string;
  /** When this CA last wrote its cadir (a CSR or a signing). */
  lastWriteAt = 0;

  private constructor(readonly name: string, readonly dir: string, ca: TestCa, private readonly log: CaWrite[], readonly port: number, server: Server) {
    this.url = `http://127.0.0.1:${port}`;
    this.server = server;
    this.sign = signer(ca);
  }

  /** Serve `dir` (a complete cadir) on 127.0.0.1; writes go into `log`. Closed in teardown. */
  static async start(t: { after(fn: () => unknown): void }, name: string, dir: string, ca: TestCa, log: CaWrite[]): Promise<FakeCaWorker> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const w = new FakeCaWorker(name, dir, ca, log, (server.address() as AddressInfo).port, server);
    w.attach(server);
    t.after(() => w.kill());
    return w;
  }

  get running(): boolean {
    return this.server.listening;
  }

  get isPaused(): boolean {
    return this.paused !== undefined;
  }

  /** The process dies: the listener closes, every connection is dropped, queued requests are lost. */
  kill(): Promise<void> {
    this.paused = undefined;
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
  }

  /** Start again on the same port and cadir. */
  async restart(): Promise<void> {
    await this.kill();
    const server = createServer();
    this.attach(server);
    for (let tries = 0; ; tries++) {
      try {
        await new Promise<void>((resolve, reject) => server.once("error", reject).listen(this.port, "127.0.0.1", () => resolve()));
        break;
      } catch (err) {
        if (tries >= 20) throw err;
        await new Promise((r) => setTimeout(r, 50)); // the port is still in TIME_WAIT-like use: try again
      }
    }
    this.server = server;
  }

  /** Stop answering (as under SIGSTOP): connections are accepted, requests wait. */
  pause(): void {
    this.paused ??= [];
  }

  /**
   * Go on. Requests whose connection closed meanwhile are dropped unanswered and unprocessed (a
   * real puppetserver may still finish such a write: that is divergence the failback guard reports).
   */
  resume(): void {
    const queued = this.paused ?? [];
    this.paused = undefined;
    for (const go of queued) go();
  }

  private attach(server: Server): void {
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const go = () => {
          if (req.socket.destroyed) return;
          this.handle(req, res, Buffer.concat(chunks).toString());
        };
        if (this.paused) this.paused.push(go);
        else go();
      });
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const url = req.url ?? "";
    const epochHeader = req.headers["x-puppet-ha-epoch"];
    const epoch = typeof epochHeader === "string" ? Number(epochHeader) : undefined;
    const reply = (status: number, text = "", headers: Record<string, string> = {}): void => {
      res.writeHead(status, { "content-type": "text/plain", "x-chaos-ca": this.name, "x-chaos-epoch": String(epoch ?? ""), ...headers }).end(text);
    };
    if (url.startsWith("/status/v1/simple")) return reply(200, "running");
    if (req.method === "GET" && url === "/puppet-ca/v1/certificate/ca") return reply(200, this.read("ca_crt.pem"));
    if (req.method === "GET" && url === "/puppet-ca/v1/certificate_revocation_list/ca") return reply(200, this.read("ca_crl.pem"));
    const m = /^\/puppet-ca\/v1\/(certificate_request|certificate_status|certificate)\/([a-z0-9.-]+)$/.exec(url);
    if (!m) return reply(404, `not found: ${url}`);
    const [, what, certname] = m as unknown as [string, string, string];
    if (req.method === "GET" && what === "certificate") {
      const p = join(this.dir, "signed", `${certname}.pem`);
      return existsSync(p) ? reply(200, readFileSync(p, "utf8")) : reply(404, `Could not find certificate ${certname}`);
    }
    if (req.method === "PUT" && what === "certificate_request") {
      this.write(`requests/${certname}.pem`, body);
      this.log.push({ ca: this.name, epoch, at: Date.now(), kind: "csr", certname });
      return reply(200, "");
    }
    if (req.method === "PUT" && what === "certificate_status" && /"desired_state"\s*:\s*"signed"/.test(body)) {
      if (!existsSync(join(this.dir, "requests", `${certname}.pem`))) return reply(404, `No certificate request for ${certname}`);
      const serial = this.signNow(certname);
      this.log.push({ ca: this.name, epoch, at: Date.now(), kind: "sign", certname, serial });
      return reply(204, "", { "x-chaos-serial": serial });
    }
    return reply(400, `unsupported: ${req.method ?? ""} ${url}`);
  }

  /** One signing, synchronously (puppetserver serializes them too): returns the serial as 0x.... */
  private signNow(certname: string): string {
    const n = parseInt(this.read("serial").trim(), 16);
    const hex = n.toString(16).toUpperCase().padStart(4, "0");
    this.write(`signed/${certname}.pem`, this.sign(certname, hex));
    const now = new Date();
    appendFileSync(join(this.dir, "inventory.txt"), `0x${hex} ${stamp(now)} ${stamp(new Date(now.getTime() + 5 * 365 * 86_400_000))} /CN=${certname}\n`);
    this.write("serial", (n + 1).toString(16).toUpperCase().padStart(4, "0"));
    rmSync(join(this.dir, "requests", `${certname}.pem`), { force: true });
    return `0x${hex}`;
  }

  private read(path: string): string {
    return readFileSync(join(this.dir, path), "utf8");
  }

  /** Write through a temporary name and rename, as puppetserver does (`<name><digits>tmp`). */
  private write(path: string, data: string): void {
    const p = join(this.dir, path);
    const tmp = `${p}${process.pid}${Date.now()}tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, p);
    this.lastWriteAt = Date.now();
  }
}
