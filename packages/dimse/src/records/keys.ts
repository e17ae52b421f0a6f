/**
 * DCMTK-style attribute keys (`-k/--key`): `Keyword[=value]`,
 * `gggg,eeee[=value]`, `g,e`, `(gggg,eeee)`, and dcmodify-style sequence
 * paths such as `RequestAttributesSequence[0].RequestedProcedureID=1`.
 */
import {
  Dataset,
  numberElement,
  textElement,
  BINARY_WIDTH,
  type Element,
} from "../dicom/dataset.js";
import { describeTag, isPrivate, lookupKeyword, tagDcmtk } from "../dicom/dict.js";

export interface PathStep {
  tag: number;
  /** Item index when the step addresses a sequence item. */
  item?: number;
}

export interface ParsedKey {
  path: PathStep[];
  /** Value text, verbatim; undefined when no `=` was given. */
  value?: string;
  /** The key as written. */
  text: string;
}

export class KeyError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = "KeyError";
  }
}

// An opening parenthesis needs its closing one (DCMTK rejects "(0008,0030"; it tolerates "0008,0030)").
const HEX_TAG =
  /^(?:\(([0-9A-Fa-f]{1,4}),([0-9A-Fa-f]{1,4})\)|([0-9A-Fa-f]{1,4}),([0-9A-Fa-f]{1,4})\)?)/;
const KEYWORD = /^(?:RETIRED_)?[A-Za-z][A-Za-z0-9]*/;

/** Parse one tag reference at the start of `s`; returns the tag and the rest. */
export function parseTagRef(s: string): { tag: number; rest: string } | undefined {
  const hex = HEX_TAG.exec(s);
  if (hex) {
    const g = parseInt(hex[1] ?? hex[3]!, 16);
    const e = parseInt(hex[2] ?? hex[4]!, 16);
    return { tag: ((g << 16) | e) >>> 0, rest: s.slice(hex[0].length) };
  }
  const kw = KEYWORD.exec(s);
  if (kw) {
    const entry = lookupKeyword(kw[0]);
    if (!entry) return undefined;
    return { tag: entry.tag, rest: s.slice(kw[0].length) };
  }
  return undefined;
}

/** Parse a `-k` argument. */
export function parseKey(text: string): ParsedKey {
  const eq = text.indexOf("=");
  const keyPart = eq >= 0 ? text.slice(0, eq) : text;
  const value = eq >= 0 ? text.slice(eq + 1) : undefined;
  const path: PathStep[] = [];
  let rest = keyPart;
  for (;;) {
    const stepText = rest;
    const ref = parseTagRef(rest);
    if (!ref) {
      throw new KeyError(
        text,
        `Bad override key/path: ${text}: Unable to parse tag/dictionary name at beginning of path: ${rest}`,
      );
    }
    const step: PathStep = { tag: ref.tag };
    rest = ref.rest;
    const idx = /^\[(\d+|\*)\]/.exec(rest);
    if (idx) {
      if (idx[1] === "*")
        throw new KeyError(
          text,
          `Bad override key/path: ${text}: wildcard item selection is not supported in query keys`,
        );
      step.item = parseInt(idx[1]!, 10);
      rest = rest.slice(idx[0].length);
    }
    path.push(step);
    if (rest === "") break;
    if (rest.startsWith(".") && step.item !== undefined) {
      rest = rest.slice(1);
      continue;
    }
    // Like DCMTK, name the whole component that failed ("PatientID " for "PatientID = X").
    const shown = step.item === undefined ? stepText.split("[")[0] : rest;
    throw new KeyError(
      text,
      `Bad override key/path: ${text}: Unable to parse tag/dictionary name at beginning of path: ${shown}`,
    );
  }
  // Every step followed by more path, or with an item index, must be a sequence.
  for (let i = 0; i < path.length; i++) {
    if (i === path.length - 1 && path[i]!.item === undefined) break;
    const vr = describeTag(path[i]!.tag)?.vr;
    if (vr && vr !== "SQ")
      throw new KeyError(
        text,
        `Bad override key/path: ${text}: ${tagDcmtk(path[i]!.tag)} is not a sequence`,
      );
  }
  return { path, value, text };
}

/** Build an element from text for a tag (VR from the dictionary). */
export function elementFromText(
  tag: number,
  vr: string,
  value: string | undefined,
  ds: Dataset,
): Element {
  if (vr === "SQ") {
    return { tag, vr, items: [] };
  }
  if (BINARY_WIDTH[vr] && vr !== "OW" && vr !== "OF" && vr !== "OD" && vr !== "OL" && vr !== "OV") {
    if (value === undefined || value === "") return { tag, vr, value: Buffer.alloc(0) };
    const parts = value.split("\\").map((p) => p.trim());
    if (vr === "AT")
      return numberElement(
        tag,
        vr,
        parts.map((p) => parseInt(p.replace(/[(),]/g, ""), 16)),
      );
    const nums = parts.map((p) => Number(p));
    if (nums.some((n) => Number.isNaN(n)))
      throw new KeyError(value, `value "${value}" is not numeric (VR ${vr})`);
    try {
      return numberElement(tag, vr, nums);
    } catch (e) {
      // e.g. Rows=70000: Buffer's RangeError would otherwise escape as an internal error
      if (e instanceof RangeError)
        throw new KeyError(value, `value "${value}" is out of range for VR ${vr}`);
      throw e;
    }
  }
  if (
    vr === "OB" ||
    vr === "UN" ||
    vr === "OW" ||
    vr === "OF" ||
    vr === "OD" ||
    vr === "OL" ||
    vr === "OV"
  ) {
    return { tag, vr, value: value ? Buffer.from(value, "latin1") : Buffer.alloc(0) };
  }
  return textElement(tag, vr, value ?? "", ds.charset());
}

/**
 * Apply a parsed key to a dataset: creates sequences and items along the
 * path, and inserts or replaces the final element (last key wins).
 */
export function applyKey(ds: Dataset, key: ParsedKey): void {
  let target = ds;
  for (let i = 0; i < key.path.length; i++) {
    const step = key.path[i]!;
    const last = i === key.path.length - 1;
    const vr = describeTag(step.tag)?.vr ?? privateVr(target, step.tag, key.text);
    if (!last || step.item !== undefined) {
      let seq = target.get(step.tag);
      if (!seq?.items) {
        seq = { tag: step.tag, vr: "SQ", items: [] };
        target.set(seq);
      }
      const idx = step.item ?? 0;
      while (seq.items!.length <= idx) {
        const item = new Dataset();
        item.parent = target;
        seq.items!.push(item);
      }
      target = seq.items![idx]!;
      if (last) return;
      continue;
    }
    target.set(elementFromText(step.tag, vr, key.value, target));
  }
}

function privateVr(ds: Dataset, tag: number, text: string): string {
  const elem = tag & 0xffff;
  if (isPrivate(tag) && elem >= 0x10 && elem <= 0xff) return "LO";
  if (isPrivate(tag)) {
    const creator = ((tag & 0xffff0000) | (elem >>> 8)) >>> 0;
    if (!ds.has(creator))
      throw new KeyError(
        text,
        `Bad override key/path: ${text}: private tag ${tagDcmtk(tag)} has no private creator ${tagDcmtk(creator)} in the query`,
      );
    return "UN";
  }
  throw new KeyError(text, `Bad override key/path: ${text}: unknown tag ${tagDcmtk(tag)}`);
}
