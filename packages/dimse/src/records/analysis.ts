/**
 * Helpers for tools that analyse query results (inst-count, weekday-plot):
 * one normalisation entry point for every accepted record form, plain-text
 * field access, and DICOM DA/TM parsing to day numbers and hours.
 */
import { datasetToFlat, recordMetadata, recordToDataset, type FlatRecord } from "./flat.js";
import { isLegacyRecord, legacyToFlat } from "./legacy.js";

const HEX8 = /^[0-9A-Fa-f]{8}$/;

/** True when a record is not already flat (PS3.18 attributes, PN objects, dcmjs `_vrMap`, Orthanc `/tags`). */
function needsNormalising(rec: FlatRecord): boolean {
  for (const k in rec) {
    const v = rec[k];
    if (v !== null && typeof v === "object") {
      if (!Array.isArray(v)) return true;
      if (v.length > 0 && typeof v[0] === "object" && v[0] !== null) return true;
    }
    if (k === "_vrMap") return true;
    const c = k.charCodeAt(0);
    if (c >= 48 && c <= 57 && HEX8.test(k)) return true;
  }
  return false;
}

/**
 * Any accepted record (flat, PS3.18, dcmjs-naturalised, Orthanc, or a
 * pacsalyzer element-string object) as a flat record. Already-flat records
 * are returned as they are; unknown keys are dropped only when the
 * normaliser runs. Throws RecordError for malformed values.
 */
export function toAnalysisRecord(rec: FlatRecord): FlatRecord {
  if (isLegacyRecord(rec)) return legacyToFlat(rec);
  if (!needsNormalising(rec)) return rec;
  return { ...recordMetadata(rec), ...datasetToFlat(recordToDataset(rec, { lenient: true })) };
}

/**
 * A field as plain text: undefined when absent, "" when present but empty
 * (`null`, `""`), several values joined with `\` as in DICOM.
 */
export function fieldText(rec: FlatRecord, key: string): string | undefined {
  const v = rec[key];
  if (v === undefined) return undefined;
  if (v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v))
    return v
      .map((x) => (x === null ? "" : typeof x === "object" ? JSON.stringify(x) : String(x)))
      .join("\\");
  return JSON.stringify(v);
}

// ---------------------------------------------------------------- dates and times

const MS_PER_DAY = 86_400_000;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days since 1970-01-01 for a calendar date (proleptic Gregorian), or undefined if the date does not exist. */
export function dayNumber(y: number, m: number, d: number): number | undefined {
  if (m < 1 || m > 12 || d < 1) return undefined;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (d > (m === 2 && leap ? 29 : MONTH_DAYS[m - 1]!)) return undefined;
  // Howard Hinnant's days_from_civil.
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function digits(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = i; k < i + n; k++) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

let lastDateText = "";
let lastDate: number | undefined;
/**
 * A DICOM date (DA `YYYYMMDD`; the ACR-NEMA `YYYY.MM.DD` and ISO
 * `YYYY-MM-DD` forms are accepted too) as a day number; undefined if not
 * a real date. A DT value uses its date part.
 */
export function parseDicomDate(v: unknown): number | undefined {
  if (typeof v === "number") v = String(v);
  if (typeof v !== "string") return undefined;
  if (v === lastDateText) return lastDate;
  let s = v.trim();
  if (s.length === 10 && (s[4] === "." || s[4] === "-") && s[7] === s[4])
    s = s.slice(0, 4) + s.slice(5, 7) + s.slice(8);
  let r: number | undefined;
  if (s.length >= 8 && (s.length === 8 || /^\d{8}\d*([.+-]\d*)?$/.test(s))) {
    const y = digits(s, 0, 4);
    const m = digits(s, 4, 2);
    const d = digits(s, 6, 2);
    if (y >= 0 && m >= 0 && d >= 0) r = dayNumber(y, m, d);
  }
  lastDateText = v;
  lastDate = r;
  return r;
}

/** The hour (0–23) of a DICOM time (TM `HHMMSS.FFFFFF`, `HHMM`, `HH`, ACR-NEMA `HH:MM:SS`); undefined if invalid. */
export function parseDicomHour(v: unknown): number | undefined {
  if (typeof v === "number") v = String(v).padStart(6, "0");
  if (typeof v !== "string") return undefined;
  const s = v.trim();
  if (s.length < 2) return undefined;
  const h = digits(s, 0, 2);
  if (h < 0 || h > 23) return undefined;
  if (s.length === 2) return h;
  // ACR-NEMA HH:MM:SS: the colons go; the common HHMMSS is checked in place (no slice, no regex).
  if (s.charCodeAt(2) === 58 /* : */)
    return minutesSeconds(s.slice(3).replace(/:/g, ""), 0) ? h : undefined;
  return minutesSeconds(s, 2) ? h : undefined;
}

/** Whether `s` from `i` on is "", `MM`, `MMSS` or `MMSS.F` (up to 6 fraction digits), minutes <= 59, seconds <= 60. */
function minutesSeconds(s: string, i: number): boolean {
  const n = s.length - i;
  if (n === 0) return true;
  const mm = n >= 2 ? digits(s, i, 2) : -1;
  if (mm < 0 || mm > 59) return false;
  if (n === 2) return true;
  const ss = n >= 4 ? digits(s, i + 2, 2) : -1;
  if (ss < 0 || ss > 60) return false;
  if (n === 4) return true;
  if (s.charCodeAt(i + 4) !== 46 /* . */ || n > 11) return false;
  return i + 5 === s.length || digits(s, i + 5, s.length - i - 5) >= 0;
}

/** `YYYYMMDD` for a day number. */
export function formatDicomDate(day: number): string {
  const d = new Date(day * MS_PER_DAY);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, "0")}${String(d.getUTCDate()).padStart(2, "0")}`;
}

/** `YYYY-MM-DD` for a day number. */
export function formatIsoDate(day: number): string {
  const s = formatDicomDate(day);
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6)}`;
}

export const WEEKDAYS = [
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
  "Sunday",
] as const;

/** 0 = Monday … 6 = Sunday (ISO order) for a day number (1970-01-01 was a Thursday). */
export function isoWeekday(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

/** Today's day number in the local time zone (what "now" means for StudyDate, a local date). */
export function localToday(now = new Date()): number {
  return dayNumber(now.getFullYear(), now.getMonth() + 1, now.getDate())!;
}

// ---------------------------------------------------------------- distinct counting

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hash state after a string: the two 32-bit lanes of `DistinctSet`. */
interface Lanes {
  h1: number;
  h2: number;
}

function hashInto(s: string, l: Lanes): void {
  let h1 = l.h1;
  let h2 = l.h2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  l.h1 = h1;
  l.h2 = h2;
}

/**
 * A set of strings kept as 64-bit fingerprints in one typed array (open
 * addressing, both halves of a member side by side: one cache line per
 * probe): 16 bytes per member at most, whatever the string length, so
 * deduplicating a million StudyInstanceUIDs costs about 16 MB instead of
 * the ~150 MB of a Set of strings. The chance of a false "seen" is about
 * n² / 2⁶⁵ (3 × 10⁻⁸ for a million members).
 */
export class DistinctSet {
  /** Member i: slots[2i] (first lane), slots[2i + 1] (second lane); (0, 0) is empty. */
  private slots: Uint32Array;
  private mask: number;
  size = 0;
  /** Hash states after the first string of `addPair` (few distinct: group names), by string. */
  private prefixes = new Map<string, Lanes>();
  private readonly lanes: Lanes = { h1: 0, h2: 0 };

  constructor(initialCapacity = 1 << 16) {
    let cap = 16;
    while (cap < initialCapacity) cap <<= 1;
    this.slots = new Uint32Array(cap * 2);
    this.mask = cap - 1;
  }

  /** Add a string; true when it was not there yet. */
  add(s: string): boolean {
    return this.addPair("", s);
  }

  /** Add the pair (a, b) as one member, without building a + b. */
  addPair(a: string, b: string): boolean {
    let p = this.prefixes.get(a);
    if (p === undefined) {
      // The length of b goes into the seed, so that ("ab", "c") and ("a", "bc") differ.
      p = { h1: 0x811c9dc5, h2: 0x9747b28c ^ (a.length * 65599) };
      hashInto(a, p);
      if (this.prefixes.size < 4096) this.prefixes.set(a, p);
    }
    return this.addAfter(p.h1, p.h2, b);
  }

  /** Add the pair (n, b) of a number and a string as one member (no string made of n). */
  addNumberPair(n: number, b: string): boolean {
    const lo = n | 0;
    const hi = Math.floor(n / 4294967296) | 0;
    return this.addAfter(
      fmix(0x811c9dc5 ^ lo) ^ hi,
      fmix(0x9747b28c ^ Math.imul(lo, 0x5bd1e995)) ^ Math.imul(hi, 0x27d4eb2d),
      b,
    );
  }

  /** Add the member whose hash lanes are (h1, h2) before `b`. */
  private addAfter(h1: number, h2: number, b: string): boolean {
    const l = this.lanes;
    l.h1 = h1;
    l.h2 = h2 ^ Math.imul(b.length, 0x27d4eb2d);
    hashInto(b, l);
    // (0, 0) marks an empty slot.
    return this.insert(fmix(l.h1), fmix(l.h2) || 1);
  }

  private insert(h1: number, h2: number): boolean {
    const { slots, mask } = this;
    let i = h1 & mask;
    for (;;) {
      const a = slots[2 * i]!;
      const b = slots[2 * i + 1]!;
      if (a === 0 && b === 0) break;
      if (a === h1 && b === h2) return false;
      i = (i + 1) & mask;
    }
    slots[2 * i] = h1;
    slots[2 * i + 1] = h2;
    if (++this.size * 2 > mask + 1) this.grow();
    return true;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.mask = old.length - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i += 2)
      if (old[i] !== 0 || old[i + 1] !== 0) this.insert(old[i]!, old[i + 1]!);
  }
}
