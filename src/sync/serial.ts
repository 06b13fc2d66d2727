// The serial advance on promotion: a promoted standby skips `gap` serials so that any serial the
// dead CA may have issued after the last sync is never issued twice. Pure computation plus one
// atomic write (temp file in the same dir, fsync, rename) keeping the file's owner and mode,
// because puppetserver (user puppet) must still be able to rewrite it.
import { randomBytes } from "node:crypto";
import { chmod, chown, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { formatSerial, parseSerial } from "./cadir.js";
import { CadirError } from "./errors.js";

/** The serial file text after skipping `gap` serials ("0009" + 0x1000 → "1009"). */
export function advancedSerial(current: string, gap: bigint | number): string {
  const g = BigInt(gap);
  if (g < 0n) throw new RangeError("serial gap must not be negative");
  return formatSerial(parseSerial(current) + g);
}

export interface SerialAdvance {
  cadir: string;
  epoch: number;
  before: string;
  after: string;
}

/** Replace `<cadir>/serial` atomically with `text` (no trailing newline), keeping owner and mode. */
export async function writeSerialFile(cadir: string, text: string): Promise<void> {
  const target = join(cadir, "serial");
  const info = await stat(target).catch(() => undefined);
  // A name rsync and the watch treat as transient (".name.XXXXXX").
  const tmp = join(cadir, `.serial.${randomBytes(3).toString("hex")}`);
  try {
    const fh = await open(tmp, "wx", info ? info.mode & 0o777 : 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (info) {
      await chmod(tmp, info.mode & 0o777);
      if (process.getuid?.() === 0) await chown(tmp, info.uid, info.gid);
    }
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new CadirError(`cannot write ${target}: ${(err as Error).message}`, { cause: err });
  }
}

/** Read `<cadir>/serial`, add `gap`, write it back atomically. Local cadirs only. */
export async function advanceSerialFile(cadir: string, gap: bigint | number, epoch: number): Promise<SerialAdvance> {
  let before: string;
  try {
    before = await readFile(join(cadir, "serial"), "utf8");
  } catch (err) {
    throw new CadirError(`cannot read ${join(cadir, "serial")}: ${(err as Error).message}`, { cause: err });
  }
  let after: string;
  try {
    after = advancedSerial(before, gap);
  } catch (err) {
    throw new CadirError(`${join(cadir, "serial")}: ${(err as Error).message}`, { cause: err });
  }
  await writeSerialFile(cadir, after);
  return { cadir, epoch, before: before.replace(/\r?\n$/, ""), after };
}
