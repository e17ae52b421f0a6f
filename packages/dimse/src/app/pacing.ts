/**
 * Pacing of batch requests, for every batch tool (findscu-ts, movescu-ts):
 * `-j N` requests at a time, a pause after each request (--throttle), a
 * pause after every N requests (--batch-size/--batch-wait, as PACSIFIER),
 * a daily time window (--window/--tz, as pydicom-batch), which may cross
 * midnight, and the resume journal (--journal, --no-journal).
 */
import type { OptionSpec } from "../cli/args.js";
import type { KeysOf } from "../cli/options.js";
import { UsageError } from "../cli/exit.js";
import { sleep } from "../net/retry.js";
import type { PacingOptions } from "./options.js";

export { sleep };

/** `-j N`: N requests (associations) at once, at most `max`. */
export function jobsOption(
  group: string,
  describe = "N requests at a time, each on its own association",
  max = 32,
): OptionSpec<"jobs"> {
  return {
    key: "jobs",
    flags: ["-j", "--jobs"],
    kind: "value",
    numeric: "int",
    min: 1,
    max,
    metavar: "N",
    group,
    describe,
  };
}

/** The pacing options of a batch tool; `journalDefault` completes --journal's description. */
export function pacingOptions(
  group: string,
  journalDefault: string,
): OptionSpec<KeysOf<PacingOptions>>[] {
  return [
    jobsOption(group),
    {
      key: "throttle",
      flags: ["--throttle"],
      kind: "value",
      numeric: "number",
      min: 0,
      metavar: "SECONDS",
      group,
      describe: "pause between requests (per association)",
    },
    {
      key: "batchSize",
      flags: ["--batch-size"],
      kind: "value",
      numeric: "int",
      min: 1,
      metavar: "N",
      group,
      describe: "after every N requests, pause --batch-wait seconds",
    },
    {
      key: "batchWait",
      flags: ["--batch-wait"],
      kind: "value",
      numeric: "number",
      min: 0,
      metavar: "SECONDS",
      group,
      describe: "the pause after each batch (default 0)",
    },
    {
      key: "window",
      flags: ["--window"],
      kind: "value",
      metavar: "HH:MM-HH:MM",
      group,
      describe:
        "send requests only inside this daily window (may\ncross midnight); wait outside it",
    },
    {
      key: "tz",
      flags: ["--tz"],
      kind: "value",
      metavar: "ZONE",
      group,
      describe: "time zone of --window (IANA name; default: local)",
    },
    {
      key: "journal",
      flags: ["--journal"],
      kind: "value",
      metavar: "FILE",
      group,
      describe: `resume journal (${journalDefault}); a rerun skips\nthe requests it lists as complete`,
    },
    {
      key: "noJournal",
      flags: ["--no-journal"],
      kind: "flag",
      group,
      describe: "neither read nor write a journal",
    },
  ];
}

/** What the pacing options ask for, checked. */
export interface PacingSettings {
  jobs: number;
  throttleMs?: number;
  batchSize?: number;
  batchWaitMs?: number;
  window?: Window;
  /** The journal's path: --journal, else `defaultJournal` (none with --no-journal). */
  journal?: string;
}

export function pacingSettings(o: PacingOptions, defaultJournal?: () => string): PacingSettings {
  const ms = (v: number | undefined) => (v === undefined ? undefined : v * 1000);
  return {
    jobs: o.jobs ?? 1,
    throttleMs: ms(o.throttle),
    batchSize: o.batchSize,
    batchWaitMs: ms(o.batchWait),
    window: o.window !== undefined ? parseWindow(o.window, o.tz) : undefined,
    journal: o.noJournal ? undefined : (o.journal ?? defaultJournal?.()),
  };
}

export interface Window {
  start: number;
  end: number;
  tz?: string;
  /** Hours and minutes in the window's zone. */
  clock: Intl.DateTimeFormat;
}

export function parseWindow(text: string, tz?: string): Window {
  const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) throw new UsageError(`Invalid parameter value ${text} for option --window (HH:MM-HH:MM)`);
  const [h1, m1, h2, m2] = m.slice(1).map(Number) as [number, number, number, number];
  if (h1 > 23 || h2 > 24 || m1 > 59 || m2 > 59)
    throw new UsageError(`Invalid parameter value ${text} for option --window (HH:MM-HH:MM)`);
  let clock: Intl.DateTimeFormat;
  try {
    clock = new Intl.DateTimeFormat("en-GB", {
      timeZone: tz,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
  } catch {
    throw new UsageError(
      `Invalid parameter value ${tz} for option --tz (an IANA time zone such as Europe/Zurich)`,
    );
  }
  return { start: h1 * 60 + m1, end: h2 * 60 + m2, tz, clock };
}

/** Minutes since midnight in the window's zone. */
function minutesNow(w: Window, now = new Date()): number {
  const parts = w.clock.formatToParts(now);
  const h = Number(parts.find((p) => p.type === "hour")?.value ?? 0);
  const m = Number(parts.find((p) => p.type === "minute")?.value ?? 0);
  return h * 60 + m;
}

function insideWindow(w: Window, minutes: number): boolean {
  if (w.start === w.end) return true;
  return w.start < w.end
    ? minutes >= w.start && minutes < w.end
    : minutes >= w.start || minutes < w.end;
}

export class Scheduler {
  private started = 0;
  private waiting = false;
  private pause?: Promise<void>;

  constructor(
    private readonly o: PacingSettings & {
      signal?: AbortSignal;
      log: (msg: string) => void;
    },
  ) {}

  /** Wait until a request may start. */
  async beforeRequest(): Promise<void> {
    const w = this.o.window;
    while (w && !this.o.signal?.aborted && !insideWindow(w, minutesNow(w))) {
      if (!this.waiting) {
        const hh = String(Math.floor(w.start / 60)).padStart(2, "0");
        const mm = String(w.start % 60).padStart(2, "0");
        this.o.log(`outside the time window; waiting until ${hh}:${mm}${w.tz ? ` (${w.tz})` : ""}`);
        this.waiting = true;
      }
      await sleep(15000, this.o.signal);
    }
    this.waiting = false;
    if (this.pause) await this.pause;
    if (
      this.o.batchSize &&
      this.o.batchWaitMs &&
      this.started > 0 &&
      this.started % this.o.batchSize === 0
    ) {
      // Every worker waits at a batch boundary.
      this.o.log(`${this.started} requests sent; pausing ${this.o.batchWaitMs / 1000} s`);
      this.pause = sleep(this.o.batchWaitMs, this.o.signal).then(() => {
        this.pause = undefined;
      });
      this.started++;
      await this.pause;
      return;
    }
    this.started++;
  }

  async afterRequest(): Promise<void> {
    if (this.o.throttleMs) await sleep(this.o.throttleMs, this.o.signal);
  }
}
