/**
 * The fast path of the analysis tools' NDJSON input: a tool that reads a
 * few keys of millions of flat records (inst-count, weekday-plot) takes
 * just those from the bytes of each line, without decoding the line or
 * building the other values.
 *
 * Only a line in the simple shape is picked: one JSON object whose values
 * are strings without escapes, numbers, `true`/`false`/`null` or arrays of
 * those, and whose keys need no normalising (no escapes, no 8-digit tag
 * keys, no `_vrMap`, no pacsalyzer `"(gggg,eeee)"` first key). Every other
 * line (escapes, nested values, PS3.18 JSON, a BOM, invalid JSON, blank)
 * gets `undefined`, and the caller parses it in full: the picked values
 * are always those `JSON.parse` and the normaliser would give (a repeated
 * key: the last value, as `JSON.parse`).
 */
import type { FlatRecord } from "../records/flat.js";

type Value = string | number | boolean | null;

/** Buffer's decoding methods without `toString`'s argument handling (Node has them on every Buffer). */
interface SliceBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function skipSpace(b: Buffer, i: number, end: number): number {
  while (i < end) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
    i++;
  }
  return i;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** End of a JSON number starting at `i` (RFC 8259 grammar), or -1. */
function numberEnd(b: Buffer, i: number, end: number): number {
  let j = i;
  if (b[j] === 0x2d) j++;
  if (j >= end) return -1;
  if (b[j] === 0x30) j++;
  else if (isDigit(b[j])) while (j < end && isDigit(b[j])) j++;
  else return -1;
  if (j < end && b[j] === 0x2e) {
    const d = ++j;
    while (j < end && isDigit(b[j])) j++;
    if (j === d) return -1;
  }
  if (j < end && (b[j] === 0x65 || b[j] === 0x45)) {
    j++;
    if (j < end && (b[j] === 0x2b || b[j] === 0x2d)) j++;
    const d = j;
    while (j < end && isDigit(b[j])) j++;
    if (j === d) return -1;
  }
  return j;
}

function literalEnd(b: Buffer, i: number, end: number, word: string): number {
  if (i + word.length > end) return -1;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

export class FieldPicker {
  /** The wanted keys as bytes, and the index of each by length. */
  private readonly keys: Buffer[];
  private readonly byLength: Array<number[] | undefined> = [];
  /** Whether the last string scanned holds bytes above 0x7F. */
  private wide = false;
  /** The value scanned by `value()` (when wanted). */
  private got: Value | Value[] = null;

  /** `fields`: the keys to pick (ASCII keywords). */
  constructor(readonly fields: string[]) {
    for (const f of fields)
      if (!/^[\x21-\x7e]+$/.test(f) || f === "__proto__")
        throw new Error(`FieldPicker: cannot pick the key ${JSON.stringify(f)}`);
    this.keys = fields.map((f) => Buffer.from(f, "latin1"));
    this.keys.forEach((k, i) => {
      (this.byLength[k.length] ??= []).push(i);
    });
  }

  /**
   * The wanted keys of the line `b[start, end)` that are present, or
   * undefined when the line is not in the simple shape (parse it in full).
   */
  pick(b: Buffer, start: number, end: number): FlatRecord | undefined {
    let i = skipSpace(b, start, end);
    if (b[i] !== 0x7b || i >= end) return undefined;
    i = skipSpace(b, i + 1, end);
    const rec: FlatRecord = {};
    if (i < end && b[i] === 0x7d) return skipSpace(b, i + 1, end) === end ? rec : undefined;
    let first = true;
    for (;;) {
      if (i >= end || b[i] !== QUOTE) return undefined;
      const ks = i + 1;
      const ke = this.stringEnd(b, ks, end);
      if (ke < 0) return undefined;
      const want = this.keyIndex(b, ks, ke, first);
      if (want === -2) return undefined;
      first = false;
      i = skipSpace(b, ke + 1, end);
      if (i >= end || b[i] !== 0x3a) return undefined;
      i = this.value(b, skipSpace(b, i + 1, end), end, want >= 0, true);
      if (i < 0) return undefined;
      if (want >= 0) rec[this.fields[want]!] = this.got;
      i = skipSpace(b, i, end);
      if (i >= end) return undefined;
      const c = b[i]!;
      if (c === 0x2c) i = skipSpace(b, i + 1, end);
      else if (c === 0x7d) return skipSpace(b, i + 1, end) === end ? rec : undefined;
      else return undefined;
    }
  }

  /** Index of a closing quote from `i`, or -1 for an escape, a control character or no end. */
  private stringEnd(b: Buffer, i: number, end: number): number {
    let high = 0;
    for (; i < end; i++) {
      const c = b[i]!;
      if (c > QUOTE && c !== BACKSLASH) high |= c;
      else if (c === QUOTE) {
        this.wide = high >= 0x80;
        return i;
      } else if (c < 0x20 || c === BACKSLASH) return -1;
    }
    return -1;
  }

  /** The wanted key's index, -1 for another key, -2 for a key that needs the full parse. */
  private keyIndex(b: Buffer, s: number, e: number, first: boolean): number {
    const n = e - s;
    // pacsalyzer's "(gggg,eeee)" keys (checked on the first key, as the normaliser does).
    if (first && b[s] === 0x28) return -2;
    if (n === 8) {
      let hex = true;
      for (let k = s; k < e && hex; k++) hex = isHex(b[k]!);
      if (hex) return -2;
    }
    if (n === 6 && literalEnd(b, s, e, "_vrMap") === e) return -2;
    const list = this.byLength[n];
    if (list === undefined) return -1;
    for (const k of list) {
      const key = this.keys[k]!;
      let j = 0;
      while (j < n && b[s + j] === key[j]) j++;
      if (j === n) return k;
    }
    return -1;
  }

  /** End of the value at `i`, or -1 when not simple; when `keep`, the value in `this.got`. */
  private value(b: Buffer, i: number, end: number, keep: boolean, top: boolean): number {
    const c = b[i];
    if (c === QUOTE) {
      const e = this.stringEnd(b, i + 1, end);
      if (e < 0) return -1;
      if (keep) {
        const sb = b as SliceBuffer;
        this.got = this.wide ? sb.utf8Slice(i + 1, e) : sb.latin1Slice(i + 1, e);
      }
      return e + 1;
    }
    if (c === 0x6e) {
      this.got = null;
      return literalEnd(b, i, end, "null");
    }
    if (c === 0x74) {
      this.got = true;
      return literalEnd(b, i, end, "true");
    }
    if (c === 0x66) {
      this.got = false;
      return literalEnd(b, i, end, "false");
    }
    if (c === 0x2d || isDigit(c)) {
      const e = numberEnd(b, i, end);
      if (e >= 0 && keep) this.got = Number((b as SliceBuffer).latin1Slice(i, e));
      return e;
    }
    if (c === 0x5b && top) {
      // An array of strings, numbers, booleans and nulls (not nested).
      // Made only for a key the tool reads: most arrays of a record are skipped.
      const list: Value[] | undefined = keep ? [] : undefined;
      let j = skipSpace(b, i + 1, end);
      if (j < end && b[j] === 0x5d) {
        if (list) this.got = list;
        return j + 1;
      }
      for (;;) {
        j = this.value(b, j, end, keep, false);
        if (j < 0) return -1;
        if (list) list.push(this.got as Value);
        j = skipSpace(b, j, end);
        if (j >= end) return -1;
        if (b[j] === 0x5d) {
          if (list) this.got = list;
          return j + 1;
        }
        if (b[j] !== 0x2c) return -1;
        j = skipSpace(b, j + 1, end);
      }
    }
    return -1;
  }
}
