/**
 * DCMTK `dcmdump`-style text for datasets, as findscu prints responses.
 * Lines are returned as latin1 strings so raw value bytes (any character
 * set, padding, NULs) survive unchanged when written as latin1.
 */
import {
  BINARY_WIDTH,
  elementNumbers,
  LONG_VRS,
  STRING_VRS,
  trimValue,
  type Dataset,
  type Element,
} from "./dataset.js";
import { describeTag, tagDcmtk } from "./dict.js";
import { syntaxName } from "./syntax.js";
import { dcmtkUidName } from "./uid-table.js";
import { dcmtkTagName } from "./dcmtk-names.js";

const COLUMN = 56;

const SPACES = " ".repeat(256);

function line(depth: number, head: string, len: string, vm: number, name: string): string {
  const text = depth ? SPACES.slice(0, 2 * depth) + head : head;
  const target = COLUMN + 2 * depth;
  const pad = text.length < target ? SPACES.slice(0, target - text.length) : " ";
  return `${text + pad}#${len},${vm < 10 ? ` ${vm}` : String(vm)} ${name}`;
}

/** DCMTK prints `# %3d` (so lengths of 1000 and more still get a space after `#`). */
function lenField(n: number | undefined): string {
  return n === undefined ? " u/l" : ` ${String(n).padStart(3)}`;
}

const dumpNames = new Map<number, string>();
/** The attribute name DCMTK 3.6.7 prints in dumps. */
export function dcmtkDumpName(tag: number): string {
  let n = dumpNames.get(tag);
  if (n === undefined) {
    n = computeDumpName(tag);
    if (dumpNames.size < 65536) dumpNames.set(tag, n);
  }
  return n;
}

function computeDumpName(tag: number): string {
  const d = dcmtkTagName(tag);
  if (d !== undefined) return d ?? "Unknown Tag & Data";
  const e = describeTag(tag);
  return e ? e.dumpName : "Unknown Tag & Data";
}

/**
 * C's `%.<precision>g`, as DCMTK prints FL (9 digits) and FD (17 digits).
 * DCMTK's own digit generation (OFStandard::ftoa) stops earlier for some
 * values (1e-7 → `1e-07`, 1/3 → 16 digits); FL/FD rarely occur in query
 * responses, so that is not reproduced.
 */
export function formatG(v: number, precision: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
  if (v === 0) return "0";
  const exp = Number(v.toExponential(precision - 1).split("e")[1]);
  if (exp < -4 || exp >= precision) {
    const [mant, e] = v.toExponential(precision - 1).split("e") as [string, string];
    const m = mant.includes(".") ? mant.replace(/0+$/, "").replace(/\.$/, "") : mant;
    const n = Number(e);
    return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  const fixed = v.toFixed(Math.max(0, precision - 1 - exp));
  return fixed.includes(".") ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
}

function formatNumber(vr: string, v: number | string): string {
  if (typeof v === "string") return v;
  if (vr === "FL" || vr === "OF") return formatG(v, 9);
  if (vr === "FD" || vr === "OD") return formatG(v, 17);
  return String(v);
}

function binaryField(el: Element, little: boolean): { text: string; vm: number } {
  const b = el.value ?? Buffer.alloc(0);
  // DCMTK counts OB/OW/OF/OD/OL/OV/UN as one value even when empty.
  if (b.length === 0)
    return { text: "(no value available)", vm: /^(O[BWFDLV]|UN)$/.test(el.vr) ? 1 : 0 };
  // Bytes in hex: OB, UN and VRs outside the standard (which this parser keeps as read).
  if (!BINARY_WIDTH[el.vr])
    return { text: Array.from(b, (byte) => byte.toString(16).padStart(2, "0")).join("\\"), vm: 1 };
  const values = elementNumbers(el, little).map((v) =>
    el.vr === "AT"
      ? tagDcmtk(v as number)
      : el.vr === "OW"
        ? v.toString(16).padStart(4, "0")
        : formatNumber(el.vr, v),
  );
  return { text: values.join("\\"), vm: /^O[WFDLV]$/.test(el.vr) ? 1 : values.length };
}

/** Roots of the UIDs DCMTK has names for. */
const WELL_KNOWN = /^1\.2\.(840\.10008|276\.0\.7230010|840\.113619)\./;

function stringField(el: Element, padding: boolean): { text: string; vm: number } {
  const b = el.value;
  if (!b || b.length === 0) return { text: "(no value available)", vm: 0 };
  let raw = b.toString("latin1", 0, b.length);
  if (!padding && b.length % 2 === 0 && (raw.endsWith(" ") || raw.endsWith("\0")))
    raw = raw.slice(0, -1);
  let vm = 1;
  if (el.vr !== "LT" && el.vr !== "ST" && el.vr !== "UT" && el.vr !== "UR") {
    for (let i = raw.indexOf("\\"); i >= 0; i = raw.indexOf("\\", i + 1)) vm++;
  }
  if (el.vr === "UI" && vm === 1 && WELL_KNOWN.test(raw)) {
    const name = dcmtkUidName(trimValue("UI", raw));
    if (name) return { text: `=${name}`, vm };
  }
  return { text: `[${raw}]`, vm };
}

export interface DumpOptions {
  /** Show string values with their padding (as received); false shows them as DCMTK shows a request. */
  showPadding?: boolean;
}

/** Dump lines (without any `I: ` prefix) for a dataset. */
export function dumpLines(
  ds: Dataset,
  little = true,
  depth = 0,
  out: string[] = [],
  o: DumpOptions = {},
): string[] {
  // Indexed: a per-response loop, run mostly before V8 optimises it, where for-of allocates.
  const els = ds.elements;
  for (let i = 0; i < els.length; i++) dumpElement(els[i]!, little, depth, out, o);
  return out;
}

function dumpElement(
  el: Element,
  little: boolean,
  depth: number,
  out: string[],
  o: DumpOptions,
): void {
  const tag = tagDcmtk(el.tag);
  const name = dcmtkDumpName(el.tag);
  if (el.items) {
    const kind = el.undefinedLength ? "undefined" : "explicit";
    const length = el.undefinedLength ? undefined : (el.length ?? sequenceLength(el, little));
    out.push(
      line(
        depth,
        `${tag} SQ (Sequence with ${kind} length #=${el.items.length})`,
        lenField(length),
        1,
        name,
      ),
    );
    for (const item of el.items) {
      const ikind = item.undefinedLength ? "undefined" : "explicit";
      const ilen = item.undefinedLength ? undefined : (item.length ?? itemLength(item, little));
      out.push(
        line(
          depth + 1,
          `(fffe,e000) na (Item with ${ikind} length #=${item.elements.length})`,
          lenField(ilen),
          1,
          "Item",
        ),
      );
      dumpLines(item, little, depth + 2, out, o);
      out.push(
        line(
          depth + 1,
          `(fffe,e00d) na (ItemDelimitationItem${item.undefinedLength ? "" : " for re-encoding"})`,
          lenField(0),
          0,
          "ItemDelimitationItem",
        ),
      );
    }
    out.push(
      line(
        depth,
        `(fffe,e0dd) na (SequenceDelimitationItem${el.undefinedLength ? "" : " for re-encod."})`,
        lenField(0),
        0,
        "SequenceDelimitationItem",
      ),
    );
    return;
  }
  if (el.fragments) {
    out.push(
      line(
        depth,
        `${tag} ${el.vr} (PixelSequence #=${el.fragments.length})`,
        lenField(undefined),
        1,
        name,
      ),
    );
    for (const f of el.fragments) {
      // Printed in full, like every other value (findscu prints without shortening; dcmdump +L).
      const hex = [...f].map((b) => b.toString(16).padStart(2, "0")).join("\\");
      out.push(
        line(
          depth + 1,
          `(fffe,e000) pi ${f.length ? hex : "(no value available)"}`,
          lenField(f.length),
          1,
          "Item",
        ),
      );
    }
    out.push(
      line(
        depth,
        "(fffe,e0dd) na (SequenceDelimitationItem)",
        lenField(0),
        0,
        "SequenceDelimitationItem",
      ),
    );
    return;
  }
  const field = STRING_VRS.has(el.vr)
    ? stringField(el, o.showPadding !== false)
    : binaryField(el, little);
  out.push(
    line(depth, `${tag} ${el.vr} ${field.text}`, lenField(el.value?.length ?? 0), field.vm, name),
  );
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
      n += (LONG_VRS.has(el.vr) ? 12 : 8) + len;
    }
  }
  return n;
}

/** The block findscu prints for one response (each line to be prefixed by `I: `). */
export function responseBlock(
  counter: number,
  statusText: string,
  ds: Dataset,
  transferSyntax: string,
  little = true,
): string[] {
  const out = [
    "---------------------------",
    `Find Response: ${counter} (${statusText})`,
    "",
    "# Dicom-Data-Set",
    `# Used TransferSyntax: ${syntaxName(transferSyntax)}`,
  ];
  dumpLines(ds, little, 0, out);
  out.push("");
  return out;
}
