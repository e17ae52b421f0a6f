/**
 * A lossless in-memory DICOM dataset: every element keeps its raw value
 * bytes, so re-encoding in the same transfer syntax reproduces the input
 * and values are decoded only on demand.
 */
import { inflateRawSync, deflateRawSync } from "node:zlib";
import { charsetFor, DEFAULT_CHARSET, encodeText, type Charset } from "./charset.js";
import { implicitVr, tagDcmtk, Tags } from "./dict.js";
import { syntaxInfo, type SyntaxInfo } from "./syntax.js";

export interface Element {
  tag: number;
  vr: string;
  /** Raw value bytes in the dataset's byte order (absent for SQ and encapsulated data). */
  value?: Buffer;
  /** Sequence items. */
  items?: Dataset[];
  /** Encapsulated pixel data fragments; the first is the basic offset table. */
  fragments?: Buffer[];
  /** Was encoded with undefined length (sequences, encapsulated data). */
  undefinedLength?: boolean;
  /** Encoded value length of a sequence read with explicit length. */
  length?: number;
}

export class DicomParseError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
    this.name = "DicomParseError";
  }
}

/** VRs whose explicit-VR header has 2 reserved bytes and a 32-bit length. */
export const LONG_VRS = new Set([
  "OB",
  "OD",
  "OF",
  "OL",
  "OV",
  "OW",
  "SQ",
  "UC",
  "UN",
  "UR",
  "UT",
  "SV",
  "UV",
]);
export const STRING_VRS = new Set([
  "AE",
  "AS",
  "CS",
  "DA",
  "DS",
  "DT",
  "IS",
  "LO",
  "LT",
  "PN",
  "SH",
  "ST",
  "TM",
  "UC",
  "UI",
  "UR",
  "UT",
]);
/** Text VRs that never hold multiple values. */
export const SINGLE_TEXT_VRS = new Set(["LT", "ST", "UT", "UR"]);
/** Binary VRs and the byte width used for byte swapping. */
export const BINARY_WIDTH: Record<string, number> = {
  US: 2,
  SS: 2,
  OW: 2,
  AT: 2,
  UL: 4,
  SL: 4,
  FL: 4,
  OF: 4,
  OL: 4,
  FD: 8,
  OD: 8,
  SV: 8,
  UV: 8,
  OV: 8,
};
const VALID_VR = /^[A-Z]{2}$/;
/** The VRs of PS3.5 by their two bytes (`("O".charCodeAt(0) << 8) | "B".charCodeAt(0)` → `OB`): read without making a string. */
const VR_BY_CODE = new Map<number, string>(
  "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV"
    .split(" ")
    .map((vr) => [(vr.charCodeAt(0) << 8) | vr.charCodeAt(1), vr]),
);

export class Dataset {
  elements: Element[];
  /** Parent dataset (for items), used to inherit the character set. */
  parent?: Dataset;
  /** Item encoded with undefined length (only meaningful for sequence items). */
  undefinedLength?: boolean;
  /** Encoded length of an item read with explicit length. */
  length?: number;
  private cs?: Charset;

  constructor(elements: Element[] = []) {
    this.elements = elements;
  }

  private indexOf(tag: number): number {
    const els = this.elements;
    let lo = 0;
    let hi = els.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const t = els[mid]!.tag;
      if (t === tag) return mid;
      if (t < tag) lo = mid + 1;
      else hi = mid - 1;
    }
    return -(lo + 1);
  }

  get(tag: number): Element | undefined {
    const i = this.indexOf(tag);
    return i >= 0 ? this.elements[i] : undefined;
  }

  has(tag: number): boolean {
    return this.indexOf(tag) >= 0;
  }

  /** Insert or replace an element, keeping tag order. */
  set(el: Element): this {
    const i = this.indexOf(el.tag);
    if (i >= 0) this.elements[i] = el;
    else this.elements.splice(-(i + 1), 0, el);
    if (el.items) for (const it of el.items) it.parent = this;
    if (el.tag === Tags.SpecificCharacterSet) this.cs = undefined;
    return this;
  }

  delete(tag: number): boolean {
    const i = this.indexOf(tag);
    if (i < 0) return false;
    this.elements.splice(i, 1);
    if (tag === Tags.SpecificCharacterSet) this.cs = undefined;
    return true;
  }

  /** Character set in force for this dataset (inherited by items). */
  charset(): Charset {
    if (this.cs) return this.cs;
    const el = this.get(Tags.SpecificCharacterSet);
    if (el?.value) {
      this.cs = charsetFor(
        el.value
          .toString("latin1")
          .split("\\")
          .map((s) => s.trim()),
      );
      return this.cs;
    }
    // Inherited: not cached here, so a later change in the parent is seen.
    return this.parent ? this.parent.charset() : DEFAULT_CHARSET;
  }

  /** Decoded, trimmed string value (multiple values joined by `\`), or undefined if absent. */
  string(tag: number): string | undefined {
    const el = this.get(tag);
    if (!el) return undefined;
    if (!el.value) return "";
    return trimValue(el.vr, this.charset().decode(el.value));
  }

  strings(tag: number): string[] | undefined {
    const el = this.get(tag);
    if (!el) return undefined;
    return elementStrings(el, this.charset());
  }

  /** Set a text element from a string (or values), encoded with this dataset's charset. */
  setString(tag: number, vr: string, value: string | string[] | null): this {
    const text = valueText(value);
    const bytes =
      vr === "UI" ||
      vr === "AE" ||
      vr === "CS" ||
      vr === "DA" ||
      vr === "TM" ||
      vr === "DT" ||
      vr === "IS" ||
      vr === "DS" ||
      vr === "AS"
        ? Buffer.from(text, "latin1")
        : encodeText(text, this.charset());
    return this.set({ tag, vr, value: padValue(vr, bytes) });
  }

  clone(): Dataset {
    const d = new Dataset(
      this.elements.map((e) => ({ ...e, items: e.items?.map((i) => i.clone()) })),
    );
    for (const e of d.elements) if (e.items) for (const it of e.items) it.parent = d;
    return d;
  }
}

/** The text of one value or several (joined by `\`); null is empty. */
function valueText(value: string | string[] | null): string {
  return value === null ? "" : Array.isArray(value) ? value.join("\\") : value;
}

/** Pad a value to even length as PS3.5 requires for its VR. */
export function padValue(vr: string, bytes: Buffer): Buffer {
  if (bytes.length % 2 === 0) return bytes;
  const pad = vr === "UI" || vr === "OB" || vr === "UN" ? 0x00 : 0x20;
  return Buffer.concat([bytes, Buffer.from([pad])]);
}

/** Remove insignificant padding for a VR. */
export function trimValue(vr: string, s: string): string {
  let end = s.length;
  while (end > 0) {
    const c = s.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0) break;
    end--;
  }
  let start = 0;
  switch (vr) {
    case "LT":
    case "ST":
    case "UT":
    case "UR":
    case "UC":
    case "TM":
    case "DT":
      break;
    default:
      while (start < end) {
        const c = s.charCodeAt(start);
        if (c !== 0x20 && c !== 0) break;
        start++;
      }
  }
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** Values of a text element, split on `\` where the VR allows several, each trimmed. */
export function elementStrings(el: Element, cs: Charset): string[] {
  if (!el.value || el.value.length === 0) return [];
  const text = cs.decode(el.value);
  if (SINGLE_TEXT_VRS.has(el.vr) || text.indexOf("\\") < 0) return [trimValue(el.vr, text)];
  return text.split("\\").map((v) => trimValue(el.vr, v));
}

/** Numeric values of a binary element. */
export function elementNumbers(el: Element, little = true): Array<number | string> {
  const b = el.value;
  if (!b) return [];
  const out: Array<number | string> = [];
  const w = BINARY_WIDTH[el.vr];
  if (!w) return out;
  for (let o = 0; o + w <= b.length; o += w) {
    switch (el.vr) {
      case "US":
      case "OW":
        out.push(little ? b.readUInt16LE(o) : b.readUInt16BE(o));
        break;
      case "SS":
        out.push(little ? b.readInt16LE(o) : b.readInt16BE(o));
        break;
      case "UL":
      case "OL":
        out.push(little ? b.readUInt32LE(o) : b.readUInt32BE(o));
        break;
      case "SL":
        out.push(little ? b.readInt32LE(o) : b.readInt32BE(o));
        break;
      case "FL":
      case "OF":
        out.push(little ? b.readFloatLE(o) : b.readFloatBE(o));
        break;
      case "FD":
      case "OD":
        out.push(little ? b.readDoubleLE(o) : b.readDoubleBE(o));
        break;
      case "SV": {
        const v = little ? b.readBigInt64LE(o) : b.readBigInt64BE(o);
        out.push(bigToJson(v));
        break;
      }
      case "UV":
      case "OV": {
        const v = little ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
        out.push(bigToJson(v));
        break;
      }
      case "AT": {
        if (o + 4 > b.length) return out;
        const g = little ? b.readUInt16LE(o) : b.readUInt16BE(o);
        const e = little ? b.readUInt16LE(o + 2) : b.readUInt16BE(o + 2);
        out.push(((g << 16) | e) >>> 0);
        o += 2;
        break;
      }
    }
  }
  return out;
}

function bigToJson(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(v)
    : v.toString();
}

// ---------------------------------------------------------------- reading

interface Cursor {
  buf: Buffer;
  little: boolean;
  explicit: boolean;
}

// Element headers by byte arithmetic (the callers have checked the bounds): a
// query's few hundred small data sets are parsed before V8 optimises this code,
// where readUInt16LE's own checks cost more than the reading.
function u16(c: Cursor, o: number): number {
  const b = c.buf;
  return c.little ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
}
function u32(c: Cursor, o: number): number {
  const b = c.buf;
  return c.little
    ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000
    : b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

const UNDEFINED = 0xffffffff;

/**
 * Parse the elements in `buf[start, end)`. With `untilDelimiter`, parsing
 * stops after an Item Delimitation Item. Returns the end position.
 */
function readElements(
  c: Cursor,
  start: number,
  end: number,
  into: Dataset,
  untilDelimiter: boolean,
  stopAtTag?: number,
): number {
  let pos = start;
  const buf = c.buf;
  while (pos < end) {
    if (pos + 8 > end) {
      // Trailing garbage shorter than an element header; tolerate zero padding.
      if (buf.subarray(pos, end).every((b) => b === 0)) return end;
      throw new DicomParseError("truncated element header", pos);
    }
    const tag = ((u16(c, pos) << 16) | u16(c, pos + 2)) >>> 0;
    if (stopAtTag !== undefined && tag >= stopAtTag) return pos;
    if (tag === Tags.ItemDelimitationItem) {
      if (untilDelimiter) return pos + 8;
      pos += 8;
      continue;
    }
    if (tag === Tags.SequenceDelimitationItem || tag === Tags.Item) {
      throw new DicomParseError(`unexpected ${tagDcmtk(tag)}`, pos);
    }
    let vr: string;
    let len: number;
    let hdr: number;
    const known = c.explicit ? VR_BY_CODE.get((buf[pos + 4]! << 8) | buf[pos + 5]!) : undefined;
    const vrText = known ?? (c.explicit ? buf.toString("latin1", pos + 4, pos + 6) : "");
    if (c.explicit && (known !== undefined || VALID_VR.test(vrText))) {
      vr = vrText;
      if (LONG_VRS.has(vr)) {
        if (pos + 12 > end) throw new DicomParseError("truncated element header", pos);
        len = u32(c, pos + 8);
        hdr = 12;
      } else {
        len = u16(c, pos + 6);
        hdr = 8;
      }
    } else {
      vr = implicitVr(tag);
      len = u32(c, pos + 4);
      hdr = 8;
    }
    pos += hdr;
    const el: Element = { tag, vr };
    if (len === UNDEFINED) {
      el.undefinedLength = true;
      if (vr === "SQ" || vr === "UN" || (!c.explicit && vr !== "OB" && vr !== "OW")) {
        // Undefined-length UN holds an implicit little endian sequence (PS3.5 6.2.2).
        const inner: Cursor = vr === "SQ" ? c : { buf, little: true, explicit: false };
        el.vr = "SQ";
        el.items = [];
        pos = readItems(inner, pos, end, el.items, true, into);
      } else {
        el.fragments = [];
        pos = readFragments(c, pos, end, el.fragments);
      }
    } else {
      if (pos + len > end)
        throw new DicomParseError(
          `value of ${tagDcmtk(tag)} (${len} bytes) runs past the end`,
          pos,
        );
      if (vr === "SQ") {
        el.length = len;
        el.items = [];
        readItems(c, pos, pos + len, el.items, false, into);
      } else {
        el.value = buf.subarray(pos, pos + len);
      }
      pos += len;
    }
    into.elements.push(el);
  }
  if (untilDelimiter) throw new DicomParseError("missing item delimiter", pos);
  return pos;
}

function readItems(
  c: Cursor,
  start: number,
  end: number,
  items: Dataset[],
  untilDelimiter: boolean,
  parent: Dataset,
): number {
  let pos = start;
  while (pos < end) {
    if (pos + 8 > end) throw new DicomParseError("truncated item header", pos);
    const tag = ((u16(c, pos) << 16) | u16(c, pos + 2)) >>> 0;
    const len = u32(c, pos + 4);
    pos += 8;
    if (tag === Tags.SequenceDelimitationItem) {
      if (untilDelimiter) return pos;
      continue;
    }
    if (tag !== Tags.Item)
      throw new DicomParseError(`expected an item, found ${tagDcmtk(tag)}`, pos - 8);
    const item = new Dataset();
    item.parent = parent;
    if (len === UNDEFINED) {
      item.undefinedLength = true;
      pos = readElements(c, pos, end, item, true);
    } else {
      if (pos + len > end) throw new DicomParseError("item runs past the end of its sequence", pos);
      item.length = len;
      readElements(c, pos, pos + len, item, false);
      pos += len;
    }
    items.push(item);
  }
  if (untilDelimiter) throw new DicomParseError("missing sequence delimiter", pos);
  return pos;
}

function readFragments(c: Cursor, start: number, end: number, out: Buffer[]): number {
  let pos = start;
  while (pos + 8 <= end) {
    const tag = ((u16(c, pos) << 16) | u16(c, pos + 2)) >>> 0;
    const len = u32(c, pos + 4);
    pos += 8;
    if (tag === Tags.SequenceDelimitationItem) return pos;
    if (tag !== Tags.Item || pos + len > end)
      throw new DicomParseError("bad encapsulated pixel data fragment", pos - 8);
    out.push(c.buf.subarray(pos, pos + len));
    pos += len;
  }
  throw new DicomParseError("missing sequence delimiter after pixel data fragments", pos);
}

/** Parse a dataset encoded in the given transfer syntax. Values are views into `buf`. */
export function parseDataset(buf: Buffer, transferSyntax: string | SyntaxInfo): Dataset {
  const ts = typeof transferSyntax === "string" ? syntaxInfo(transferSyntax) : transferSyntax;
  const data = ts.deflated ? inflateRawSync(buf) : buf;
  const ds = new Dataset();
  readElements({ buf: data, little: ts.little, explicit: ts.explicit }, 0, data.length, ds, false);
  // Conformant data is ordered; repair out-of-order input so lookups work.
  const els = ds.elements;
  for (let i = 1; i < els.length; i++) {
    if (els[i - 1]!.tag >= els[i]!.tag) {
      els.sort((a, b) => a.tag - b.tag);
      break;
    }
  }
  return ds;
}

/** Parse elements starting at `offset` with explicit encoding control (used for file meta). */
export function parseElementsAt(
  buf: Buffer,
  offset: number,
  end: number,
  explicit: boolean,
  little: boolean,
  stopAtTag?: number,
): { dataset: Dataset; end: number } {
  const ds = new Dataset();
  const pos = readElements({ buf, little, explicit }, offset, end, ds, false, stopAtTag);
  return { dataset: ds, end: pos };
}

/**
 * The top-level elements of `buf` that are complete, before `stopAtTag`:
 * for data cut short (the first bytes of a dataset), every element ahead
 * of the one that runs past the end. `stopped`: `stopAtTag` was reached
 * (if not, more bytes may hold more elements).
 */
export function parseHead(
  buf: Buffer,
  explicit: boolean,
  little: boolean,
  stopAtTag?: number,
): { dataset: Dataset; stopped: boolean } {
  const dataset = new Dataset();
  try {
    const end = readElements({ buf, little, explicit }, 0, buf.length, dataset, false, stopAtTag);
    return { dataset, stopped: end < buf.length };
  } catch (e) {
    // readElements adds an element only once it is whole.
    if (!(e instanceof DicomParseError)) throw e;
    return { dataset, stopped: false };
  }
}

// ---------------------------------------------------------------- writing

function swapped(vr: string, value: Buffer): Buffer {
  const w = BINARY_WIDTH[vr];
  if (!w) return value;
  const out = Buffer.from(value);
  if (w === 2) out.swap16();
  else if (w === 4) out.swap32();
  else if (w === 8) out.swap64();
  return out;
}

/** Values at least this long are not copied: they are parts of their own (views of the dataset's buffers). */
const PART_MIN = 16384;

/** Encoded bytes of an element, header included (`long`: the value length needs the 12-byte header). */
function elementSize(el: Element, ts: SyntaxInfo): number {
  const explicit = ts.explicit;
  if (el.items) return (explicit ? 12 : 8) + itemsSize(el.items, ts);
  if (el.fragments) {
    let n = (explicit ? 12 : 8) + 8;
    for (const f of el.fragments) n += 8 + f.length;
    return n;
  }
  const len = valueLength(el);
  const long = !explicit || LONG_VRS.has(el.vr) || len > 0xffff;
  return (explicit ? (long ? 12 : 8) : 8) + len;
}

function valueLength(el: Element): number {
  const n = el.value?.length ?? 0;
  return n + (n % 2);
}

function itemsSize(items: readonly Dataset[], ts: SyntaxInfo): number {
  let n = 0;
  for (const item of items) n += 8 + datasetSize(item, ts);
  return n;
}

function datasetSize(ds: Dataset, ts: SyntaxInfo): number {
  let n = 0;
  for (const el of ds.elements) n += elementSize(el, ts);
  return n;
}

/**
 * Writes a dataset into one buffer, sized beforehand (sequences and items with explicit
 * lengths), except large values, which stay views of the dataset's own buffers: the
 * encoding is the list of `parts()`.
 */
class Writer {
  private readonly buf: Buffer;
  private pos = 0;
  private start = 0;
  private readonly out: Buffer[] = [];

  constructor(
    readonly ts: SyntaxInfo,
    readonly sourceLittle: boolean,
    size: number,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  parts(): Buffer[] {
    if (this.pos > this.start) this.out.push(this.buf.subarray(this.start, this.pos));
    this.start = this.pos;
    return this.out;
  }

  private u16(v: number): void {
    if (this.ts.little) this.buf.writeUInt16LE(v, this.pos);
    else this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  private u32(v: number): void {
    if (this.ts.little) this.buf.writeUInt32LE(v >>> 0, this.pos);
    else this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  header(tag: number, vr: string, len: number): void {
    this.u16(tag >>> 16);
    this.u16(tag & 0xffff);
    if (!this.ts.explicit) return this.u32(len);
    const long = LONG_VRS.has(vr) || len > 0xffff;
    const outVr = long && !LONG_VRS.has(vr) ? "UN" : vr;
    this.buf[this.pos++] = outVr.charCodeAt(0);
    this.buf[this.pos++] = outVr.charCodeAt(1);
    if (long) {
      this.buf.writeUInt16LE(0, this.pos);
      this.pos += 2;
      this.u32(len);
    } else this.u16(len);
  }

  itemHeader(tag: number, len: number): void {
    this.u16(tag >>> 16);
    this.u16(tag & 0xffff);
    this.u32(len);
  }

  bytes(b: Buffer): void {
    if (b.length >= PART_MIN) {
      this.parts();
      this.out.push(b);
      return;
    }
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  pad(vr: string): void {
    this.buf[this.pos++] = vr === "UI" || vr === "OB" || vr === "UN" ? 0x00 : 0x20;
  }
}

/** Bytes of the writer's own buffer: the encoding less its large values. */
function copiedSize(ds: Dataset, ts: SyntaxInfo): number {
  let n = 0;
  for (const el of ds.elements) {
    if (el.items) {
      n += ts.explicit ? 12 : 8;
      for (const item of el.items) n += 8 + copiedSize(item, ts);
    } else if (el.fragments) {
      n += (ts.explicit ? 12 : 8) + 8;
      for (const f of el.fragments) n += 8 + (f.length >= PART_MIN ? 0 : f.length);
    } else {
      const raw = el.value?.length ?? 0;
      n += elementSize(el, ts) - (raw >= PART_MIN ? raw : 0);
    }
  }
  return n;
}

function writeElements(w: Writer, ds: Dataset): void {
  for (const el of ds.elements) writeElement(w, el);
}

function writeElement(w: Writer, el: Element): void {
  if (el.items) {
    w.header(el.tag, "SQ", itemsSize(el.items, w.ts));
    for (const item of el.items) {
      w.itemHeader(Tags.Item, datasetSize(item, w.ts));
      writeElements(w, item);
    }
    return;
  }
  if (el.fragments) {
    w.header(el.tag, el.vr === "OW" ? "OW" : "OB", UNDEFINED);
    for (const f of el.fragments) {
      w.itemHeader(Tags.Item, f.length);
      w.bytes(f);
    }
    w.itemHeader(Tags.SequenceDelimitationItem, 0);
    return;
  }
  let value = el.value ?? Buffer.alloc(0);
  if (w.sourceLittle !== w.ts.little) value = swapped(el.vr, value);
  const odd = value.length % 2 === 1;
  w.header(el.tag, el.vr, value.length + (odd ? 1 : 0));
  w.bytes(value);
  if (odd) w.pad(el.vr);
}

/** The encoding as parts: the writer's buffer between the large values, which are views of the dataset's buffers. */
function encodeParts(ds: Dataset, ts: SyntaxInfo, sourceLittle: boolean): Buffer[] {
  const w = new Writer(ts, sourceLittle, copiedSize(ds, ts));
  writeElements(w, ds);
  return w.parts();
}

/**
 * Encode a dataset in a transfer syntax. `sourceLittle` tells the byte
 * order of the element values held (they are swapped when it differs).
 */
export function encodeDataset(
  ds: Dataset,
  transferSyntax: string | SyntaxInfo,
  sourceLittle = true,
): Buffer {
  const ts = typeof transferSyntax === "string" ? syntaxInfo(transferSyntax) : transferSyntax;
  const parts = encodeParts(ds, ts, sourceLittle);
  const raw = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return ts.deflated ? deflateRawSync(raw) : raw;
}

/**
 * `encodeDataset` without its final copy: the encoding as a list of parts
 * for a vectored write, large values (pixel data) being views of the
 * dataset's own buffers and everything between them in one buffer. A
 * deflated syntax gives one part.
 */
export function encodeDatasetParts(
  ds: Dataset,
  transferSyntax: string | SyntaxInfo,
  sourceLittle = true,
): Buffer[] {
  const ts = typeof transferSyntax === "string" ? syntaxInfo(transferSyntax) : transferSyntax;
  const parts = encodeParts(ds, ts, sourceLittle);
  if (ts.deflated) return [deflateRawSync(parts.length === 1 ? parts[0]! : Buffer.concat(parts))];
  return parts;
}

/** Build a text element (value padded to even length). */
export function textElement(
  tag: number,
  vr: string,
  value: string | string[] | null,
  cs: Charset = DEFAULT_CHARSET,
): Element {
  return { tag, vr, value: padValue(vr, encodeText(valueText(value), cs)) };
}

/** Build a binary numeric element (little endian). */
export function numberElement(
  tag: number,
  vr: string,
  values: number | Array<number | string | bigint>,
): Element {
  const list = Array.isArray(values) ? values : [values];
  const w = BINARY_WIDTH[vr];
  if (!w) throw new Error(`${vr} is not a binary numeric VR`);
  const step = vr === "AT" ? 4 : w;
  const b = Buffer.alloc(list.length * step);
  list.forEach((v, i) => {
    const o = i * step;
    switch (vr) {
      case "US":
      case "OW":
        b.writeUInt16LE(Number(v), o);
        break;
      case "SS":
        b.writeInt16LE(Number(v), o);
        break;
      case "UL":
      case "OL":
        b.writeUInt32LE(Number(v) >>> 0, o);
        break;
      case "SL":
        b.writeInt32LE(Number(v), o);
        break;
      case "FL":
      case "OF":
        b.writeFloatLE(Number(v), o);
        break;
      case "FD":
      case "OD":
        b.writeDoubleLE(Number(v), o);
        break;
      case "SV":
        b.writeBigInt64LE(BigInt(v), o);
        break;
      case "UV":
      case "OV":
        b.writeBigUInt64LE(BigInt(v), o);
        break;
      case "AT": {
        const t = typeof v === "string" ? parseInt(v, 16) : Number(v);
        b.writeUInt16LE(t >>> 16, o);
        b.writeUInt16LE(t & 0xffff, o + 2);
        break;
      }
    }
  });
  return { tag, vr, value: b };
}
