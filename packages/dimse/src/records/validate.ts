/** Validation of query values (dates, ranges, wildcards, UIDs). */

export class ValueError extends Error {
  constructor(readonly field: string, message: string) {
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
    if (!validDate(s)) throw new ValueError(field, `${field}: "${v}" is not a date (expected YYYYMMDD or a range YYYYMMDD-YYYYMMDD, -YYYYMMDD, YYYYMMDD-)`);
    return;
  }
  if (parts.length !== 2 || (parts[0] === "" && parts[1] === "")) {
    throw new ValueError(field, `${field}: "${v}" is not a date range (expected YYYYMMDD-YYYYMMDD, -YYYYMMDD or YYYYMMDD-)`);
  }
  const [a, b] = parts as [string, string];
  for (const p of [a, b]) {
    if (p !== "" && !validDate(p)) throw new ValueError(field, `${field}: "${p}" in "${v}" is not a valid date (expected YYYYMMDD)`);
  }
  if (a !== "" && b !== "" && a > b) throw new ValueError(field, `${field}: range "${v}" ends before it starts`);
}

function validTime(s: string): boolean {
  return /^([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?$/.test(s);
}

export function validateTimeQuery(field: string, v: string): void {
  const s = v.trim();
  if (s === "") return;
  const parts = s.split("-");
  if (parts.length > 2 || parts.every((p) => p === "") || parts.some((p) => p !== "" && !validTime(p))) {
    throw new ValueError(field, `${field}: "${v}" is not a time or time range (expected HHMMSS[.ffffff], ranges with -)`);
  }
}

export function validateUidQuery(field: string, v: string): void {
  const s = v.trim();
  if (s === "") return;
  for (const uid of s.split("\\")) {
    if (uid.length > 64 || !/^[0-9]+(\.[0-9]+)*$/.test(uid)) {
      throw new ValueError(field, `${field}: "${uid}" is not a UID (digits and dots, at most 64 characters)`);
    }
  }
}

/**
 * Validate one matching value by VR. A lone `*` is rejected: it matches
 * everything, like an empty value, and in batch tables it is almost always
 * a mistake that turns a precise query into a whole-archive query.
 */
export function validateQueryValue(field: string, vr: string, v: string): void {
  if (v.trim() === "*") throw new ValueError(field, `${field}: a lone "*" matches everything; leave the cell empty to return ${field} without matching on it`);
  if (vr === "DA") validateDateQuery(field, v);
  else if (vr === "TM") validateTimeQuery(field, v);
  else if (vr === "UI") validateUidQuery(field, v);
}
