// Progress while the JVMs start: one permanent line per instance when it is started and when it
// answers, with elapsed seconds; on a TTY also a spinner line naming what is still starting.

const FRAMES = ["|", "/", "-", "\\"];

export interface ProgressOptions {
  out?: NodeJS.WriteStream;
  /** Defaults to out.isTTY. */
  tty?: boolean;
  now?: () => number;
}

export class Progress {
  private readonly out: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly t0: number;
  private readonly startedAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private spinnerShown = false;

  constructor(opts: ProgressOptions = {}) {
    this.out = opts.out ?? process.stdout;
    this.tty = opts.tty ?? Boolean(this.out.isTTY);
    this.now = opts.now ?? Date.now;
    this.t0 = this.now();
  }

  private elapsed(since = this.t0): string {
    return `${((this.now() - since) / 1000).toFixed(1)} s`;
  }

  /** A permanent line (clears the spinner first, redraws it after). */
  line(text: string): void {
    this.clearSpinner();
    this.out.write(`[+${this.elapsed()}] ${text}\n`);
    this.drawSpinner();
  }

  instance(name: string, event: "starting" | "ready"): void {
    if (event === "starting") {
      this.startedAt.set(name, this.now());
      this.line(`${name}: starting`);
      if (this.tty && !this.timer) {
        this.timer = setInterval(() => this.drawSpinner(), 250);
        this.timer.unref();
      }
    } else {
      const since = this.startedAt.get(name);
      this.startedAt.delete(name);
      this.line(`${name}: ready after ${since === undefined ? "?" : this.elapsed(since)}`);
      if (this.startedAt.size === 0) this.done();
    }
  }

  private drawSpinner(): void {
    if (!this.tty || this.startedAt.size === 0) return;
    const waiting = [...this.startedAt].map(([n, t]) => `${n} ${Math.round((this.now() - t) / 1000)} s`).join(", ");
    this.frame = (this.frame + 1) % FRAMES.length;
    this.out.write(`\r\x1b[K${FRAMES[this.frame] ?? "|"} waiting for ${waiting}`);
    this.spinnerShown = true;
  }

  private clearSpinner(): void {
    if (this.spinnerShown) this.out.write("\r\x1b[K");
    this.spinnerShown = false;
  }

  /** Stops the spinner (idempotent). */
  done(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clearSpinner();
  }
}
