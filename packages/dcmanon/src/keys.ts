/** Keyed identities: HMAC-SHA256 UIDs, pseudonyms and per-patient day shifts. */
import { createHash, createHmac, randomBytes } from "node:crypto";

export const MIN_SECRET_BYTES = 32;

/** New UIDs remembered by `Keys.uid` (a bounded cache: recent originals only). */
const UID_CACHE = 4096;

export class Keys {
  private readonly uids = new Map<string, string>();

  constructor(readonly secret: Buffer) {}

  static random(): Keys {
    return new Keys(randomBytes(MIN_SECRET_BYTES));
  }

  private mac(text: string): Buffer {
    return createHmac("sha256", this.secret).update(text, "utf8").digest();
  }

  /** A short fingerprint of the secret for the audit log (not the secret). */
  fingerprint(): string {
    return createHash("sha256").update(this.mac("fingerprint")).digest("hex").slice(0, 16);
  }

  /**
   * `root.` + the decimal value of the first 16 bytes of HMAC(key, "uid:" + uid)
   * with the UUID version 8 and variant bits set (as `2.25` UUID-derived UIDs).
   */
  uid(orig: string, root = "2.25"): string {
    const key = `${root}|${orig}`;
    const hit = this.uids.get(key);
    if (hit !== undefined) return hit;
    const h = this.mac(`uid:${orig.trim()}`).subarray(0, 16);
    h[6] = (h[6]! & 0x0f) | 0x80;
    h[8] = (h[8]! & 0x3f) | 0x80;
    const uid = `${root}.${BigInt(`0x${h.toString("hex")}`).toString(10)}`;
    // Study, series and frame-of-reference UIDs recur from file to file: the latest few thousand are remembered (memory stays flat).
    if (this.uids.size >= UID_CACHE) this.uids.delete(this.uids.keys().next().value!);
    this.uids.set(key, uid);
    return uid;
  }

  /** The decimal value of the first 16 bytes of HMAC(key, "hash:" + text) (CTP's `@hash`, keyed). */
  hashDecimal(text: string): string {
    return BigInt(`0x${this.mac(`hash:${text}`).subarray(0, 16).toString("hex")}`).toString(10);
  }

  /** Hex digits of HMAC(key, "pid:" + issuer + "|" + pid), upper case. */
  pseudonymDigits(issuer: string, pid: string, n: number): string {
    return this.mac(`pid:${issuer}|${pid}`).toString("hex").slice(0, n).toUpperCase();
  }

  /** Where a patient comes in the `{seq}` numbering: the hex digits of HMAC(key, "seq:" + patientKey). */
  seqOrder(patientKey: string): string {
    return this.mac(`seq:${patientKey}`).toString("hex");
  }

  /** A day shift in [lo, hi] other than 0, from HMAC(key, "shift:" + patientKey). */
  dayShift(patientKey: string, lo: number, hi: number): number {
    const zeroInside = lo <= 0 && hi >= 0;
    const count = hi - lo + 1 - (zeroInside ? 1 : 0);
    const v = this.mac(`shift:${patientKey}`).readUInt32BE(0) % count;
    const d = lo + v;
    return zeroInside && d >= 0 ? d + 1 : d;
  }
}

/** A patient ID as compared: spaces, NULs and trailing `^` removed at both ends. */
export function normaliseId(s: string): string {
  return s.replace(/^[\s\0]+|[\s\0^]+$/g, "");
}

/** `{hmac:N}` → N hex digits of the keyed hash, `{seq:N}` → the patient's number in the run, N digits at least. */
export function formatPseudonym(
  format: string,
  digits: (n: number) => string,
  seq?: number,
): string {
  return format
    .replace(/\{hmac:(\d+)\}/g, (_m, n: string) => digits(Math.min(64, Number(n))))
    .replace(/\{seq:(\d+)\}/g, (_m, n: string) =>
      String(seq).padStart(Math.min(16, Number(n)), "0"),
    );
}

/** A pseudonym format numbering the patients of the run (`{seq:N}`). */
export const SEQ_FORMAT = /\{seq:\d+\}/;

/** Parse `A:B` (or `fixed:N`) into an inclusive range without 0. */
export function parseShiftRange(text: string): [number, number] {
  const fixed = /^fixed:(-?\d+)$/.exec(text);
  if (fixed) {
    const n = Number(fixed[1]);
    if (n === 0) throw new Error(`--date-shift ${text}: a shift of 0 days keeps the dates`);
    return [n, n];
  }
  const m = /^(-?\d+):(-?\d+)$/.exec(text);
  if (!m) throw new Error(`--date-shift ${text}: expected A:B (days, e.g. -365:-30) or fixed:N`);
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  if (lo > hi) throw new Error(`--date-shift ${text}: ${lo} is after ${hi}`);
  if (lo === 0 && hi === 0)
    throw new Error(`--date-shift ${text}: a shift of 0 days keeps the dates`);
  return [lo, hi];
}
