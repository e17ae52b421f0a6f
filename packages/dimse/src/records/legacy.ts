/**
 * The pacsalyzer JSON form (query_pacs.py): an array of objects keyed
 * `"(gggg,eeee)"` whose values are pydicom `str(DataElement)` strings,
 *
 *   "(0008,0080)": "(0008, 0080) Institution Name      LO: 'Example Hospital'"
 *
 * in the pydicom 2 (`(0008, 0080)`) and pydicom 3 (`(0008,0080)`) forms,
 * with any whitespace run between the parts. The value after `VR: ` is
 * Python's `repr()`: single quotes, double quotes when the text holds a
 * `'`, `''` for empty, `['CT', 'PT']` for several values; UIDs unquoted
 * (a registered UID by its name); `""` for an element that was absent.
 * Non-ASCII arrives as JSON `\uXXXX` escapes, which JSON.parse has
 * already decoded.
 */
import { lookupTag, tagHex } from "../dicom/dict.js";
import { UID_TABLE } from "../dicom/uid-table.js";
import { RecordError, type FlatRecord } from "./flat.js";

const LEGACY_KEY = /^\(\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)$/;
/** `(gggg, eeee) Name  VR: value`; captures the VR and the value (the key already gives the tag). */
const LEGACY_VALUE =
  /^\(\s*[0-9A-Fa-f]{4}\s*,\s*[0-9A-Fa-f]{4}\s*\)\s*.*?\s+([A-Z]{2}(?: or [A-Z]{2})*):(?:\s+(.*))?$/s;

const LEGACY_EXAMPLE = `"(0008, 0080) Institution Name LO: 'Example Hospital'"`;

/** True for a pacsalyzer record: its first key is `"(gggg,eeee)"` holding a string. */
export function isLegacyRecord(rec: FlatRecord): boolean {
  for (const k in rec) return LEGACY_KEY.test(k) && typeof rec[k] === "string";
  return false;
}

interface LegacyElement {
  vr: string;
  /** Decoded values: [] for an empty value. */
  values: string[];
}

/**
 * Parse one pydicom element string. Returns undefined for `""` (absent
 * element); throws RecordError when the text has another shape.
 */
function parseLegacyElement(key: string, text: string): LegacyElement | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  const m = LEGACY_VALUE.exec(t);
  if (!m)
    throw new RecordError(
      key,
      `${key}: expected a pydicom element string like ${LEGACY_EXAMPLE}, got ${JSON.stringify(shorten(text))}`,
    );
  const vr = m[1]!.slice(0, 2);
  const rep = (m[2] ?? "").trim();
  let values: string[];
  try {
    values = parseRepval(rep);
  } catch (e) {
    throw new RecordError(
      key,
      `${key}: ${(e as Error).message} in ${JSON.stringify(shorten(text))}`,
    );
  }
  if (vr === "UI") values = values.map(uidFromPydicomName);
  return { vr, values };
}

function shorten(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Python repr of a value: a string literal, a list of literals, or bare text (UIDs, numbers). */
function parseRepval(rep: string): string[] {
  if (rep === "" || rep === "None") return [];
  const c = rep[0];
  if (c === "'" || c === '"') {
    const { value, end } = parsePyString(rep, 0);
    if (rep.slice(end).trim() !== "") throw new Error("unexpected text after the quoted value");
    return value === "" ? [] : [value];
  }
  if (c === "[" && rep.endsWith("]")) {
    const out: string[] = [];
    let i = 1;
    const skip = () => {
      while (i < rep.length && /\s/.test(rep[i]!)) i++;
    };
    skip();
    if (rep[i] === "]") return out;
    for (;;) {
      skip();
      const q = rep[i];
      if (q === "'" || q === '"') {
        const r = parsePyString(rep, i);
        out.push(r.value);
        i = r.end;
      } else {
        // Unquoted list items (numbers, UIDs).
        let j = i;
        while (j < rep.length && rep[j] !== "," && rep[j] !== "]") j++;
        out.push(rep.slice(i, j).trim());
        i = j;
      }
      skip();
      if (rep[i] === ",") {
        i++;
        continue;
      }
      if (rep[i] === "]" && i === rep.length - 1) return out;
      throw new Error("malformed value list");
    }
  }
  return [rep];
}

/** A Python string literal starting at `start`; returns the value and the index after the closing quote. */
function parsePyString(s: string, start: number): { value: string; end: number } {
  const q = s[start];
  let out = "";
  let i = start + 1;
  while (i < s.length) {
    const c = s[i]!;
    if (c === q) return { value: out, end: i + 1 };
    if (c !== "\\") {
      out += c;
      i++;
      continue;
    }
    const e = s[i + 1];
    i += 2;
    switch (e) {
      case "\\":
        out += "\\";
        break;
      case "'":
        out += "'";
        break;
      case '"':
        out += '"';
        break;
      case "n":
        out += "\n";
        break;
      case "r":
        out += "\r";
        break;
      case "t":
        out += "\t";
        break;
      case "a":
        out += "\x07";
        break;
      case "b":
        out += "\b";
        break;
      case "f":
        out += "\f";
        break;
      case "v":
        out += "\v";
        break;
      case "x":
        out += hexChar(s, i, 2);
        i += 2;
        break;
      case "u":
        out += hexChar(s, i, 4);
        i += 4;
        break;
      case "U":
        out += hexChar(s, i, 8);
        i += 8;
        break;
      default:
        if (e !== undefined && /[0-7]/.test(e)) {
          let j = i - 1;
          while (j < i + 2 && /[0-7]/.test(s[j] ?? "")) j++;
          out += String.fromCodePoint(parseInt(s.slice(i - 1, j), 8));
          i = j;
        } else out += `\\${e ?? ""}`;
    }
  }
  throw new Error(`unterminated ${q}-quoted value`);
}

function hexChar(s: string, i: number, n: number): string {
  const h = s.slice(i, i + n);
  if (h.length !== n || !/^[0-9A-Fa-f]+$/.test(h))
    throw new Error(`bad \\${n === 2 ? "x" : n === 4 ? "u" : "U"} escape`);
  return String.fromCodePoint(parseInt(h, 16));
}

let uidByName: Map<string, string> | undefined;
/**
 * pydicom prints a registered UID by its PS3.6 name (`CT Image Storage`);
 * map it back through the keyword (the name without spaces and punctuation).
 */
function uidFromPydicomName(v: string): string {
  if (/^[0-9.]+$/.test(v)) return v;
  if (!uidByName) {
    uidByName = new Map();
    for (const [uid, keyword] of UID_TABLE) if (keyword) uidByName.set(keyword.toLowerCase(), uid);
  }
  return uidByName.get(v.replace(/[^A-Za-z0-9]/g, "").toLowerCase()) ?? v;
}

/**
 * Convert a pacsalyzer record to a flat record: keyword keys, `null` for
 * empty values, absent (`""`) elements left out, IS/DS as numbers,
 * multi-valued attributes as arrays. Keys of another form pass through.
 */
export function legacyToFlat(rec: FlatRecord): FlatRecord {
  const out: FlatRecord = {};
  for (const key of Object.keys(rec)) {
    const v = rec[key];
    const km = LEGACY_KEY.exec(key);
    if (!km) {
      out[key] = v;
      continue;
    }
    if (typeof v !== "string")
      throw new RecordError(
        key,
        `${key}: expected a string like ${LEGACY_EXAMPLE}, got ${v === null ? "null" : typeof v}`,
      );
    const el = parseLegacyElement(key, v);
    if (!el) continue;
    const tag = ((parseInt(km[1]!, 16) << 16) | parseInt(km[2]!, 16)) >>> 0;
    const entry = lookupTag(tag);
    const values = el.values.map((s) => legacyScalar(el.vr, s));
    if (!entry) {
      out[tagHex(tag)] = values.length ? { vr: el.vr, Value: values } : { vr: el.vr };
      continue;
    }
    out[entry.keyword] =
      values.length === 0 ? null : entry.multi || values.length > 1 ? values : values[0];
  }
  return out;
}

function legacyScalar(vr: string, s: string): string | number | null {
  if (s === "") return null;
  if (
    vr === "IS" ||
    vr === "DS" ||
    vr === "US" ||
    vr === "UL" ||
    vr === "SS" ||
    vr === "SL" ||
    vr === "FL" ||
    vr === "FD"
  ) {
    const n = Number(s);
    if (s.trim() !== "" && Number.isFinite(n)) return n;
  }
  return s;
}
