/**
 * Options shared by the analysis tools (inst-count, weekday-plot): attribute
 * keys given on the command line, and the time window
 * (`--timeframe all|6m|3m|1m|Nd`, `--since/--until YYYYMMDD`, `--now YYYYMMDD`).
 *
 * pacsalyzer's windows are 180/90/30 days back from now. Its two scripts
 * disagree on the boundary day (exactly N days before today):
 * list_institution_names.py compares the StudyDate (midnight) with
 * `now − N days` including the time of day, so that day is excluded and the
 * window is the N calendar days ending today; the weekday script compares
 * dates, so that day is included (N + 1 days). `boundary` picks the rule.
 * Neither drops studies dated after today; nor do we, unless `--until`.
 */
import type { Argv } from "yargs";
import { dayNumber, formatDicomDate, localToday } from "../records/analysis.js";
import { allKeywords, lookupKeyword, parseTagHex } from "../dicom/dict.js";
import { isMetadataKey } from "../records/flat.js";
import { UsageError } from "./exit.js";

const WINDOW_GROUP = "Time window:";
/** `--timeframe` when neither it nor `--since/--until` is given. */
const DEFAULT_TIMEFRAME = "3m";

export interface WindowArgs {
  timeframe?: string;
  since?: string;
  until?: string;
  now?: string;
}

/** Adds --timeframe, --since, --until and --now. */
export function withWindowOptions<T>(y: Argv<T>): Argv<T & WindowArgs> {
  return y.options({
    timeframe: {
      alias: "t",
      type: "string",
      describe: `all, 6m (180 days), 3m (90 days), 1m (30 days) or Nd (N days) back from --now (default: ${DEFAULT_TIMEFRAME})`,
      group: WINDOW_GROUP,
    },
    since: {
      type: "string",
      describe: "first StudyDate to include, YYYYMMDD (instead of --timeframe)",
      group: WINDOW_GROUP,
    },
    until: {
      type: "string",
      describe: "last StudyDate to include, YYYYMMDD (instead of --timeframe)",
      group: WINDOW_GROUP,
    },
    now: {
      type: "string",
      describe:
        "the date taken as today, YYYYMMDD (default: today, local time), for reproducible runs",
      group: WINDOW_GROUP,
    },
  }) as unknown as Argv<T & WindowArgs>;
}

export interface DateWindow {
  /** First included day number, undefined = open. */
  start?: number;
  /** Last included day number, undefined = open. */
  end?: number;
  /** "now" as a day number. */
  now: number;
  /** True for `--timeframe all`: records without a usable StudyDate are kept. */
  all: boolean;
  /** For titles and file names: `3m`, `14d`, `all`, `20240101-20240331`. */
  label: string;
  /** Days back for a relative timeframe. */
  days?: number;
}

const NAMED: Record<string, number> = { "6m": 180, "3m": 90, "1m": 30 };

/** Parse a `YYYYMMDD` (or `YYYY-MM-DD`) option value to a day number. */
function parseDateOption(option: string, v: string): number {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(v.trim());
  const d = m ? dayNumber(Number(m[1]), Number(m[2]), Number(m[3])) : undefined;
  if (d === undefined) throw new UsageError(`--${option}: expected a date YYYYMMDD, got "${v}"`);
  return d;
}

/**
 * Resolve the window. `boundary: "exclusive"` drops the day exactly N days
 * before now (N calendar days ending today, list_institution_names.py);
 * `"inclusive"` keeps it (analyze_weekday_study_distribution.py).
 */
export function resolveWindow(a: WindowArgs, boundary: "exclusive" | "inclusive"): DateWindow {
  const now = a.now !== undefined ? parseDateOption("now", a.now) : localToday();
  if (a.since !== undefined || a.until !== undefined) {
    if (a.timeframe !== undefined)
      throw new UsageError("--timeframe cannot be combined with --since/--until");
    const start = a.since !== undefined ? parseDateOption("since", a.since) : undefined;
    const end = a.until !== undefined ? parseDateOption("until", a.until) : undefined;
    if (start !== undefined && end !== undefined && start > end)
      throw new UsageError(`--since ${a.since} is after --until ${a.until}`);
    const label = `${start !== undefined ? formatDicomDate(start) : ""}-${end !== undefined ? formatDicomDate(end) : ""}`;
    return { start, end, now, all: false, label };
  }
  const tf = (a.timeframe ?? DEFAULT_TIMEFRAME).trim();
  if (tf === "all") return { now, all: true, label: "all" };
  const m = /^(\d+)d$/.exec(tf);
  const days = NAMED[tf] ?? (m ? Number(m[1]) : undefined);
  if (days === undefined || days < 1)
    throw new UsageError(
      `--timeframe: expected all, 6m, 3m, 1m or a number of days like 14d, got "${tf}"`,
    );
  const start = boundary === "exclusive" ? now - days + 1 : now - days;
  return { start, now, all: false, label: tf, days };
}

/** Whether a day number (undefined = no usable date) falls in the window. */
export function inWindow(w: DateWindow, day: number | undefined): boolean {
  if (day === undefined) return w.all;
  return (w.start === undefined || day >= w.start) && (w.end === undefined || day <= w.end);
}

/** Human description of a window for log lines. */
export function describeWindow(w: DateWindow): string {
  if (w.all) return "all dates";
  const from = w.start !== undefined ? formatDicomDate(w.start) : "the beginning";
  const to = w.end !== undefined ? formatDicomDate(w.end) : "any later date";
  return `StudyDate from ${from} to ${to}`;
}

// ---------------------------------------------------------------- attribute keys

/**
 * Comma-separated attribute keys (`InstitutionName,Modality`): dictionary
 * keywords, 8-digit tags or reserved metadata keys; a typo is a usage error
 * with a suggestion.
 */
export function parseAnalysisKeys(text: string, option: string): string[] {
  const keys = text
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k !== "");
  if (keys.length === 0) throw new UsageError(`${option}: expected one or more attribute keywords`);
  for (const k of keys) {
    if (lookupKeyword(k) || isMetadataKey(k) || parseTagHex(k) !== undefined) continue;
    const lower = k.toLowerCase();
    const hint = allKeywords().find((w) => w.toLowerCase() === lower);
    throw new UsageError(
      `${option}: unknown attribute "${k}"${hint ? ` (did you mean ${hint}?)` : ""}`,
    );
  }
  return keys;
}

/** A column title for a key: the keyword split into words (`InstitutionName` → `Institution Name`). */
export function displayName(key: string): string {
  if (!lookupKeyword(key)) return key;
  return key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2");
}
