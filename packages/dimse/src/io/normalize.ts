/**
 * `--normalize`: the conveniences of spreadsheet-made query tables
 * (Medical-Imaging-Downloader's), off by default and each change reported:
 *
 * - PatientID: digits only and shorter than `--mrn-width N` → left-padded
 *   with zeros (Excel drops the leading zeros of numeric IDs);
 * - dates (every DA column): `DD/MM/YYYY` or `MM/DD/YYYY` (`/`, `.` or `-`
 *   between, as `--date-order dmy|mdy` says: never guessed) and
 *   `YYYY-MM-DD` → `YYYYMMDD`; a range of two such dates joined by `-`
 *   (spaces allowed) → `YYYYMMDD-YYYYMMDD`;
 * - StudyDescription, SeriesDescription: text without a wildcard → `*text*`
 *   (matches the description anywhere).
 *
 * Columns are recognised by name as the query readers map them (`MRN` is
 * PatientID, `Study Date` StudyDate).
 */
import { lookupKeyword } from "../dicom/dict.js";
import { mapColumn } from "../records/columns.js";
import type { FlatRecord } from "../records/flat.js";
import { InputError } from "./input.js";

export interface NormalizeOptions {
  mrnWidth?: number;
  dateOrder?: "dmy" | "mdy";
  /** Each changed value (for `-v`). */
  onChange?: (where: string, column: string, from: string, to: string) => void;
}

type Rule = (v: string, fail: (message: string) => never, column: string) => string;

const WILDCARD_COLUMNS = new Set(["StudyDescription", "SeriesDescription"]);

function ruleFor(keyword: string, o: NormalizeOptions): Rule | undefined {
  if (keyword === "PatientID")
    return (v) =>
      o.mrnWidth !== undefined && /^\d+$/.test(v) && v.length < o.mrnWidth
        ? v.padStart(o.mrnWidth, "0")
        : v;
  if (WILDCARD_COLUMNS.has(keyword)) return (v) => (v === "" || /[*?]/.test(v) ? v : `*${v}*`);
  if (lookupKeyword(keyword)?.vr === "DA") return (v, fail, col) => dateValue(v, o, fail, col);
  return undefined;
}

const SLASHED = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/;
const ISO = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;

function dateValue(
  v: string,
  o: NormalizeOptions,
  fail: (message: string) => never,
  column: string,
): string {
  const range = /^(.+?)\s+-\s+(.+)$/.exec(v) ?? splitCompactRange(v);
  if (range) return `${oneDate(range[1]!, o, fail, column)}-${oneDate(range[2]!, o, fail, column)}`;
  return oneDate(v, o, fail, column);
}

/** `01/02/2024-03/02/2024`, `2024-01-02-2024-02-03`: two dates joined by a dash. */
function splitCompactRange(v: string): [string, string, string] | undefined {
  const m =
    /^(\d{1,2}[/.]\d{1,2}[/.]\d{4})-(\d{1,2}[/.]\d{1,2}[/.]\d{4})$/.exec(v) ??
    /^(\d{4}-\d{1,2}-\d{1,2})-(\d{4}-\d{1,2}-\d{1,2})$/.exec(v);
  return m ? [m[0], m[1]!, m[2]!] : undefined;
}

function oneDate(
  v: string,
  o: NormalizeOptions,
  fail: (message: string) => never,
  column: string,
): string {
  const t = v.trim();
  let y: string;
  let m: string;
  let d: string;
  const iso = ISO.exec(t);
  const slashed = SLASHED.exec(t);
  if (iso) [, y, m, d] = iso as unknown as [string, string, string, string];
  else if (slashed) {
    if (!o.dateOrder)
      fail(`${column}: "${t}" could be day/month or month/day: give --date-order dmy or mdy`);
    const [, a, b, year] = slashed as unknown as [string, string, string, string];
    [d, m] = o.dateOrder === "dmy" ? [a, b] : [b, a];
    y = year;
  } else return v;
  const month = Number(m);
  const day = Number(d);
  const last = new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > last)
    fail(
      `${column}: "${t}" is not a date${slashed ? ` in the order ${o.dateOrder === "dmy" ? "day/month/year" : "month/day/year"} (--date-order)` : ""}`,
    );
  return `${y}${m.padStart(2, "0")}${d.padStart(2, "0")}`;
}

/**
 * The normaliser of a table: given its header (or, for NDJSON, each
 * record's keys), a function that rewrites a record in place.
 */
export function normalizer(
  o: NormalizeOptions,
): (record: FlatRecord, name: string, line: number) => void {
  const rules = new Map<string, Rule | null>();
  const rule = (col: string): Rule | undefined => {
    let r = rules.get(col);
    if (r === undefined) {
      const m = mapColumn(col);
      r = (m.kind === "keyword" ? ruleFor(m.keyword, o) : undefined) ?? null;
      rules.set(col, r);
    }
    return r ?? undefined;
  };
  return (record, name, line) => {
    for (const [col, raw] of Object.entries(record)) {
      if (typeof raw !== "string" && typeof raw !== "number") continue;
      const r = rule(col);
      if (!r) continue;
      const from = String(raw).trim();
      const to = r(
        from,
        (message) => {
          throw new InputError(name, line, message);
        },
        col,
      );
      if (to !== from) {
        record[col] = to;
        o.onChange?.(`${name}:${line}`, col, from, to);
      }
    }
  };
}
