/** Validation of query values (dates, ranges, wildcards, UIDs). */
import { describeTag } from "../dicom/dict.js";
import type { ParsedKey } from "./keys.js";

export class ValueError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "ValueError";
  }
}

function validDate(s: string): boolean {
  if (!/^\d{8}$/.test(s)) return false;
  const y = +s.slice(0, 4);
  const m = +s.slice(4, 6);
  const d = +s.slice(6, 8);
  if (y < 1800 || m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

/** Check a DA matching value: a date, or a range with at most one open end. */
export function validateDateQuery(field: string, v: string): void {
  const s = v.trim();
  if (s === "") return;
  const parts = s.split("-");
  if (parts.length === 1) {
    if (!validDate(s))
      throw new ValueError(
        field,
        `${field}: "${v}" is not a date (expected YYYYMMDD or a range YYYYMMDD-YYYYMMDD, -YYYYMMDD, YYYYMMDD-)`,
      );
    return;
  }
  if (parts.length !== 2 || (parts[0] === "" && parts[1] === "")) {
    throw new ValueError(
      field,
      `${field}: "${v}" is not a date range (expected YYYYMMDD-YYYYMMDD, -YYYYMMDD or YYYYMMDD-)`,
    );
  }
  const [a, b] = parts as [string, string];
  if (/^\d{4}$/.test(a || "0000") && /^\d{4}$/.test(b || "0000")) {
    // Years are not a DICOM range (PS3.5 6.2: DA is YYYYMMDD, ranges of dates).
    const hint = `${a ? `${a}0101` : ""}-${b ? `${b}1231` : ""}`;
    throw new ValueError(
      field,
      `${field}: "${v}" is not a date range: years are not DA values (write ${hint})`,
    );
  }
  for (const p of [a, b]) {
    if (p !== "" && !validDate(p))
      throw new ValueError(
        field,
        `${field}: "${p}" in "${v}" is not a valid date (expected YYYYMMDD)`,
      );
  }
  if (a !== "" && b !== "" && a > b)
    throw new ValueError(field, `${field}: range "${v}" ends before it starts`);
}

function validTime(s: string): boolean {
  return /^([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?$/.test(s);
}

export function validateTimeQuery(field: string, v: string): void {
  const s = v.trim();
  if (s === "") return;
  const parts = s.split("-");
  if (
    parts.length > 2 ||
    parts.every((p) => p === "") ||
    parts.some((p) => p !== "" && !validTime(p))
  ) {
    throw new ValueError(
      field,
      `${field}: "${v}" is not a time or time range (expected HHMMSS[.ffffff], ranges with -)`,
    );
  }
}

/** A DT value (PS3.5 6.2): YYYY[MM[DD[HH[MM[SS[.F{1-6}]]]]]] with an optional &ZZXX offset. */
const DT =
  "\\d{4}(?:(?:0[1-9]|1[0-2])(?:(?:0[1-9]|[12]\\d|3[01])(?:(?:[01]\\d|2[0-3])(?:[0-5]\\d(?:[0-5]\\d(?:\\.\\d{1,6})?)?)?)?)?)?(?:[+-](?:0\\d|1[0-4])[0-5]\\d)?";
const DT_QUERY = new RegExp(`^(?:${DT}|${DT}-|-${DT}|${DT}-${DT})$`);

/** Check a DT matching value: a date-time, or a range of them (PS3.4 C.2.2.2.5). */
export function validateDateTimeQuery(field: string, v: string): void {
  const s = v.trim();
  if (s === "" || DT_QUERY.test(s)) return;
  throw new ValueError(
    field,
    `${field}: "${v}" is not a date-time or date-time range (expected YYYYMMDDHHMMSS[.ffffff][&ZZXX], ranges with -)`,
  );
}

/**
 * The full dates a DA matching value covers: `from`-`to`, both YYYYMMDD;
 * an open start is 19000101, an open end `today`, a single date both.
 * Undefined for an empty value; a ValueError for anything else than a
 * valid date or range.
 */
export function dateRange(
  field: string,
  v: string,
  today: string,
): { from: string; to: string } | undefined {
  const s = v.trim();
  if (s === "") return undefined;
  validateDateQuery(field, s);
  if (!s.includes("-")) return { from: s, to: s };
  const [a, b] = s.split("-") as [string, string];
  const from = a || "19000101";
  const to = b || (today < from ? from : today);
  return { from, to };
}

export function validateUidQuery(field: string, v: string): void {
  const s = v.trim();
  if (s === "") return;
  for (const uid of s.split("\\")) {
    if (uid.length > 64 || !/^[0-9]+(\.[0-9]+)*$/.test(uid)) {
      throw new ValueError(
        field,
        `${field}: "${uid}" is not a UID (digits and dots, at most 64 characters)`,
      );
    }
  }
}

/**
 * Validate one matching value by VR. A lone `*` is rejected: it matches
 * everything, like an empty value, and in batch tables it is almost always
 * a mistake that turns a precise query into a whole-archive query.
 */
export function validateQueryValue(field: string, vr: string, v: string): void {
  if (v.trim() === "*")
    throw new ValueError(
      field,
      `${field}: a lone "*" matches everything; leave the cell empty to return ${field} without matching on it`,
    );
  if (vr === "DA") validateDateQuery(field, v);
  else if (vr === "TM") validateTimeQuery(field, v);
  else if (vr === "DT") validateDateTimeQuery(field, v);
  else if (vr === "UI") validateUidQuery(field, v);
}

/** Check the date, time and date-time values of `-k` keys (other VRs are sent as given, as DCMTK does). */
export function validateKeyValues(keys: ParsedKey[]): void {
  for (const k of keys) {
    if (k.value === undefined) continue;
    const last = k.path[k.path.length - 1]!;
    if (last.item !== undefined) continue;
    const entry = describeTag(last.tag);
    const field = entry?.keyword || k.text.slice(0, k.text.indexOf("="));
    if (entry?.vr === "DA") validateDateQuery(field, k.value);
    else if (entry?.vr === "TM") validateTimeQuery(field, k.value);
    else if (entry?.vr === "DT") validateDateTimeQuery(field, k.value);
  }
}
