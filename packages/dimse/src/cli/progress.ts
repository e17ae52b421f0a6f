/**
 * A one-line progress display on stderr, only when stderr is a TTY:
 * done/total, percent, rate and ETA when the total is known
 * (`progressLine`), and a one-line summary at the end (`Progress.finish`).
 */
import type { Writable } from "node:stream";
import type { CliLogger } from "./logger.js";

export interface ProgressOptions {
  stream: Writable & { isTTY?: boolean; columns?: number };
  enabled: boolean;
}

/** Whether progress should be shown: TTY stderr, not quiet, not CI, not disabled. */
export function progressWanted(
  stream: { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
  quiet: boolean,
  disabled = false,
): boolean {
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

/** What a run has done so far, for `progressLine` and `summaryLine`. */
export interface ProgressCounts {
  /** Items finished (requests, files), `skipped` included. */
  done: number;
  /** Items in all, once known. */
  total?: number;
  /** Plural noun for the items: "requests", "files". */
  unit: string;
  /** Items finished without work (e.g. found in a journal): left out of the rate and ETA. */
  skipped?: number;
  /** Bytes moved so far: shown with their rate. */
  bytes?: number;
  /** Further counts, shown after the first part: "340 objects". */
  extra?: string[];
  /** Failures, shown last when not zero. */
  failed?: number;
}

/**
 * `12/40 requests (30%), 340 objects, 120.5 MB, 1.2 MB/s, ETA 2m10s, 2 failed`;
 * without a total: `12 requests, …, 1.2 MB/s, 0.4 requests/s`. The rate and
 * the ETA are averages since the start (steady over hours, where a recent
 * window swings with study sizes); no ETA before the first item is done.
 */
export function progressLine(counts: ProgressCounts, elapsedMs: number): string {
  // A total the run has gone past (a count that was off) is no total.
  const c =
    counts.total !== undefined && counts.total < counts.done
      ? { ...counts, total: undefined }
      : counts;
  const parts = [counted(c), ...(c.extra ?? [])];
  const secs = elapsedMs / 1000;
  const worked = c.done - (c.skipped ?? 0);
  if (c.bytes !== undefined)
    parts.push(formatBytes(c.bytes), `${formatBytes(secs > 0 ? c.bytes / secs : 0)}/s`);
  if (c.total !== undefined) {
    if (worked > 0 && secs > 0 && c.total > c.done)
      parts.push(`ETA ${formatDuration(((c.total - c.done) * secs) / worked)}`);
  } else if (secs > 0) parts.push(`${(worked / secs).toFixed(1)} ${c.unit}/s`);
  if (c.failed) parts.push(`${c.failed} failed`);
  return parts.join(", ");
}

/** `40 requests in 3m12s, 340 objects, 120.5 MB, 640.2 KB/s, 2 failed` (`12/40 requests` when stopped early). */
export function summaryLine(c: ProgressCounts, elapsedMs: number): string {
  const secs = elapsedMs / 1000;
  const parts = [
    `${counted({ ...c, total: c.total !== undefined && c.total > c.done ? c.total : undefined }, false)} in ${formatDuration(secs)}`,
    ...(c.extra ?? []),
  ];
  if (c.bytes !== undefined)
    parts.push(formatBytes(c.bytes), `${formatBytes(secs > 0 ? c.bytes / secs : 0)}/s`);
  if (c.failed) parts.push(`${c.failed} failed`);
  return parts.join(", ");
}

function counted(c: ProgressCounts, percent = true): string {
  if (c.total === undefined) return `${c.done} ${c.unit}`;
  const pct = c.total > 0 ? Math.floor((100 * Math.min(c.done, c.total)) / c.total) : 100;
  return `${c.done}/${c.total} ${c.unit}${percent ? ` (${pct}%)` : ""}`;
}

/** `45s`, `3m05s`, `2h03m`, `3d04h`. */
export function formatDuration(secs: number): string {
  const s = Math.max(0, Math.round(secs));
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
}

export class Progress {
  private last = 0;
  private shown = false;
  /** When the run started, for rates and ETA. */
  readonly started = Date.now();
  constructor(private readonly o: ProgressOptions) {}

  /** Whether the line is drawn (see `progressWanted`). */
  get enabled(): boolean {
    return this.o.enabled;
  }

  /** Show the counts (see `progressLine`). */
  counts(c: ProgressCounts, force = false): void {
    if (!this.o.enabled) return;
    if (!force && Date.now() - this.last < 100) return;
    this.update(progressLine(c, Date.now() - this.started), force);
  }

  /**
   * The end of a run: the progress line gives way to a summary line,
   * `I: <tool>: <summary>`, written when the progress line was on (stderr a
   * terminal) or at -v; not otherwise, so that scripts and cron jobs stay
   * quiet at the default level, and never with -q.
   */
  finish(log: CliLogger, c: ProgressCounts): void {
    this.clear();
    if (!this.o.enabled && !log.enabled("info")) return;
    log.dcmtkLines("I", [`${log.tool}: ${summaryLine(c, Date.now() - this.started)}`]);
    log.flush();
  }

  /** Redraw at most 10 times a second. */
  update(text: string, force = false): void {
    if (!this.o.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    // A terminal without a size (0 columns, as under script(1)) counts as 80 wide.
    const width = (this.o.stream.columns || 80) - 1;
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
