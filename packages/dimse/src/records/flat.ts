/**
 * Records: the flat NDJSON form of a dataset (keyword keys, plain values),
 * the strict PS3.18 JSON model, and the normaliser that turns any accepted
 * input form back into a dataset.
 */
import {
  BINARY_WIDTH,
  Dataset,
  elementNumbers,
  elementStrings,
  numberElement,
  padValue,
  SINGLE_TEXT_VRS,
  STRING_VRS,
  type Element,
} from "../dicom/dataset.js";
import { chooseCharset, encodeText, type Charset } from "../dicom/charset.js";
import {
  describeTag,
  isPrivate,
  lookupKeyword,
  lookupTag,
  parseTagHex,
  tagHex,
  Tags,
} from "../dicom/dict.js";

export type FlatRecord = Record<string, unknown>;

/**
 * Reserved lower-case metadata keys. A list, not a rule: the dictionary has
 * a real lower-case keyword (`dBdt`).
 */
export const METADATA_KEYS: readonly string[] = [
  "query",
  "line",
  "level",
  "status",
  "statusCode",
  "error",
  "errorComment",
  "path",
  "from",
  "to",
  "action",
  "bytes",
  "files",
  "count",
  "completed",
  "failed",
  "warning",
  "remaining",
  "expected",
  "received",
  "sourceAet",
  "callingAet",
  "calledAet",
  "peer",
  "transferSyntax",
  "time",
  "elapsed",
  "added",
  "unchanged",
  "skipped",
  "removed",
];
const META = new Set(METADATA_KEYS);

export function isMetadataKey(k: string): boolean {
  return META.has(k);
}

/** Binary VRs kept as PS3.18 objects under hex keys. */
const BULK_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "UN"]);

export interface ToFlatOptions {
  /** Byte order of the values held (false for explicit big endian data). */
  little?: boolean;
  /** Binary values: omitted (default) or inline base64. */
  bulk?: "omit" | "inline";
}

function textValue(vr: string, s: string): string | number | null {
  if (s === "") return null;
  if (vr === "IS") {
    const n = Number(s);
    return Number.isInteger(n) && /^[+-]?\d+$/.test(s) ? n : s;
  }
  if (vr === "DS") {
    const n = Number(s);
    return Number.isFinite(n) && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) ? n : s;
  }
  return s;
}

/** Flat record for a dataset (attributes only, in tag order). */
export function datasetToFlat(ds: Dataset, opts: ToFlatOptions = {}): FlatRecord {
  const out: FlatRecord = {};
  const cs = ds.charset();
  for (const el of ds.elements) {
    if ((el.tag & 0xffff) === 0) continue; // group lengths are encoding artefacts
    const entry = isPrivate(el.tag) ? undefined : lookupTag(el.tag);
    if (!entry || BULK_VRS.has(el.vr) || el.fragments) {
      out[tagHex(el.tag)] = elementToPs318(el, cs, opts);
      continue;
    }
    out[entry.keyword] = flatValue(el, entry.multi, cs, opts);
  }
  return out;
}

const jsonKeys = new Map<number, string>();

/**
 * The flat record of a dataset as one JSON text, built directly (no
 * intermediate object, no key sorting): the same text as
 * `serializeRecord({...meta, ...datasetToFlat(ds)})`, only faster.
 * `metaJson` is the already-serialised metadata part (`"query":1`), if any.
 */
export function datasetToFlatJson(ds: Dataset, opts: ToFlatOptions = {}, metaJson = ""): string {
  let s = `{${metaJson}`;
  let first = metaJson === "";
  const cs = ds.charset();
  const els = ds.elements;
  for (let i = 0; i < els.length; i++) {
    const el = els[i]!;
    if ((el.tag & 0xffff) === 0) continue;
    const entry = isPrivate(el.tag) ? undefined : lookupTag(el.tag);
    let key = jsonKeys.get(el.tag);
    let value: string;
    if (!entry || BULK_VRS.has(el.vr) || el.fragments) {
      if (key === undefined || entry) key = `${JSON.stringify(tagHex(el.tag))}:`;
      value = serializeValue(elementToPs318(el, cs, opts));
    } else {
      if (key === undefined) {
        key = `${JSON.stringify(entry.keyword)}:`;
        if (jsonKeys.size < 65536) jsonKeys.set(el.tag, key);
      }
      value = el.items
        ? `[${el.items.map((it) => datasetToFlatJson(it, opts)).join(",")}]`
        : STRING_VRS.has(el.vr)
          ? textJson(el, entry.multi, cs)
          : serializeValue(flatValue(el, entry.multi, cs, opts));
    }
    s += (first ? "" : ",") + key + value;
    first = false;
  }
  return `${s}}`;
}

/** `serializeValue(flatValue(…))` of a text element, without the values' array for one value. */
function textJson(el: Element, multi: boolean, cs: Charset): string {
  const values = elementStrings(el, cs);
  if (values.length === 0) return "null";
  if (!multi && values.length === 1) return scalarJson(textValue(el.vr, values[0]!));
  let s = "[";
  for (let i = 0; i < values.length; i++)
    s += (i ? "," : "") + scalarJson(textValue(el.vr, values[i]!));
  return `${s}]`;
}

/** JSON of a text value (a number from IS and DS is finite: String() writes it as JSON does). */
function scalarJson(v: string | number | null): string {
  return v === null ? "null" : typeof v === "number" ? String(v) : JSON.stringify(v);
}

function flatValue(el: Element, multi: boolean, cs: Charset, opts: ToFlatOptions): unknown {
  if (el.items) return el.items.map((item) => datasetToFlat(item, opts));
  if (STRING_VRS.has(el.vr)) {
    const values = elementStrings(el, cs);
    if (values.length === 0) return null;
    if (multi) return values.map((v) => textValue(el.vr, v));
    if (values.length === 1) return textValue(el.vr, values[0]!);
    // More values than the dictionary allows: keep them rather than lose data.
    return values.map((v) => textValue(el.vr, v));
  }
  if (el.vr === "AT") {
    const v = elementNumbers(el, opts.little ?? true).map((n) => tagHex(Number(n)));
    if (v.length === 0) return null;
    return multi || v.length > 1 ? v : v[0];
  }
  const nums = elementNumbers(el, opts.little ?? true);
  if (nums.length === 0) return null;
  return multi || nums.length > 1 ? nums : nums[0];
}

export interface Ps318Attribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}

function pnObject(s: string): Record<string, string> | null {
  if (s === "") return null;
  const [a, i, p] = s.split("=");
  const o: Record<string, string> = {};
  if (a) o.Alphabetic = a;
  if (i) o.Ideographic = i;
  if (p) o.Phonetic = p;
  return o;
}

function elementToPs318(el: Element, cs: Charset, opts: ToFlatOptions): Ps318Attribute {
  const vr = el.items ? "SQ" : el.vr;
  if (el.items) {
    return el.items.length ? { vr, Value: el.items.map((it) => datasetToPs318(it, opts)) } : { vr };
  }
  if (el.fragments || BULK_VRS.has(vr)) {
    if (opts.bulk === "inline") {
      let bytes = el.fragments ? Buffer.concat(el.fragments) : (el.value ?? Buffer.alloc(0));
      // PS3.18 bulk data is little endian (as dcm2json writes it): swap OW/OF/OD/OL/OV from big endian data.
      if (!el.fragments && opts.little === false) bytes = toLittleEndian(vr, bytes);
      return bytes.length ? { vr, InlineBinary: bytes.toString("base64") } : { vr };
    }
    return { vr };
  }
  if (STRING_VRS.has(vr)) {
    const values = elementStrings(el, cs);
    if (values.length === 0 || (values.length === 1 && values[0] === "")) return { vr };
    if (vr === "PN") return { vr, Value: values.map(pnObject) };
    return { vr, Value: values.map((v) => (v === "" ? null : v)) };
  }
  if (vr === "AT") {
    const v = elementNumbers(el, opts.little ?? true).map((n) => tagHex(Number(n)));
    return v.length ? { vr, Value: v } : { vr };
  }
  const nums = elementNumbers(el, opts.little ?? true);
  return nums.length ? { vr, Value: nums } : { vr };
}

function toLittleEndian(vr: string, value: Buffer): Buffer {
  const w = BINARY_WIDTH[vr];
  if (!w || w === 1 || value.length % w !== 0) return value;
  const out = Buffer.from(value);
  if (w === 2) out.swap16();
  else if (w === 4) out.swap32();
  else out.swap64();
  return out;
}

/** Strict PS3.18 (DICOM JSON model) object: hex keys in tag order. */
export function datasetToPs318(
  ds: Dataset,
  opts: ToFlatOptions = {},
): Record<string, Ps318Attribute> {
  const out: Record<string, Ps318Attribute> = {};
  const cs = ds.charset();
  for (const el of ds.elements) {
    if ((el.tag & 0xffff) === 0) continue;
    out[tagHex(el.tag)] = elementToPs318(el, cs, opts);
  }
  return out;
}

// ---------------------------------------------------------------- serialising

/** Sort position of a key: -1 for metadata (and unknown) keys, else its tag. Cached. */
const keyRank = new Map<string, number>();
function rankOf(k: string): number {
  let r = keyRank.get(k);
  if (r === undefined) {
    if (META.has(k)) r = -1;
    else r = parseTagHex(k) ?? lookupKeyword(k)?.tag ?? -1;
    if (keyRank.size < 100000) keyRank.set(k, r);
  }
  return r;
}

/** Key order of a record: metadata keys first (as given), then attributes in tag order. */
export function recordKeyOrder(rec: FlatRecord): string[] {
  const keys = Object.keys(rec);
  // Fast path: already in order (records built from datasets are).
  let prev = -1;
  let ordered = true;
  for (const k of keys) {
    const r = rankOf(k);
    if (r < prev) {
      ordered = false;
      break;
    }
    prev = r;
  }
  if (ordered) return keys;
  const meta: string[] = [];
  const attrs: Array<[number, string]> = [];
  for (const k of keys) {
    const r = rankOf(k);
    if (r < 0) meta.push(k);
    else attrs.push([r, k]);
  }
  attrs.sort((a, b) => a[0] - b[0]);
  return [...meta, ...attrs.map((a) => a[1])];
}

/** One compact JSON line in `recordKeyOrder`, recursively for sequence items. */
export function serializeRecord(rec: FlatRecord): string {
  let s = "{";
  let first = true;
  for (const k of recordKeyOrder(rec)) {
    const v = rec[k];
    if (v === undefined) continue;
    s += `${(first ? "" : ",") + JSON.stringify(k)}:${serializeValue(v)}`;
    first = false;
  }
  return `${s}}`;
}

function serializeValue(v: unknown): string {
  if (Array.isArray(v))
    return (
      "[" +
      v
        .map((x) => (isPlainRecord(x) ? serializeRecord(x) : (JSON.stringify(x) ?? "null")))
        .join(",") +
      "]"
    );
  if (isPlainRecord(v)) return "vr" in v ? serializeAttribute(v) : serializeRecord(v);
  return JSON.stringify(v) ?? "null";
}

/**
 * A PS3.18 attribute object (`{"vr", "Value"…}`): its own keys as given, but
 * sequence items through `serializeRecord`, because JSON.stringify would put
 * integer-like keys such as "20011002" before "00081150".
 */
function serializeAttribute(a: FlatRecord): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined) continue;
    parts.push(
      JSON.stringify(k) +
        ":" +
        (k === "Value" && Array.isArray(v) ? serializeValue(v) : (JSON.stringify(v) ?? "null")),
    );
  }
  return `{${parts.join(",")}}`;
}

function isPlainRecord(v: unknown): v is FlatRecord {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------- input

export class RecordError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = "RecordError";
  }
}

interface Pending {
  tag: number;
  vr: string;
  /** Text values (already PN strings), numbers, or nested records for SQ. */
  text?: string[];
  numbers?: Array<number | string>;
  items?: Pending[][];
  binary?: Buffer;
}

export interface FromRecordOptions {
  /** Keys to ignore silently (besides metadata keys). */
  ignore?: (key: string) => boolean;
  /** Accept and drop unknown keys instead of failing. */
  lenient?: boolean;
}

/** The metadata part of a record (reserved keys), in input order. */
export function recordMetadata(rec: FlatRecord): FlatRecord {
  const out: FlatRecord = {};
  for (const k of Object.keys(rec)) if (META.has(k)) out[k] = rec[k];
  return out;
}

/**
 * Convert any accepted record form — flat, PS3.18, dcmjs-naturalised,
 * Orthanc simplified or Orthanc `/tags` — to a dataset. Metadata keys are
 * skipped (use `recordMetadata`).
 */
export function recordToDataset(rec: FlatRecord, opts: FromRecordOptions = {}): Dataset {
  const pending = collect(rec, opts);
  const strings: string[] = [];
  const walk = (list: Pending[]) => {
    for (const p of list) {
      if (p.text) strings.push(...p.text);
      if (p.items) p.items.forEach(walk);
    }
  };
  walk(pending);
  const ds = new Dataset();
  const explicitCs = pending.find((p) => p.tag === Tags.SpecificCharacterSet);
  if (!explicitCs) {
    const term = chooseCharset(strings);
    if (term)
      ds.set({
        tag: Tags.SpecificCharacterSet,
        vr: "CS",
        value: padValue("CS", Buffer.from(term, "latin1")),
      });
  }
  build(ds, pending);
  return ds;
}

function build(ds: Dataset, list: Pending[]): void {
  // Specific Character Set first so the rest is encoded with it.
  const sorted = [...list].sort((a, b) =>
    a.tag === Tags.SpecificCharacterSet ? -1 : b.tag === Tags.SpecificCharacterSet ? 1 : 0,
  );
  for (const p of sorted) {
    if (p.items) {
      const items = p.items.map((sub) => {
        const item = new Dataset();
        item.parent = ds;
        build(item, sub);
        return item;
      });
      ds.set({ tag: p.tag, vr: "SQ", items });
    } else if (p.binary) {
      ds.set({ tag: p.tag, vr: p.vr, value: padValue(p.vr, p.binary) });
    } else if (p.numbers) {
      ds.set(
        p.numbers.length
          ? numberElement(p.tag, p.vr, p.numbers)
          : { tag: p.tag, vr: p.vr, value: Buffer.alloc(0) },
      );
    } else {
      const text = (p.text ?? []).join("\\");
      const cs = ds.charset();
      const bytes =
        p.vr === "UI" || p.vr === "CS" || p.vr === "AE"
          ? Buffer.from(text, "latin1")
          : encodeText(text, cs);
      ds.set({ tag: p.tag, vr: p.vr, value: padValue(p.vr, bytes) });
    }
  }
}

const ORTHANC_TAG = /^\(?([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)?$/;

function collect(rec: FlatRecord, opts: FromRecordOptions): Pending[] {
  const out = new Map<number, Pending>();
  for (const [key, value] of Object.entries(rec)) {
    if (META.has(key) || key === "_vrMap" || opts.ignore?.(key)) continue;
    const hex = parseTagHex(key);
    if (hex !== undefined && isPs318(value)) {
      out.set(hex, fromPs318(hex, value, key, opts));
      continue;
    }
    const ot = ORTHANC_TAG.exec(key);
    if (ot && typeof value === "object" && value !== null && "Type" in (value as object)) {
      const tag = ((parseInt(ot[1]!, 16) << 16) | parseInt(ot[2]!, 16)) >>> 0;
      out.set(tag, fromOrthancTag(tag, value as { Type: string; Value: unknown }, key, opts));
      continue;
    }
    const entry = lookupKeyword(key);
    if (entry) {
      out.set(entry.tag, fromFlat(entry.tag, entry.vr, entry.multi, value, key, opts));
      continue;
    }
    if (hex !== undefined) {
      // A hex key with a plain value: treat as flat with the dictionary VR.
      const e = describeTag(hex);
      out.set(hex, fromFlat(hex, e?.vr ?? "UN", e?.multi ?? true, value, key, opts));
      continue;
    }
    if (opts.lenient) continue;
    throw new RecordError(
      key,
      `unknown key "${key}": not a DICOM keyword, an 8-digit tag, or a reserved metadata key`,
    );
  }
  return [...out.values()];
}

function isPs318(v: unknown): v is Ps318Attribute {
  return (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    typeof (v as { vr?: unknown }).vr === "string"
  );
}

function pnToString(v: unknown, key: string): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    const parts = [o.Alphabetic, o.Ideographic, o.Phonetic].map((p) =>
      typeof p === "string" ? p : "",
    );
    while (parts.length && parts[parts.length - 1] === "") parts.pop();
    return parts.join("=");
  }
  throw new RecordError(key, `${key}: expected a person name string or {"Alphabetic": …} object`);
}

function fromFlat(
  tag: number,
  vr: string,
  multi: boolean,
  value: unknown,
  key: string,
  opts: FromRecordOptions,
): Pending {
  if (vr === "SQ") {
    if (value === null || value === undefined) return { tag, vr, items: [] };
    const list = Array.isArray(value) ? value : [value];
    return {
      tag,
      vr,
      items: list.map((item, i) => {
        if (typeof item !== "object" || item === null || Array.isArray(item))
          throw new RecordError(key, `${key}[${i}]: expected an object (sequence item)`);
        return collect(item as FlatRecord, opts);
      }),
    };
  }
  if (value === null || value === undefined) return emptyPending(tag, vr);
  if (typeof value === "object" && !Array.isArray(value) && vr !== "PN") {
    throw new RecordError(key, `${key}: expected a string, number or array, got an object`);
  }
  let list: unknown[];
  if (Array.isArray(value)) list = value;
  else if (typeof value === "string" && multi && !SINGLE_TEXT_VRS.has(vr))
    list = value === "" ? [] : value.split("\\");
  else list = [value];
  if (vr === "PN") return { tag, vr, text: list.map((v) => pnToString(v, key)) };
  if (BINARY_WIDTH[vr] && !["OW", "OF", "OD", "OL", "OV"].includes(vr)) {
    const numbers = list.map((v) => {
      if (vr === "AT" && typeof v === "string") return parseInt(v.replace(/[(),]/g, ""), 16);
      const n = typeof v === "number" ? v : Number(v);
      if (typeof v !== "number" && (typeof v !== "string" || v.trim() === "" || Number.isNaN(n)))
        throw new RecordError(
          key,
          `${key}: expected a number (VR ${vr}), got ${JSON.stringify(v)}`,
        );
      return vr === "SV" || vr === "UV" ? (typeof v === "string" ? v : n) : n;
    });
    return { tag, vr, numbers };
  }
  if (BULK_VRS.has(vr)) {
    if (typeof value === "string") return { tag, vr, binary: Buffer.from(value, "base64") };
    throw new RecordError(key, `${key}: binary values must be base64 strings`);
  }
  return {
    tag,
    vr,
    text: list.map((v) => {
      if (v === null) return "";
      if (typeof v === "number") return String(v);
      if (typeof v === "string") return v;
      throw new RecordError(key, `${key}: expected a string or number, got ${JSON.stringify(v)}`);
    }),
  };
}

function emptyPending(tag: number, vr: string): Pending {
  if (BINARY_WIDTH[vr] && !["OW", "OF", "OD", "OL", "OV"].includes(vr))
    return { tag, vr, numbers: [] };
  if (BULK_VRS.has(vr)) return { tag, vr, binary: Buffer.alloc(0) };
  return { tag, vr, text: [] };
}

function fromPs318(
  tag: number,
  attr: Ps318Attribute,
  key: string,
  opts: FromRecordOptions,
): Pending {
  const vr = attr.vr;
  if (vr === "SQ") {
    const items = (attr.Value ?? []).map((item, i) => {
      if (typeof item !== "object" || item === null)
        throw new RecordError(key, `${key}.Value[${i}]: expected an object`);
      return collect(item as FlatRecord, opts);
    });
    return { tag, vr, items };
  }
  if (attr.InlineBinary !== undefined)
    return { tag, vr, binary: Buffer.from(attr.InlineBinary, "base64") };
  if (attr.BulkDataURI !== undefined) return emptyPending(tag, vr);
  const values = attr.Value ?? [];
  if (vr === "PN") return { tag, vr, text: values.map((v) => pnToString(v, key)) };
  if (BINARY_WIDTH[vr] && !["OW", "OF", "OD", "OL", "OV"].includes(vr)) {
    return {
      tag,
      vr,
      numbers: values.map((v) =>
        vr === "AT" && typeof v === "string" ? parseInt(v, 16) : (v as number | string),
      ),
    };
  }
  if (BULK_VRS.has(vr)) return emptyPending(tag, vr);
  return { tag, vr, text: values.map((v) => (v === null ? "" : String(v))) };
}

function fromOrthancTag(
  tag: number,
  v: { Type: string; Value: unknown },
  key: string,
  opts: FromRecordOptions,
): Pending {
  const e = describeTag(tag);
  if (v.Type === "Sequence") {
    const items = Array.isArray(v.Value) ? v.Value : [];
    return { tag, vr: "SQ", items: items.map((item) => collect(item as FlatRecord, opts)) };
  }
  if (v.Type === "Null" || v.Value === null) return emptyPending(tag, e?.vr ?? "UN");
  return fromFlat(tag, e?.vr ?? "LO", e?.multi ?? true, v.Value, key, opts);
}
