/**
 * DCMTK `dcmdump`-style text for datasets, as findscu prints responses.
 * Lines are returned as latin1 strings so raw value bytes (any character
 * set, padding, NULs) survive unchanged when written as latin1.
 */
import { BINARY_WIDTH, STRING_VRS, type Dataset, type Element } from "./dataset.js";
import { describeTag, tagDcmtk } from "./dict.js";
import { syntaxName } from "./syntax.js";
import { dcmtkUidName } from "./uid-table.js";

const COLUMN = 56;

function line(depth: number, head: string, len: string, vm: number, name: string): string {
  const indent = "  ".repeat(depth);
  const text = indent + head;
  const target = COLUMN + 2 * depth;
  const pad = text.length < target ? " ".repeat(target - text.length) : " ";
  return `${text}${pad}#${len},${String(vm).padStart(2)} ${name}`;
}

/** DCMTK prints `# %3d` (so lengths of 1000 and more still get a space after `#`). */
function lenField(n: number | undefined): string {
  return n === undefined ? " u/l" : " " + String(n).padStart(3);
}

function nameOf(tag: number): string {
  const e = describeTag(tag);
  return e ? e.dumpName : "Unknown Tag & Data";
}

function formatNumber(vr: string, v: number | string): string {
  if (typeof v === "string") return v;
  if (vr === "FL" || vr === "OF") return String(Math.fround(v)).replace(/e\+?/, "e");
  if (vr === "FD" || vr === "OD") return String(v);
  return String(v);
}

function binaryField(el: Element, little: boolean): { text: string; vm: number } {
  const b = el.value ?? Buffer.alloc(0);
  // DCMTK counts OB/OW/OF/OD/OL/OV/UN as one value even when empty.
  if (b.length === 0) return { text: "(no value available)", vm: /^(O[BWFDLV]|UN)$/.test(el.vr) ? 1 : 0 };
  const w = BINARY_WIDTH[el.vr] ?? 1;
  const values: string[] = [];
  if (el.vr === "AT") {
    for (let o = 0; o + 4 <= b.length; o += 4) {
      const g = little ? b.readUInt16LE(o) : b.readUInt16BE(o);
      const e = little ? b.readUInt16LE(o + 2) : b.readUInt16BE(o + 2);
      values.push(tagDcmtk(((g << 16) | e) >>> 0));
    }
    return { text: values.join("\\"), vm: values.length };
  }
  if (el.vr === "OB" || el.vr === "UN" || el.vr === "OW") {
    const hex: string[] = [];
    if (el.vr === "OW") {
      for (let o = 0; o + 2 <= b.length; o += 2) hex.push((little ? b.readUInt16LE(o) : b.readUInt16BE(o)).toString(16).padStart(4, "0"));
    } else {
      for (const byte of b) hex.push(byte.toString(16).padStart(2, "0"));
    }
    return { text: hex.join("\\"), vm: 1 };
  }
  for (let o = 0; o + w <= b.length; o += w) {
    let v: number | string;
    switch (el.vr) {
      case "US": v = little ? b.readUInt16LE(o) : b.readUInt16BE(o); break;
      case "SS": v = little ? b.readInt16LE(o) : b.readInt16BE(o); break;
      case "UL": case "OL": v = little ? b.readUInt32LE(o) : b.readUInt32BE(o); break;
      case "SL": v = little ? b.readInt32LE(o) : b.readInt32BE(o); break;
      case "FL": case "OF": v = little ? b.readFloatLE(o) : b.readFloatBE(o); break;
      case "FD": case "OD": v = little ? b.readDoubleLE(o) : b.readDoubleBE(o); break;
      case "SV": v = (little ? b.readBigInt64LE(o) : b.readBigInt64BE(o)).toString(); break;
      default: v = (little ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)).toString(); break;
    }
    values.push(formatNumber(el.vr, v));
  }
  return { text: values.join("\\"), vm: /^O[FDLV]$/.test(el.vr) ? 1 : values.length };
}

function stringField(el: Element, padding: boolean): { text: string; vm: number } {
  const b = el.value;
  if (!b || b.length === 0) return { text: "(no value available)", vm: 0 };
  let raw = b.toString("latin1", 0, b.length);
  if (!padding && b.length % 2 === 0 && (raw.endsWith(" ") || raw.endsWith("\0"))) raw = raw.slice(0, -1);
  const vm = el.vr === "LT" || el.vr === "ST" || el.vr === "UT" || el.vr === "UR" ? 1 : raw.split("\\").length;
  if (el.vr === "UI" && vm === 1) {
    const name = dcmtkUidName(raw.replace(/[\0 ]+$/, ""));
    if (name) return { text: `=${name}`, vm };
  }
  return { text: `[${raw}]`, vm };
}

export interface DumpOptions {
  /** Show string values with their padding (as received); false shows them as DCMTK shows a request. */
  showPadding?: boolean;
}

/** Dump lines (without any `I: ` prefix) for a dataset. */
export function dumpLines(ds: Dataset, little = true, depth = 0, out: string[] = [], o: DumpOptions = {}): string[] {
  for (const el of ds.elements) dumpElement(el, little, depth, out, o);
  return out;
}

function dumpElement(el: Element, little: boolean, depth: number, out: string[], o: DumpOptions): void {
  const tag = tagDcmtk(el.tag);
  const name = nameOf(el.tag);
  if (el.items) {
    const kind = el.undefinedLength ? "undefined" : "explicit";
    const length = el.undefinedLength ? undefined : el.length ?? sequenceLength(el, little);
    out.push(line(depth, `${tag} SQ (Sequence with ${kind} length #=${el.items.length})`, lenField(length), 1, name));
    for (const item of el.items) {
      const ikind = item.undefinedLength ? "undefined" : "explicit";
      const ilen = item.undefinedLength ? undefined : item.length ?? itemLength(item, little);
      out.push(line(depth + 1, `(fffe,e000) na (Item with ${ikind} length #=${item.elements.length})`, lenField(ilen), 1, "Item"));
      dumpLines(item, little, depth + 2, out, o);
      out.push(line(depth + 1, `(fffe,e00d) na (ItemDelimitationItem${item.undefinedLength ? "" : " for re-encoding"})`, lenField(0), 0, "ItemDelimitationItem"));
    }
    out.push(line(depth, `(fffe,e0dd) na (SequenceDelimitationItem${el.undefinedLength ? "" : " for re-encod."})`, lenField(0), 0, "SequenceDelimitationItem"));
    return;
  }
  if (el.fragments) {
    out.push(line(depth, `${tag} ${el.vr} (PixelSequence #=${el.fragments.length})`, lenField(undefined), 1, name));
    for (const f of el.fragments) {
      // Printed in full, like every other value (findscu prints without shortening; dcmdump +L).
      const hex = [...f].map((b) => b.toString(16).padStart(2, "0")).join("\\");
      out.push(line(depth + 1, `(fffe,e000) pi ${f.length ? hex : "(no value available)"}`, lenField(f.length), 1, "Item"));
    }
    out.push(line(depth, "(fffe,e0dd) na (SequenceDelimitationItem)", lenField(0), 0, "SequenceDelimitationItem"));
    return;
  }
  const field = STRING_VRS.has(el.vr) ? stringField(el, o.showPadding !== false) : binaryField(el, little);
  out.push(line(depth, `${tag} ${el.vr} ${field.text}`, lenField(el.value?.length ?? 0), field.vm, name));
}

/** Encoded length of a sequence's value (items with headers), for explicit-length display. */
function sequenceLength(el: Element, little: boolean): number {
  let n = 0;
  for (const item of el.items ?? []) n += 8 + itemLength(item, little);
  return n;
}

function itemLength(item: Dataset, little: boolean): number {
  let n = 0;
  for (const el of item.elements) {
    if (el.items) n += 12 + sequenceLength(el, little);
    else if (el.fragments) n += 12 + el.fragments.reduce((s, f) => s + 8 + f.length, 0) + 8;
    else {
      const len = el.value?.length ?? 0;
      n += (LONG.has(el.vr) ? 12 : 8) + len;
    }
  }
  return n;
}
const LONG = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"]);

/** The block findscu prints for one response (each line to be prefixed by `I: `). */
export function responseBlock(counter: number, statusText: string, ds: Dataset, transferSyntax: string, little = true): string[] {
  const out = ["---------------------------", `Find Response: ${counter} (${statusText})`, "", "# Dicom-Data-Set", `# Used TransferSyntax: ${syntaxName(transferSyntax)}`];
  dumpLines(ds, little, 0, out);
  out.push("");
  return out;
}
