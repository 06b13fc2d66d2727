// The signed certnames the proxy's status page compares with the fleet's reporting nodes ("never
// reported"): read from a cadir on this machine (sync.cadirs; the active CA's when local): the
// certificates in signed/ whose current serial (inventory.txt's last line for the certname) is not
// on ca_crl.pem: what `puppetserver ca list --all` shows as signed, without a pp_cli_auth client
// certificate. Read again only when signed/, inventory.txt or ca_crl.pem changed (10,000 nodes:
// one directory listing a minute).
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { caCrlOf, normalizeSerial } from "../../pki.js";
import { parseInventory } from "../../sync/cadir.js";

export interface SignedCertnames {
  /** Which cadir is read (for the page and logs). */
  readonly cadir: string;
  /** The signed, unrevoked certnames; throws when the cadir cannot be read. */
  read(): Promise<ReadonlySet<string>>;
}

/** Adds each certname's latest serial in these inventory lines to `into` (later lines win). */
export function addLatestSerials(inventoryText: string, into: Map<string, string>): Map<string, string> {
  for (const e of parseInventory(inventoryText).entries) {
    const cn = /^\/CN=([^/]+)$/.exec(e.subject)?.[1];
    if (cn !== undefined) into.set(cn, normalizeSerial(e.serial.toString(16)));
  }
  return into;
}

/** Pure: certnames of signed/<name>.pem files whose latest serial in the inventory is not revoked. */
export function unrevokedSigned(files: readonly string[], latest: ReadonlyMap<string, string>, revoked: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const f of files) {
    if (!f.endsWith(".pem")) continue;
    const name = f.slice(0, -".pem".length);
    const serial = latest.get(name);
    if (name !== "" && (serial === undefined || !revoked.has(serial))) out.add(name);
  }
  return out;
}

/**
 * inventory.txt read as puppetserver writes it, by appending: each read parses only the whole
 * lines added since the last one (100,000 lines whole: ~0.2 s on the proxy's event loop), and the
 * whole file again when it is another file, shorter, or its old end changed.
 */
export function inventoryReader(): { read(buf: Buffer, inode: number): ReadonlyMap<string, string>; parsedBytes: number } {
  let ino = -1;
  let end = 0;
  let mark = "";
  let latest = new Map<string, string>();
  const r = {
    parsedBytes: 0,
    read(buf: Buffer, inode: number): ReadonlyMap<string, string> {
      const appended = inode === ino && buf.length >= end && buf.toString("latin1", Math.max(0, end - 64), end) === mark;
      const from = appended ? end : 0;
      if (!appended) latest = new Map();
      const upTo = buf.lastIndexOf(0x0a) + 1; // a line still being written waits for the next read
      if (upTo > from) addLatestSerials(buf.toString("utf8", from, upTo), latest);
      r.parsedBytes = Math.max(0, upTo - from);
      ino = inode;
      end = Math.max(from, upTo);
      mark = buf.toString("latin1", Math.max(0, end - 64), end);
      return latest;
    },
  };
  return r;
}

/** The cadir to read: the active worker's when it is a local path, else the first local one; undefined when none is local. */
export function localCadir(cadirs: Readonly<Record<string, string>>, active: string | undefined): string | undefined {
  const local = (p: string | undefined) => (p !== undefined && p.startsWith("/") ? p : undefined);
  return local(active === undefined ? undefined : cadirs[active]) ?? Object.values(cadirs).find((p) => local(p) !== undefined);
}

/** Reads `cadir()` (it may change with the active CA), cached while its three inputs are unchanged. */
export function cadirSignedCertnames(cadir: () => string): SignedCertnames {
  let stamp = "";
  let names: ReadonlySet<string> = new Set();
  const inventory = inventoryReader();
  return {
    get cadir() {
      return cadir();
    },
    async read() {
      const dir = cadir();
      const paths = [join(dir, "signed"), join(dir, "inventory.txt"), join(dir, "ca_crl.pem"), join(dir, "ca_crt.pem")];
      const stats = await Promise.all(paths.map((p) => stat(p)));
      const now = `${dir}|${stats.map((s) => `${s.mtimeMs}:${s.size}:${s.ino}`).join("|")}`;
      if (now === stamp) return names;
      const [files, inv, crl, ca] = await Promise.all([
        readdir(paths[0] as string), readFile(paths[1] as string), readFile(paths[2] as string, "utf8"), readFile(paths[3] as string, "utf8"),
      ]);
      names = unrevokedSigned(files, inventory.read(inv, (stats[1] as { ino: number }).ino), caCrlOf(crl, ca).revoked);
      stamp = now;
      return names;
    },
  };
}

/** The source for a proxy: its sync.cadirs, preferring the active worker's; undefined when none is on this machine. */
export function signedCertnamesOf(cadirs: Readonly<Record<string, string>> | undefined, active: () => string): SignedCertnames | undefined {
  if (!cadirs || localCadir(cadirs, undefined) === undefined) return undefined;
  return cadirSignedCertnames(() => localCadir(cadirs, active()) as string);
}
