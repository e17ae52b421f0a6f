/**
 * From records to per-(date, hour) study counts, and from those to the
 * samples of each weekday's boxplots, the median table and the busiest
 * slots.
 */
import {
  DistinctSet,
  fieldText,
  isoWeekday,
  parseDicomDate,
  parseDicomHour,
  type FlatRecord,
} from "@dicom-pipes/dimse/records";
import { inWindow, type DateWindow } from "@dicom-pipes/dimse/cli";

export interface Collected {
  /** Distinct studies per slot (day number × 24 + hour). */
  counts: Map<number, number>;
  firstDay?: number;
  lastDay?: number;
  records: number;
  studies: number;
  noDate: number;
  noTime: number;
  outside: number;
  noUid: number;
}

export class Collector {
  /** The keys `add` reads. */
  static readonly FIELDS = ["StudyDate", "StudyTime", "StudyInstanceUID"];
  readonly data: Collected = {
    counts: new Map(),
    records: 0,
    studies: 0,
    noDate: 0,
    noTime: 0,
    outside: 0,
    noUid: 0,
  };
  private seen = new DistinctSet();

  constructor(private readonly window: DateWindow) {}

  add(rec: FlatRecord): void {
    const d = this.data;
    d.records++;
    const day = parseDicomDate(rec.StudyDate);
    if (day === undefined) {
      d.noDate++;
      return;
    }
    if (!inWindow(this.window, day)) {
      d.outside++;
      return;
    }
    const hour = parseDicomHour(rec.StudyTime);
    if (hour === undefined) {
      d.noTime++;
      return;
    }
    const slot = day * 24 + hour;
    const uid = fieldText(rec, "StudyInstanceUID");
    if (!uid) d.noUid++;
    else if (!this.seen.addNumberPair(slot, uid)) return;
    d.counts.set(slot, (d.counts.get(slot) ?? 0) + 1);
    d.studies++;
    if (d.firstDay === undefined || day < d.firstDay) d.firstDay = day;
    if (d.lastDay === undefined || day > d.lastDay) d.lastDay = day;
  }
}

/**
 * The dates that count: every date of the window (so that a date without
 * studies contributes zeros), bounded by the data where the window is
 * open: `all` spans the first to the last study; a relative timeframe ends
 * today or at the last study if that is later.
 */
export function dateRange(w: DateWindow, c: Collected): { from: number; to: number } | undefined {
  if (c.firstDay === undefined || c.lastDay === undefined) return undefined;
  const from = w.start ?? c.firstDay;
  const to = w.end ?? (w.days !== undefined ? Math.max(w.now, c.lastDay) : c.lastDay);
  return { from, to };
}

export interface Sample {
  hour: number;
  studies: number;
}

export interface DayGroup {
  /** `""`, `(Non-Holidays)` or `(Holidays)` (plot titles and seed file names). */
  suffix: string;
  /** `""`, `non-holidays` or `holidays` (file names). */
  tag: string;
  days: number[];
}

/** Dates of a weekday (0 = Monday) in a range, split by the holiday set if given. */
export function weekdayGroups(
  weekday: number,
  from: number,
  to: number,
  holidays?: Set<number>,
): DayGroup[] {
  const days: number[] = [];
  let d = from + ((weekday - isoWeekday(from) + 7) % 7);
  for (; d <= to; d += 7) days.push(d);
  if (!holidays) return [{ suffix: "", tag: "", days }];
  return [
    { suffix: "(Non-Holidays)", tag: "non-holidays", days: days.filter((x) => !holidays.has(x)) },
    { suffix: "(Holidays)", tag: "holidays", days: days.filter((x) => holidays.has(x)) },
  ];
}

/** One sample per (date, hour): its distinct studies, zeros included unless `excludeZero`. */
export function samples(
  counts: Map<number, number>,
  days: number[],
  excludeZero: boolean,
): Sample[] {
  const out: Sample[] = [];
  for (const d of days) {
    for (let h = 0; h < 24; h++) {
      const n = counts.get(d * 24 + h) ?? 0;
      if (n === 0 && excludeZero) continue;
      out.push({ hour: h, studies: n });
    }
  }
  return out;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median per hour 0–23 of a set of samples (0 where an hour has none). */
export function hourlyMedians(list: Sample[]): number[] {
  const byHour: number[][] = Array.from({ length: 24 }, () => []);
  for (const s of list) byHour[s.hour]!.push(s.studies);
  return byHour.map(median);
}

export interface Slot {
  day: number;
  hour: number;
  studies: number;
}

/** The busiest slots: most studies first, then the earlier date and hour (deterministic ties). */
export function busiest(counts: Map<number, number>, n: number): Slot[] {
  const all: Slot[] = [];
  for (const [slot, studies] of counts) {
    const day = Math.floor(slot / 24);
    all.push({ day, hour: slot - day * 24, studies });
  }
  all.sort((a, b) => b.studies - a.studies || a.day - b.day || a.hour - b.hour);
  return all.slice(0, n);
}
