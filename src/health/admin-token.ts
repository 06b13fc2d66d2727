// The admin bearer token from admin.tokenFile: read at start (a missing or empty file is a start-up
// error), re-read when the file changes so it can be rotated without a restart, and compared in
// constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { FileAccessError, PuppetHaError } from "../errors.js";

export class AdminToken {
  readonly file: string;
  #digest: Buffer;
  #mtimeMs: number;

  constructor(file: string) {
    this.file = file;
    this.#mtimeMs = this.#stat();
    this.#digest = this.#read();
  }

  /** True when `presented` equals the token; the time taken does not depend on where they differ. */
  matches(presented: string): boolean {
    this.#reloadIfChanged();
    const digest = createHash("sha256").update(presented).digest();
    return timingSafeEqual(digest, this.#digest);
  }

  #reloadIfChanged(): void {
    try {
      const mtimeMs = this.#stat();
      if (mtimeMs !== this.#mtimeMs) {
        this.#digest = this.#read();
        this.#mtimeMs = mtimeMs;
      }
    } catch {
      // Keep the last good token while the file is being replaced or is briefly unreadable.
    }
  }

  #stat(): number {
    try {
      return statSync(this.file).mtimeMs;
    } catch (cause) {
      throw new FileAccessError(this.file, "admin token file", { cause });
    }
  }

  #read(): Buffer {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8").trim();
    } catch (cause) {
      throw new FileAccessError(this.file, "admin token file", { cause });
    }
    if (text === "") throw new PuppetHaError("E_FILE", `admin token file ${this.file} is empty`);
    return createHash("sha256").update(text).digest();
  }
}
