// A Puppet-shaped cadir for sync tests: real CA cert and key, CRLs with chosen numbers, signed
// certs with matching inventory lines and the `serial` file, as files in memory or on disk.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createTestCa, type TestCa } from "./pki.js";

const stamp = (d: Date) => `${d.toISOString().slice(0, 19)}UTC`;

export class FakeCadir {
  readonly ca: TestCa;
  readonly files = new Map<string, Buffer>();
  serial = 2;
  crlNumber = 1;
  readonly revoked: string[] = [];

  constructor(ca: TestCa = createTestCa("sync-test")) {
    this.ca = ca;
    this.set("ca_crt.pem", ca.certPem);
    this.set("ca_key.pem", ca.keyPem);
    this.set("ca_pub.pem", "-----BEGIN PUBLIC KEY-----\nMA==\n-----END PUBLIC KEY-----\n");
    this.set("infra_inventory.txt", "");
    this.set("infra_serials", "");
    this.set("inventory.txt", "0x0001 2026-01-01T00:00:00UTC 2041-01-01T00:00:00UTC /CN=Puppet CA: sync-test\n");
    this.writeSerial();
    this.writeCrl();
  }

  /** An independent copy (same CA), to let two sides drift apart. */
  clone(): FakeCadir {
    const c = Object.create(FakeCadir.prototype) as FakeCadir;
    Object.assign(c, { ca: this.ca, files: new Map(this.files), serial: this.serial, crlNumber: this.crlNumber, revoked: [...this.revoked] });
    return c;
  }

  set(path: string, content: string | Buffer): this {
    this.files.set(path, Buffer.isBuffer(content) ? content : Buffer.from(content));
    return this;
  }

  delete(path: string): this {
    this.files.delete(path);
    return this;
  }

  /** Sign a cert as puppetserver does: signed/<cn>.pem, inventory line, serial + 1, CSR removed. */
  sign(certname: string): string {
    const serialHex = this.serial.toString(16).toUpperCase().padStart(4, "0");
    const issued = this.ca.issue(certname, { serialHex });
    const now = new Date();
    const line = `0x${serialHex} ${stamp(now)} ${stamp(new Date(now.getTime() + 5 * 365 * 86_400_000))} /CN=${certname}\n`;
    this.set(`signed/${certname}.pem`, issued.certPem);
    this.set("inventory.txt", this.text("inventory.txt") + line);
    this.files.delete(`requests/${certname}.pem`);
    this.serial++;
    this.writeSerial();
    return `0x${serialHex}`;
  }

  /** Revoke serials: the CA's CRL is rewritten with the next CRL Number. */
  revoke(...serialHex: string[]): void {
    this.revoked.push(...serialHex.map((s) => s.replace(/^0x/, "")));
    this.crlNumber++;
    this.writeCrl();
  }

  request(certname: string): void {
    this.set(`requests/${certname}.pem`, `-----BEGIN CERTIFICATE REQUEST-----\n${Buffer.from(certname).toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`);
  }

  text(path: string): string {
    return this.files.get(path)?.toString("utf8") ?? "";
  }

  writeSerial(): void {
    this.set("serial", this.serial.toString(16).toUpperCase().padStart(4, "0"));
  }

  writeCrl(): void {
    this.set("ca_crl.pem", this.ca.crl({ number: this.crlNumber, revoked: this.revoked }));
  }

  /** Write every file into `dir`, replacing what was there. */
  writeTo(dir: string): string {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    mkdirSync(join(dir, "signed"), { recursive: true });
    mkdirSync(join(dir, "requests"), { recursive: true });
    for (const [p, data] of this.files) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), data, { mode: p === "ca_key.pem" ? 0o640 : 0o644 });
    }
    return dir;
  }
}
