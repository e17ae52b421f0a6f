/** A one-line progress display on stderr, only when stderr is a TTY. */
import type { Writable } from "node:stream";

export interface ProgressOptions {
  stream: Writable & { isTTY?: boolean; columns?: number };
  enabled: boolean;
}

/** Whether progress should be shown: TTY stderr, not quiet, not CI, not disabled. */
export function progressWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, quiet: boolean, disabled = false): boolean {
  return Boolean(stream.isTTY) && !quiet && !disabled && !env.CI && env.TERM !== "dumb";
}

/** The progress line shown on each stream, so that log lines can clear it first. */
const shownOn = new WeakMap<object, Progress>();

/**
 * Clear the progress line on `stream`, if one is shown, before other text
 * is written there (the logger and error reports call this); the progress
 * line comes back at its next update.
 */
export function clearProgressLine(stream: object): void {
  shownOn.get(stream)?.clear(true);
}

export class Progress {
  private last = 0;
  private shown = false;
  constructor(private readonly o: ProgressOptions) {}

  /** Redraw at most 10 times a second. */
  update(text: string, force = false): void {
    if (!this.o.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const width = (this.o.stream.columns ?? 80) - 1;
    this.o.stream.write(`\r\x1b[K${text.length > width ? text.slice(0, width) : text}`);
    this.shown = true;
    shownOn.set(this.o.stream, this);
  }

  /** Erase the line; `redraw`: let the next update draw at once. */
  clear(redraw = false): void {
    if (this.shown) this.o.stream.write("\r\x1b[K");
    this.shown = false;
    if (shownOn.get(this.o.stream) === this) shownOn.delete(this.o.stream);
    if (redraw) this.last = 0;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}
