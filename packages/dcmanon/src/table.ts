/** PS3.15 Table E.1-1 as rules: lookup by tag (and the pattern rows), the E.3 options and their CID 7050 codes. */
import { E1_1_EDITION, E1_1_ROWS } from "./table-e1-1.js";
import { E3_10_1_ROWS } from "./table-e3-10-1.js";

export { E1_1_EDITION };

/** An option column of Table E.1-1 (the names pymedphys' extraction uses). */
export type OptionColumn =
  | "retain_safe_private"
  | "retain_uids"
  | "retain_device_identity"
  | "retain_institution_identity"
  | "retain_patient_characteristics"
  | "retain_longitudinal_full_dates"
  | "retain_longitudinal_modified_dates"
  | "clean_descriptors"
  | "clean_structured_content"
  | "clean_graphics";

export type TableRow = readonly [
  tag: string,
  name: string,
  basic: string,
  options: Partial<Record<OptionColumn, string>>,
  retired: boolean,
  inStandardIod: boolean,
];

/** The E.3 options: flag, table column, CID 7050 code and meaning (PS3.16 2026d). */
export const OPTIONS: ReadonlyArray<{
  flag: string;
  column: OptionColumn;
  code: string;
  meaning: string;
}> = [
  {
    flag: "retain-safe-private",
    column: "retain_safe_private",
    code: "113111",
    meaning: "Retain Safe Private Option",
  },
  { flag: "retain-uids", column: "retain_uids", code: "113110", meaning: "Retain UIDs Option" },
  {
    flag: "retain-device-identity",
    column: "retain_device_identity",
    code: "113109",
    meaning: "Retain Device Identity Option",
  },
  {
    flag: "retain-institution-identity",
    column: "retain_institution_identity",
    code: "113112",
    meaning: "Retain Institution Identity Option",
  },
  {
    flag: "retain-patient-characteristics",
    column: "retain_patient_characteristics",
    code: "113108",
    meaning: "Retain Patient Characteristics Option",
  },
  {
    flag: "retain-full-dates",
    column: "retain_longitudinal_full_dates",
    code: "113106",
    meaning: "Retain Longitudinal Temporal Information Full Dates Option",
  },
  {
    flag: "retain-modified-dates",
    column: "retain_longitudinal_modified_dates",
    code: "113107",
    meaning: "Retain Longitudinal Temporal Information Modified Dates Option",
  },
  {
    flag: "clean-descriptors",
    column: "clean_descriptors",
    code: "113105",
    meaning: "Clean Descriptors Option",
  },
  {
    flag: "clean-structured-content",
    column: "clean_structured_content",
    code: "113104",
    meaning: "Clean Structured Content Option",
  },
  {
    flag: "clean-graphics",
    column: "clean_graphics",
    code: "113103",
    meaning: "Clean Graphics Option",
  },
];
export const BASIC_PROFILE = {
  code: "113100",
  meaning: "Basic Application Confidentiality Profile",
};

/** CID 7050 (PS3.16 2026d): pixels cleaned of burned-in identification (PS3.15 E.3.1). */
export const CLEAN_PIXEL_DATA = { code: "113101", meaning: "Clean Pixel Data Option" };

export interface Rule {
  name: string;
  basic: string;
  options: Partial<Record<OptionColumn, string>>;
}

const TAG = /^\(([0-9A-F]{4}),([0-9A-F]{4})\)$/;
let exact: Map<number, Rule> | undefined;
let patterns:
  | { curve: Rule; overlayData: Rule; overlayComments: Rule; privateAttrs: Rule }
  | undefined;

function load(): void {
  if (exact) return;
  exact = new Map();
  const p: Partial<NonNullable<typeof patterns>> = {};
  for (const [tag, name, basic, options] of E1_1_ROWS) {
    const rule: Rule = { name, basic, options };
    const m = TAG.exec(tag);
    if (m) exact.set(((parseInt(m[1]!, 16) << 16) | parseInt(m[2]!, 16)) >>> 0, rule);
    else if (tag === "(50xx,xxxx)") p.curve = rule;
    else if (tag === "(60xx,3000)") p.overlayData = rule;
    else if (tag === "(60xx,4000)") p.overlayComments = rule;
    else if (tag.startsWith("(gggg,eeee)")) p.privateAttrs = rule;
    else throw new Error(`unknown pattern row ${tag}`);
  }
  if (!p.curve || !p.overlayData || !p.overlayComments || !p.privateAttrs)
    throw new Error("Table E.1-1 lacks a pattern row");
  patterns = p as NonNullable<typeof patterns>;
}

/** The Table E.1-1 rule for a tag: exact rows first, then the curve, overlay and private pattern rows. */
export function ruleFor(tag: number): Rule | undefined {
  load();
  const hit = exact!.get(tag);
  if (hit) return hit;
  const group = tag >>> 16;
  if ((group & 0xff00) === 0x5000) return patterns!.curve;
  if ((group & 0xff01) === 0x6000) {
    const el = tag & 0xffff;
    if (el === 0x3000) return patterns!.overlayData;
    if (el === 0x4000) return patterns!.overlayComments;
  }
  if (group % 2 === 1) return patterns!.privateAttrs;
  return undefined;
}

/** Every row, as generated (for `dcmanon table`). */
export function tableRows(): readonly TableRow[] {
  return E1_1_ROWS;
}

/**
 * The action for a rule under the enabled options: an option column's K
 * (keep) or C (clean) replaces the Basic Profile action; K wins over C.
 */
export function effectiveAction(
  rule: Rule,
  enabled: ReadonlySet<OptionColumn>,
): { action: string; by?: OptionColumn } {
  let clean: OptionColumn | undefined;
  for (const col of enabled) {
    const a = rule.options[col];
    if (a === "K") return { action: "K", by: col };
    if (a === "C") clean ??= col;
  }
  return clean ? { action: "C", by: clean } : { action: rule.basic };
}

/** A row of Table E.3.10-1: the VR the standard gives ("" for none, "OW/OB" for either) and the meaning. */
export interface SafePrivate {
  vr: string;
  meaning: string;
}
let safe: Map<string, SafePrivate> | undefined;

/**
 * Table E.3.10-1 (Safe Private Attributes): the row for a private element known by its group,
 * its block's private creator and its offset in the block (`xx` of `(gggg,xxee)`), wherever the
 * block was reserved. Creators match exactly (after trimming the value's padding).
 */
export function safePrivate(
  group: number,
  creator: string,
  offset: number,
): SafePrivate | undefined {
  if (!safe) {
    safe = new Map();
    for (const [g, c, e, vr, meaning] of E3_10_1_ROWS) safe.set(`${g}|${e}|${c}`, { vr, meaning });
  }
  return safe.get(`${group}|${offset}|${creator}`);
}

/** Every Table E.3.10-1 row, as generated (for `dcmanon table --safe-private`). */
export function safePrivateRows(): typeof E3_10_1_ROWS {
  return E3_10_1_ROWS;
}
