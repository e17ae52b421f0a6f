/** Calendar helpers on UTC day numbers (days since 1970-01-01) and DICOM DA/TM/AS strings. */
import { dayNumber } from "@dicom-pipes/dimse/records";

const DAY_MS = 86_400_000;

export function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** Day number of a `YYYYMMDD` string, or undefined when it is not a real calendar date. */
export function parseDa(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (!m || Number(m[1]) < 1900) return undefined;
  return dayNumber(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** 0 = Sunday … 6 = Saturday. */
export function weekday(day: number): number {
  return new Date(day * DAY_MS).getUTCDay();
}

export type TimeStyle = "hhmmss" | "frac6" | "frac3" | "hhmm";

/** A TM value for seconds since midnight, in a device's habitual format. */
export function formatTm(secs: number, style: TimeStyle, fraction: number): string {
  const s = Math.max(0, Math.min(86_399, Math.floor(secs)));
  const hh = pad(Math.floor(s / 3600), 2);
  const mm = pad(Math.floor((s % 3600) / 60), 2);
  const ss = pad(s % 60, 2);
  switch (style) {
    case "hhmm":
      return hh + mm;
    case "frac3":
      return `${hh}${mm}${ss}.${pad(Math.floor(fraction * 1000), 3)}`;
    case "frac6":
      return `${hh}${mm}${ss}.${pad(Math.floor(fraction * 1_000_000), 6)}`;
    default:
      return hh + mm + ss;
  }
}

/** Patient's Age (AS) on a day: `NNNY`, or `NNNM`/`NNNW`/`NNND` for the very young. */
export function formatAge(birthDay: number, onDay: number): string {
  const b = new Date(birthDay * DAY_MS);
  const o = new Date(onDay * DAY_MS);
  let months = (o.getUTCFullYear() - b.getUTCFullYear()) * 12 + (o.getUTCMonth() - b.getUTCMonth());
  if (o.getUTCDate() < b.getUTCDate()) months--;
  const years = Math.floor(months / 12);
  if (years >= 2) return `${pad(Math.min(years, 999), 3)}Y`;
  if (months >= 1) return `${pad(months, 3)}M`;
  const days = Math.max(0, onDay - birthDay);
  if (days >= 7) return `${pad(Math.floor(days / 7), 3)}W`;
  return `${pad(days, 3)}D`;
}
