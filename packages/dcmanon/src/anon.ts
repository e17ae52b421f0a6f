/**
 * De-identification of one Part 10 file: PS3.15 Table E.1-1 at every
 * sequence depth, keyed UIDs, pseudonym and day shift, markers, a rebuilt
 * file meta, and the residual-identifier scan of the result. Values stay
 * raw bytes; pixel data is copied, never decoded; the output keeps the
 * input's transfer syntax.
 */
import {
  BINARY_WIDTH,
  buildPart10Prefix,
  fillRects,
  frameInfo,
  PixelDataError,
  syntaxName,
  Dataset,
  DEFAULT_CHARSET,
  elementStrings,
  encodeDatasetParts,
  lookupTag,
  padValue,
  parsePart10,
  STRING_VRS,
  syntaxInfo,
  tagDcmtk,
  uidKeyword,
  type Element,
} from "@dicom-pipes/dimse/dicom";
import {
  ctpHashDateIncrement,
  ctpHashUid,
  ctpMd5Decimal,
  elementRef,
  type CtpCompat,
  type CtpPart,
  type CtpRule,
  type CtpScript,
} from "./ctp.js";
import {
  matchSignature,
  regionRect,
  regionText,
  type RedactScript,
  type Signature,
} from "./redact.js";
import { formatPseudonym, normaliseId, SEQ_FORMAT, type Keys } from "./keys.js";
import {
  BASIC_PROFILE,
  CLEAN_PIXEL_DATA,
  E1_1_EDITION,
  effectiveAction,
  OPTIONS,
  ruleFor,
  safePrivate,
  type OptionColumn,
} from "./table.js";

export type ResidualPolicy = "quarantine" | "scrub" | "warn";
export type BurnedInPolicy = "quarantine" | "skip" | "warn" | "fail" | "redact";

export interface AnonConfig {
  keys: Keys;
  enabled: ReadonlySet<OptionColumn>;
  /** Day-shift range for --retain-modified-dates. */
  shift: [number, number];
  pseudonymFormat: string;
  patientName: string;
  uidRoot: string;
  residual: ResidualPolicy;
  residualScan: boolean;
  burnedIn: BurnedInPolicy;
  /** `--redact FILE`: the regions to blank, by signature (with `--on-burned-in redact` or `--clean-pixel-data`). */
  redact?: RedactScript;
  /** `--clean-pixel-data`: every image a signature matches is redacted; markers for the cleaned ones. */
  cleanPixelData?: boolean;
  /** `--decompress`: compressed pixel data to redact is redacted once decoded (see `AnonOk.redact`). */
  decompress?: boolean;
  dropIdentifiable: boolean;
  /** Pseudonyms by key (PatientID or folder key); a patient missing from a given map is quarantined. */
  idMap?: ReadonlyMap<string, string>;
  idMapKey: "patient-id" | "dirname";
  dayShiftMap?: ReadonlyMap<string, number>;
  /** Text of (0012,0063): tool and version. */
  tool: string;
  /** PatientBirthDate under --retain-modified-dates: shifted with the patient's dates, or emptied (the table's Z). */
  birthdate?: "shift" | "remove";
  /** Ages above this many years are written as cap + 1 (`090Y` for 89). */
  ageCap?: number;
  /** MID anon_imgs.json: skip a file whose top-level value of an attribute contains a string (case-insensitive). */
  dropRules?: ReadonlyArray<{ tag: number; keyword: string; needles: readonly string[] }>;
  /** MID anon_tags.json / anon_vrs.json: attributes (by tag or VR) emptied on top of the profile; UIDs remapped instead. */
  blankTags?: ReadonlySet<number>;
  blankVrs?: ReadonlySet<string>;
  /** Karnak-style private tags holding the pseudonym / the day shift, read from the input. */
  readPseudonymFrom?: PrivateRef;
  readShiftFrom?: PrivateRef;
  /** A CTP DicomAnonymizer script applied before Table E.1-1 (see README "CTP scripts"). */
  ctp?: CtpRun;
  /** `{seq:N}` pseudonyms: the patients' numbers, by patient key (numbered before the run). */
  seqNumbers?: ReadonlyMap<string, number>;
}

/** A private element by creator (`(000B,"CHUV_DEV_TML",01)`), or a standard tag (creator undefined). */
export interface PrivateRef {
  text: string;
  group: number;
  creator?: string;
  element: number;
}

/** The value of a private element found through its creator's block (or of a standard tag). */
export function readPrivate(ds: Dataset, ref: PrivateRef): string | undefined {
  if (ref.creator === undefined) return ds.string(((ref.group << 16) | ref.element) >>> 0);
  for (let block = 0x10; block <= 0xff; block++) {
    const creator = ds.string(((ref.group << 16) | block) >>> 0);
    if (creator !== undefined && creator.trim() === ref.creator)
      return ds.string(((ref.group << 16) | (block << 8) | ref.element) >>> 0);
  }
  return undefined;
}

export interface CtpRun {
  script: CtpScript;
  compat: CtpCompat;
  /** `@date()`/`@time()`: the start of the run. */
  started: Date;
  /** `@integer`: numbers given in order of first appearance in this run, by key type. */
  integers: Map<string, number>;
}

export interface FileContext {
  /** The `sub-XXXX` folder key of the input path, if any. */
  folderKey?: string;
}

export interface PatientIdentity {
  origPid: string;
  issuer: string;
  pseudonym: string;
  dayShift?: number;
  key: string;
}

export interface AnonOk {
  status: "ok";
  /** The de-identified dataset (for `--layout template`). */
  dataset: Dataset;
  sopClass: string;
  /** The output file in parts: preamble and meta, then the dataset (large values are views of the input). */
  data: Buffer[];
  sop: string;
  study: string;
  series: string;
  patient: PatientIdentity;
  studyDate?: string;
  seriesNumber?: string;
  modality?: string;
  actions: Record<string, number>;
  options: string[];
  warnings: string[];
  /** Original → new UIDs of this file. */
  uids: Map<string, string>;
  /** Compressed pixel data still to redact, once decoded (`--decompress`): the signature matched. */
  redact?: Signature;
}
export interface AnonRefused {
  status: "skipped" | "quarantined" | "error";
  reason: string;
  patient?: PatientIdentity;
}
export type AnonOutcome = AnonOk | AnonRefused;

export type Trace = (path: string, tag: number, vr: string, action: string) => void;

const T = {
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  IssuerOfPatientID: 0x00100021,
  PatientBirthDate: 0x00100030,
  SOPClassUID: 0x00080016,
  SOPInstanceUID: 0x00080018,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  StudyDate: 0x00080020,
  Modality: 0x00080060,
  SeriesNumber: 0x00200011,
  ImageType: 0x00080008,
  SeriesDescription: 0x0008103e,
  BurnedInAnnotation: 0x00280301,
  PixelData: 0x7fe00010,
  PatientIdentityRemoved: 0x00120062,
  DeidentificationMethod: 0x00120063,
  DeidentificationMethodCodeSequence: 0x00120064,
  LongitudinalTemporalInformationModified: 0x00280303,
  CodeValue: 0x00080100,
  CodingSchemeDesignator: 0x00080102,
  CodeMeaning: 0x00080104,
  InstitutionName: 0x00080080,
  InstitutionAddress: 0x00080081,
  PatientAge: 0x00101010,
  IconImageSequence: 0x00880200,
};

/** UI attributes holding classes, syntaxes and other registry UIDs: never remapped. */
const CLASS_UID_TAGS = new Set([
  0x00000002, 0x00000003, 0x00020002, 0x00020010, 0x00020012, 0x00041510, 0x00041512, 0x00080016,
  0x0008001a, 0x00080062, 0x0008010c, 0x00081150, 0x04000010,
]);

/** Attributes whose values identify the patient or the encounter (for the residual scan). */
const ID_TAGS = new Set([
  0x00100020, 0x00101000, 0x00100021, 0x00080050, 0x00380010, 0x00380060, 0x00402016, 0x00402017,
  0x00401001, 0x00400009, 0x00400253, 0x00101040, 0x00102154, 0x00081040, 0x00101090,
]);
/** Not removed by CTP's `unspecifiedelements`: the character set, the SOP class and the pixels (a file needs them). */
const CTP_ALWAYS_KEPT = new Set([0x00080005, T.SOPClassUID, T.PixelData]);
const DUMMY_TEXT = "ANONYMIZED";
const OWN_WORDS = new Set(["anonymized", "removed", "yes", "no"]);

interface State {
  cfg: AnonConfig;
  patient: PatientIdentity;
  uids: Map<string, string>;
  actions: Record<string, number>;
  warnings: string[];
  trace?: Trace;
  modifiedDates: boolean;
  /** An item declares its own Specific Character Set (the residual scan then looks at every element). */
  ownCharsets?: boolean;
}

function count(st: State, a: string): void {
  st.actions[a] = (st.actions[a] ?? 0) + 1;
}

/**
 * An element's action: counted by its letter and, for `explain`, traced as `LETTER name (note)`
 * (the label is built only when traced).
 */
function done(
  st: State,
  path: string,
  el: Element,
  letter: string,
  name: string,
  note: string | undefined,
  r: Element | undefined,
): Element | undefined {
  count(st, letter);
  if (st.trace)
    st.trace(
      path,
      el.tag,
      el.vr,
      name ? (note === undefined ? `${letter} ${name}` : `${letter} ${name} (${note})`) : letter,
    );
  return r;
}

/** `done` with a whole label (`K safe private: …`, the CTP rules'). */
function doneLabel(st: State, path: string, el: Element, label: string, r: Element | undefined) {
  count(st, label[0]!);
  st.trace?.(path, el.tag, el.vr, label);
  return r;
}

// ---------------------------------------------------------------- dates

function shiftDate8(s: string, days: number): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const t = Date.UTC(y, mo - 1, d);
  const check = new Date(t);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d)
    return undefined;
  const out = new Date(t + days * 86400000);
  const yy = out.getUTCFullYear();
  if (yy < 1 || yy > 9999) return undefined;
  return `${String(yy).padStart(4, "0")}${String(out.getUTCMonth() + 1).padStart(2, "0")}${String(out.getUTCDate()).padStart(2, "0")}`;
}

/** Shift one DA value (or a `A-B` range); undefined when it is not a valid date. */
export function shiftDA(v: string, days: number): string | undefined {
  if (v === "") return "";
  if (v.includes("-")) {
    const parts = v.split("-");
    if (parts.length !== 2) return undefined;
    const out = parts.map((p) => (p === "" ? "" : shiftDate8(p, days)));
    return out.some((p) => p === undefined) ? undefined : out.join("-");
  }
  return shiftDate8(v, days);
}

/** Shift the date part of one DT value, keeping time, fraction and UTC offset; partial dates are kept. */
export function shiftDT(v: string, days: number): string | undefined {
  if (v === "") return "";
  const m = /^(\d{8})(.*)$/s.exec(v);
  if (!m) return /^\d{4}(\d{2})?([+-]\d{4})?$/.test(v) ? v : undefined;
  const d = shiftDate8(m[1]!, days);
  return d === undefined ? undefined : d + m[2];
}

// ---------------------------------------------------------------- values

function texts(el: Element, ds: Dataset): string[] {
  return elementStrings(el, ds.charset());
}

function setText(el: Element, ds: Dataset, values: string[]): Element {
  const out = new Dataset();
  out.parent = ds;
  out.setString(el.tag, el.vr, values);
  return out.elements[0]!;
}

function dummy(el: Element, ds: Dataset, st: State): Element {
  switch (el.vr) {
    case "SQ":
      return { tag: el.tag, vr: "SQ", items: [new Dataset()] };
    case "UI":
      return remapUids(el, ds, st, true);
    case "DA":
      return setText(el, ds, [
        st.modifiedDates && st.patient.dayShift !== undefined
          ? shiftedOrDummy(el, ds, st, "19000101")
          : "19000101",
      ]);
    case "DT":
      return setText(el, ds, ["19000101000000"]);
    case "TM":
      return setText(el, ds, ["000000"]);
    case "AS":
      return setText(el, ds, ["000Y"]);
    case "IS":
    case "DS":
      return setText(el, ds, ["0"]);
    case "PN":
    case "LO":
    case "SH":
    case "LT":
    case "ST":
    case "UT":
    case "UC":
    case "CS":
    case "AE":
      return setText(el, ds, [DUMMY_TEXT]);
    case "UR":
      return setText(el, ds, ["urn:none"]);
    default:
      return { tag: el.tag, vr: el.vr, value: Buffer.alloc(BINARY_WIDTH[el.vr] ?? 2) };
  }
}

function shiftedOrDummy(el: Element, ds: Dataset, st: State, fallback: string): string {
  const v = texts(el, ds)[0] ?? "";
  return shiftDA(v, st.patient.dayShift!) || fallback;
}

function empty(el: Element): Element {
  return el.vr === "SQ"
    ? { tag: el.tag, vr: "SQ", items: [] }
    : { tag: el.tag, vr: el.vr, value: Buffer.alloc(0) };
}

function isRegistryUid(uid: string): boolean {
  return uidKeyword(uid) !== undefined;
}

function mapUid(st: State, orig: string): string {
  let n = st.uids.get(orig);
  if (!n) {
    n =
      st.cfg.ctp?.compat === "exact"
        ? ctpHashUid(st.cfg.uidRoot, orig.trim())
        : st.cfg.keys.uid(orig, st.cfg.uidRoot);
    st.uids.set(orig, n);
  }
  return n;
}

function remapUids(el: Element, _ds: Dataset, st: State, always = false): Element {
  if (!el.value || el.value.length === 0)
    return always
      ? { tag: el.tag, vr: "UI", value: padValue("UI", Buffer.from(mapUid(st, ""), "latin1")) }
      : el;
  const vals = el.value
    .toString("latin1")
    .split("\\")
    .map((v) => v.replace(/[\0 ]+$/g, "").trim());
  const out = vals.map((v) => (v === "" || isRegistryUid(v) ? v : mapUid(st, v)));
  return { tag: el.tag, vr: el.vr, value: padValue("UI", Buffer.from(out.join("\\"), "latin1")) };
}

function shiftDates(
  el: Element,
  ds: Dataset,
  st: State,
  days = st.patient.dayShift,
): Element | undefined {
  if (days === undefined || (el.vr !== "DA" && el.vr !== "DT")) return el;
  const vals = texts(el, ds);
  const out: string[] = [];
  for (const v of vals) {
    const s = el.vr === "DA" ? shiftDA(v, days) : shiftDT(v, days);
    if (s === undefined) {
      st.warnings.push(`invalid ${el.vr} value in ${tagDcmtk(el.tag)} removed`);
      return undefined;
    }
    out.push(s);
  }
  return setText(el, ds, out);
}

/** `095Y` with a cap of 89 → `090Y`; other units and younger ages unchanged. */
function capAge(el: Element, ds: Dataset, cap: number): Element {
  const v = texts(el, ds)[0] ?? "";
  const m = /^(\d{3})Y$/.exec(v);
  if (!m || Number(m[1]) <= cap) return el;
  return setText(el, ds, [`${String(Math.min(999, cap + 1)).padStart(3, "0")}Y`]);
}

// ---------------------------------------------------------------- traversal

function resolveCombined(a: string): string {
  switch (a) {
    case "X/Z":
      return "Z";
    case "X/D":
    case "Z/D":
    case "X/Z/D":
      return "D";
    case "X/Z/U*":
      return "U*";
    default:
      return a;
  }
}

/** Apply the profile to every element of `ds` (and of its items), in place. */
function apply(ds: Dataset, st: State, path: string): void {
  if (path && ds.has(0x00080005)) st.ownCharsets = true;
  const safe = st.cfg.enabled.has("retain_safe_private") ? safePrivateTags(ds) : undefined;
  const out: Element[] = [];
  for (const el of ds.elements) {
    const r = applyElement(el, ds, st, path, safe);
    if (r) out.push(r);
  }
  ds.elements = out;
}

/** Whether an element's VR fits the VR Table E.3.10-1 gives (none, either of `OW/OB`, or UN: not known to the sender). */
function safeVr(listed: string, vr: string): boolean {
  return listed === "" || vr === "UN" || listed.split("/").includes(vr);
}

/**
 * --retain-safe-private: the private elements of one dataset (not of its items) that Table
 * E.3.10-1 lists, found through their block's private creator (`(gggg,00xx)`) wherever the block
 * was reserved, each with its action label; and the creators of those blocks. Every other private
 * element is removed.
 */
function safePrivateTags(ds: Dataset): Map<number, string> | undefined {
  let creators: Map<number, string> | undefined;
  let kept: Map<number, string> | undefined;
  for (const el of ds.elements) {
    const group = el.tag >>> 16;
    if (group % 2 === 0) continue;
    const elem = el.tag & 0xffff;
    if (elem >= 0x10 && elem <= 0xff) {
      const creator = el.value?.length ? texts(el, ds)[0]?.trim() : undefined;
      if (creator) (creators ??= new Map()).set(group * 0x100 + elem, creator);
      continue;
    }
    const creator = elem >= 0x1000 ? creators?.get(group * 0x100 + (elem >>> 8)) : undefined;
    if (creator === undefined) continue;
    const row = safePrivate(group, creator, elem & 0xff);
    if (!row || !safeVr(row.vr, el.vr)) continue;
    kept ??= new Map();
    kept.set(el.tag, `K safe private: ${creator} ${row.meaning || "(no name)"}`);
    kept.set(((group << 16) | (elem >>> 8)) >>> 0, `K private creator of a safe private element`);
  }
  return kept;
}

function recurse(el: Element, st: State, path: string): Element {
  el.items?.forEach((item, i) => apply(item, st, `${path}${tagDcmtk(el.tag)}[${i}].`));
  return el;
}

function applyElement(
  el: Element,
  ds: Dataset,
  st: State,
  path: string,
  safe?: ReadonlyMap<number, string>,
): Element | undefined {
  const tag = el.tag;
  if ((tag & 0xffff) === 0 || tag >>> 16 === 0x0002)
    return done(st, path, el, "X", "group length / meta", undefined, undefined);
  if (
    (st.cfg.blankTags?.has(tag) || st.cfg.blankVrs?.has(el.vr)) &&
    tag !== T.PatientID &&
    tag !== T.PatientName
  ) {
    if (el.vr === "UI")
      return CLASS_UID_TAGS.has(tag)
        ? done(st, path, el, "K", "class UID", undefined, el)
        : done(st, path, el, "U", "blanked (UIDs remapped)", undefined, remapUids(el, ds, st));
    return done(st, path, el, "Z", "blanked", undefined, empty(el));
  }
  const ctp = st.cfg.ctp?.script;
  if (ctp && (tag >>> 16) % 2 === 0) {
    const r = ctp.rules.get(tag);
    if (r) return applyCtp(r, el, ds, st, path, (a, e) => doneLabel(st, path, el, a, e));
    const group = tag >>> 16;
    if (ctp.removeCurves && (group & 0xff00) === 0x5000)
      return done(st, path, el, "X", "CTP curves", undefined, undefined);
    if (ctp.removeOverlays && (group & 0xff00) === 0x6000)
      return done(st, path, el, "X", "CTP overlays", undefined, undefined);
    if (ctp.removeUnspecified && !ctp.keepGroups.has(group) && !CTP_ALWAYS_KEPT.has(tag))
      return done(st, path, el, "X", "CTP unspecifiedelements", undefined, undefined);
  }
  if ((tag >>> 16) % 2 === 1 && st.cfg.enabled.has("retain_safe_private")) {
    const kept = safe?.get(tag);
    if (kept === undefined)
      return done(st, path, el, "X", "private, not in Table E.3.10-1", undefined, undefined);
    return doneLabel(st, path, el, kept, el.items ? recurse(el, st, path) : el);
  }
  const rule = ruleFor(tag);
  if (rule) {
    const { action: raw, by } = effectiveAction(rule, st.cfg.enabled);
    const action = resolveCombined(raw);
    if (tag === T.PatientID)
      return done(
        st,
        path,
        el,
        "D",
        "pseudonym",
        undefined,
        setText(el, ds, [st.patient.pseudonym]),
      );
    if (tag === T.PatientName)
      return done(
        st,
        path,
        el,
        "Z",
        "pseudonym name",
        undefined,
        setText(el, ds, [st.cfg.patientName.replaceAll("{pid}", st.patient.pseudonym)]),
      );
    if (tag === T.PatientBirthDate && st.cfg.birthdate === "shift" && st.modifiedDates)
      return done(
        st,
        path,
        el,
        "C",
        "birth date shifted",
        "--birthdate shift",
        shiftDates(el, ds, st),
      );
    if (tag === T.PatientAge && action === "K" && st.cfg.ageCap !== undefined)
      return done(st, path, el, "K", rule.name, "capped", capAge(el, ds, st.cfg.ageCap));
    switch (action) {
      case "X":
        return done(st, path, el, "X", rule.name, undefined, undefined);
      case "Z":
        return done(st, path, el, "Z", rule.name, undefined, empty(el));
      case "D":
        return done(st, path, el, "D", rule.name, undefined, dummy(el, ds, st));
      case "U":
        return done(st, path, el, "U", rule.name, undefined, remapUids(el, ds, st));
      case "U*":
        return done(st, path, el, "K", rule.name, "references remapped", recurse(el, st, path));
      case "K":
        return done(st, path, el, "K", rule.name, by, el.items ? recurse(el, st, path) : el);
      case "C":
        if (by === "retain_longitudinal_modified_dates")
          return done(st, path, el, "C", rule.name, "shifted", shiftDates(el, ds, st));
        if (by === "retain_device_identity" || by === "retain_safe_private")
          return done(st, path, el, "D", rule.name, "cleaned", dummy(el, ds, st));
        return done(
          st,
          path,
          el,
          "C",
          rule.name,
          "kept, residual-scanned",
          el.items ? recurse(el, st, path) : el,
        );
      default:
        return done(st, path, el, "X", rule.name, `unknown action ${action}`, undefined);
    }
  }
  const entry = lookupTag(tag);
  if (!entry) return done(st, path, el, "X", "not in PS3.6", undefined, undefined);
  switch (el.vr) {
    case "SQ":
      return done(st, path, el, "K", "sequence", undefined, recurse(el, st, path));
    case "UI":
      if (CLASS_UID_TAGS.has(tag) || st.cfg.enabled.has("retain_uids"))
        return done(st, path, el, "K", "", undefined, el);
      return done(st, path, el, "U", "by VR", undefined, remapUids(el, ds, st));
    case "DA":
    case "DT":
      return st.modifiedDates
        ? done(st, path, el, "C", "shifted by VR", undefined, shiftDates(el, ds, st))
        : done(st, path, el, "K", "", undefined, el);
    case "PN":
      return done(st, path, el, "D", "by VR", undefined, dummy(el, ds, st));
    default:
      return done(st, path, el, "K", "", undefined, el);
  }
}

// ---------------------------------------------------------------- CTP scripts

/** A CTP `@lookup` miss: the file is quarantined, as CTP does. */
class CtpQuarantine extends Error {}

function refValue(ref: number | "this", el: Element, ds: Dataset): string {
  if (ref === "this") return el.value ? texts(el, ds).join("\\") : "";
  return ds.string(ref) ?? "";
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** The value of an element script (literal text and value functions). */
function evaluate(
  parts: readonly CtpPart[],
  el: Element,
  ds: Dataset,
  st: State,
  rule: CtpRule,
): string {
  const run = st.cfg.ctp!;
  const where = `${rule.name} (line ${rule.line})`;
  const param = (a: string) => (a.startsWith("@") ? (run.script.params.get(a.slice(1)) ?? "") : a);
  let out = "";
  for (const p of parts) {
    if (!("fn" in p)) {
      out += p.text;
      continue;
    }
    const arg = (i: number) => refValue(elementRef(p.args[i]!, where), el, ds);
    switch (p.fn) {
      case "hashuid": {
        const v = arg(1).trim();
        out += v === "" ? "" : mapUid(st, v);
        break;
      }
      case "hash": {
        const v = arg(0);
        const n = p.args[1] === undefined ? Infinity : Number(param(p.args[1]));
        const h = run.compat === "exact" ? ctpMd5Decimal(v) : st.cfg.keys.hashDecimal(v);
        out += h.slice(0, n > 0 ? n : undefined);
        break;
      }
      case "lookup": {
        const v = normaliseId(arg(0));
        const hit = st.cfg.idMap?.get(v);
        if (hit === undefined)
          throw new CtpQuarantine(
            `@lookup: no ptid entry in --id-map for the value of ${p.args[0]} (${where})`,
          );
        out += hit;
        break;
      }
      case "hashdate": {
        const v = arg(0).trim();
        const days = hashDateIncrement(st, arg(1));
        out +=
          v.length < 8
            ? ""
            : v
                .split("\\")
                .map((d) => (el.vr === "DT" ? shiftDT(d, days) : shiftDA(d, days)) ?? "")
                .join("\\");
        break;
      }
      case "incrementdate": {
        const v = arg(0).trim();
        const days = Number(param(p.args[1]!));
        out += (el.vr === "DT" ? shiftDT(v, days) : shiftDA(v, days)) ?? "";
        break;
      }
      case "param":
        out += param(p.args[0]!);
        break;
      case "date": {
        const d = run.started;
        const sep = p.args[0] ?? "";
        out += `${d.getUTCFullYear()}${sep}${pad2(d.getUTCMonth() + 1)}${sep}${pad2(d.getUTCDate())}`;
        break;
      }
      case "time": {
        const d = run.started;
        const sep = p.args[0] ?? "";
        out += `${pad2(d.getUTCHours())}${sep}${pad2(d.getUTCMinutes())}${sep}${pad2(d.getUTCSeconds())}`;
        break;
      }
      case "integer": {
        const key = `${p.args[1] ?? ""}|${arg(0).trim()}`;
        let n = run.integers.get(key);
        if (n === undefined) run.integers.set(key, (n = run.integers.size + 1));
        out += String(n).padStart(Number(p.args[2] ?? 0), "0");
        break;
      }
      default:
        throw new Error(`${where}: @${p.fn} is not supported`);
    }
  }
  return out;
}

function applyCtp(
  r: CtpRule,
  el: Element,
  ds: Dataset,
  st: State,
  path: string,
  done: (a: string, e: Element | undefined) => Element | undefined,
): Element | undefined {
  const label = `CTP ${r.name} line ${r.line}`;
  if (r.cond) {
    const ref = elementRef(r.cond.ref, label);
    const holds =
      r.cond.op === "exists" ? ref === "this" || ds.has(ref) : refValue(ref, el, ds).trim() === "";
    return applyCtp(holds ? r.cond.then : r.cond.else, el, ds, st, path, done);
  }
  switch (r.action) {
    case "remove":
      return done(`X ${label}`, undefined);
    case "empty":
      return done(`Z ${label}`, empty(el));
    case "keep":
    case "require":
      return done(`K ${label}`, el.items ? recurse(el, st, path) : el);
  }
  const only = r.parts.length === 1 ? r.parts[0]! : undefined;
  if (only && "fn" in only) {
    // Whole-value functions of `this`: every value of a multi-valued element, in the element's own VR.
    if (only.fn === "hashuid" && only.args[1] === "this" && el.vr === "UI")
      return done(`U ${label}`, remapUids(el, ds, st));
    if (only.fn === "hashdate" && only.args[0] === "this" && (el.vr === "DA" || el.vr === "DT")) {
      return done(
        `C ${label} (shifted)`,
        shiftDates(
          el,
          ds,
          st,
          hashDateIncrement(st, refValue(elementRef(only.args[1]!, label), el, ds)),
        ),
      );
    }
    if (
      only.fn === "incrementdate" &&
      only.args[0] === "this" &&
      (el.vr === "DA" || el.vr === "DT")
    ) {
      return done(
        `C ${label} (shifted)`,
        shiftDates(el, ds, st, Number(evaluateParam(st, only.args[1]!))),
      );
    }
  }
  if (el.items) return done(`X ${label} (a value for a sequence)`, undefined);
  if (r.append)
    return done(
      `C ${label} (appended)`,
      setText(el, ds, [
        ...(el.value?.length ? texts(el, ds) : []),
        evaluate(r.parts, el, ds, st, r),
      ]),
    );
  return done(`C ${label}`, setText(el, ds, [evaluate(r.parts, el, ds, st, r)]));
}

/** `@hashdate`: CTP's increment from the MD5 (exact) or the keyed hash (safe) of a value. */
function hashDateIncrement(st: State, value: string): number {
  return ctpHashDateIncrement(
    st.cfg.ctp!.compat === "exact" ? ctpMd5Decimal(value) : st.cfg.keys.hashDecimal(value),
  );
}

function evaluateParam(st: State, a: string): string {
  return a.startsWith("@") ? (st.cfg.ctp!.script.params.get(a.slice(1)) ?? "") : a;
}

/** `@always()` and `@require()` elements missing at the top level are created. */
function createMissing(ds: Dataset, st: State): void {
  for (const r of st.cfg.ctp!.script.rules.values()) {
    if (ds.has(r.tag) || r.cond || !(r.always || r.action === "require")) continue;
    const vr = lookupTag(r.tag)?.vr ?? "UN";
    const el: Element = { tag: r.tag, vr, value: Buffer.alloc(0) };
    if (r.action === "require" || r.action === "empty" || r.action === "keep") ds.set(el);
    else if (r.action !== "remove") ds.set(setText(el, ds, [evaluate(r.parts, el, ds, st, r)]));
    count(st, "C");
    st.trace?.("", r.tag, vr, `C CTP ${r.name} line ${r.line} (created)`);
  }
}

// ---------------------------------------------------------------- residual scan

interface Token {
  text: string;
  kind: string;
  /** Lower-case forms to find in decoded text and in raw bytes read as Latin-1. */
  forms: string[];
  uid: boolean;
}

function addToken(tokens: Map<string, Token>, raw: string, kind: string, uid = false): void {
  const text = raw.trim();
  if (!text) return;
  if (uid ? text.length < 8 : /^\d+$/.test(text) ? text.length < 5 : text.length < 3) return;
  const lower = text.toLowerCase();
  if (OWN_WORDS.has(lower) || tokens.has(lower)) return;
  const forms = new Set([lower, Buffer.from(lower, "utf8").toString("latin1")]);
  tokens.set(lower, { text, kind, forms: [...forms], uid });
}

function collectTokens(ds: Dataset, tokens: Map<string, Token>, cfg: AnonConfig): void {
  for (const el of ds.elements) {
    if (el.items) {
      for (const it of el.items) collectTokens(it, tokens, cfg);
      continue;
    }
    if (!el.value || el.value.length === 0 || !STRING_VRS.has(el.vr)) continue;
    const kw = () => lookupTag(el.tag)?.keyword ?? tagDcmtk(el.tag);
    if (el.vr === "PN") {
      for (const v of texts(el, ds))
        for (const part of v.split(/[=^]/))
          for (const w of part.split(/\s+/))
            addToken(tokens, w.replace(/[.,]$/, ""), `${kw()} component`);
    } else if (ID_TAGS.has(el.tag)) {
      for (const v of texts(el, ds)) addToken(tokens, v, kw());
    } else if (
      (el.tag === T.InstitutionName || el.tag === T.InstitutionAddress) &&
      !cfg.enabled.has("retain_institution_identity")
    ) {
      for (const v of texts(el, ds)) addToken(tokens, v, kw());
    } else if (el.tag === T.PatientBirthDate) {
      for (const v of texts(el, ds)) {
        const m = /^(\d{4})(\d{2})(\d{2})$/.exec(v);
        if (!m) continue;
        for (const f of [
          v,
          `${m[1]}-${m[2]}-${m[3]}`,
          `${m[3]}.${m[2]}.${m[1]}`,
          `${m[3]}/${m[2]}/${m[1]}`,
        ])
          addToken(tokens, f, "PatientBirthDate");
      }
    }
  }
}

const WORD = /[\p{L}\p{N}]/u;

function findToken(hay: string, t: Token): boolean {
  for (const f of t.forms) {
    let i = hay.indexOf(f);
    while (i >= 0) {
      const before = hay[i - 1];
      const after = hay[i + f.length];
      const boundary = t.uid
        ? (c: string | undefined) => !c || !/[0-9.]/.test(c)
        : (c: string | undefined) => !c || !WORD.test(c);
      if (boundary(before) && boundary(after)) return true;
      i = hay.indexOf(f, i + 1);
    }
  }
  return false;
}

interface Hit {
  tag: number;
  kind: string;
  token: Token;
}

function scan(ds: Dataset, tokens: Token[], hits: Hit[], policy: ResidualPolicy): void {
  const keep: Element[] = [];
  for (const el of ds.elements) {
    if (el.items) {
      for (const it of el.items) scan(it, tokens, hits, policy);
      keep.push(el);
      continue;
    }
    if (!el.value || el.value.length === 0 || el.tag === T.PixelData) {
      keep.push(el);
      continue;
    }
    const raw = el.value.toString("latin1").toLowerCase();
    const decoded = STRING_VRS.has(el.vr) ? ds.charset().decode(el.value).toLowerCase() : raw;
    const found = tokens.filter(
      (t) => findToken(raw, t) || (decoded !== raw && findToken(decoded, t)),
    );
    if (!found.length) {
      keep.push(el);
      continue;
    }
    for (const t of found) hits.push({ tag: el.tag, kind: t.kind, token: t });
    if (policy !== "scrub") keep.push(el);
    else if (STRING_VRS.has(el.vr) && el.vr !== "UI") {
      let text = ds.charset().decode(el.value);
      for (const t of found)
        text = text.replace(
          new RegExp(t.text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "giu"),
          "REMOVED",
        );
      keep.push(setText(el, ds, [text]));
    }
  }
  ds.elements = keep;
}

/**
 * Whether any token may occur in the output (a superset of what `scan` finds, so a "no" is
 * final): its bytes, all but the pixel data, read as Latin-1 and lower-cased, hold one of a
 * token's forms. Only where every value decodes as Latin-1 (the default character set and
 * ISO_IR 100; `scan` also searches the decoded text) and the encoding is not deflated.
 */
function mayHold(
  data: readonly Buffer[],
  ds: Dataset,
  ts: string,
  tokens: readonly Token[],
): boolean {
  if (ds.charset().decode !== DEFAULT_CHARSET.decode || syntaxInfo(ts).deflated) return true;
  const pixels = ds.get(T.PixelData)?.value;
  let hay = "";
  for (const part of data) if (part !== pixels) hay += part.toString("latin1");
  hay = hay.toLowerCase();
  for (const t of tokens) for (const f of t.forms) if (hay.includes(f)) return true;
  return false;
}

/** The output file in parts: preamble and rebuilt meta, then the dataset (the pixel data a view of the input). */
function encodeFile(ds: Dataset, ts: string): Buffer[] {
  const prefix = buildPart10Prefix({
    sopClassUID: ds.string(T.SOPClassUID) ?? "",
    sopInstanceUID: ds.string(T.SOPInstanceUID) ?? "",
    transferSyntax: ts,
  });
  return [prefix, ...encodeDatasetParts(ds, ts, syntaxInfo(ts).little)];
}

// ---------------------------------------------------------------- the file

function codeItem(code: string, meaning: string): Dataset {
  const d = new Dataset();
  d.setString(T.CodeValue, "SH", code);
  d.setString(T.CodingSchemeDesignator, "SH", "DCM");
  d.setString(T.CodeMeaning, "LO", meaning);
  return d;
}

interface Markers {
  /** (0012,0062), (0012,0063), (0028,0303), encoded once. */
  elements: Element[];
  codes: Dataset[];
  equipment: Dataset;
  codeValues: string[];
}

/** The markers of a configuration, made once (the text does not depend on the file). */
const MARKERS = new WeakMap<AnonConfig, Markers>();

function markersOf(cfg: AnonConfig): Markers {
  let m = MARKERS.get(cfg);
  if (m) return m;
  const used = OPTIONS.filter((o) => cfg.enabled.has(o.column));
  const codes = [BASIC_PROFILE, ...used];
  const text = [
    cfg.tool,
    `PS3.15 ${E1_1_EDITION} Table E.1-1`,
    BASIC_PROFILE.meaning,
    ...used.map((o) => o.meaning),
  ].map((s) => s.slice(0, 64));
  const longitudinal = cfg.enabled.has("retain_longitudinal_full_dates")
    ? "UNMODIFIED"
    : cfg.enabled.has("retain_longitudinal_modified_dates")
      ? "MODIFIED"
      : "REMOVED";
  const made = new Dataset();
  made.setString(T.PatientIdentityRemoved, "CS", "YES");
  made.setString(T.DeidentificationMethod, "LO", text);
  made.setString(T.LongitudinalTemporalInformationModified, "CS", longitudinal);
  // Contributing Equipment Sequence: an item for this tool, purpose DCM 109104 "De-identifying Equipment" (CID 7005); no time, to stay deterministic.
  const equipment = new Dataset();
  equipment.setString(0x00080070, "LO", "dicom-pipes");
  equipment.setString(0x00181020, "LO", cfg.tool.slice(0, 64));
  const purpose = codeItem("109104", "De-identifying Equipment");
  equipment.set({ tag: 0x0040a170, vr: "SQ", items: [purpose] });
  m = {
    elements: made.elements,
    codes: codes.map((c) => codeItem(c.code, c.meaning)),
    equipment,
    codeValues: codes.map((c) => c.code),
  };
  MARKERS.set(cfg, m);
  return m;
}

function addMarkers(ds: Dataset, cfg: AnonConfig, cleanPixels: boolean): string[] {
  const m = markersOf(cfg);
  const codes = cleanPixels
    ? [...m.codes, codeItem(CLEAN_PIXEL_DATA.code, CLEAN_PIXEL_DATA.meaning)]
    : m.codes;
  // Values a CTP script wrote (`@append(){CTP: …}`) come first.
  const scripted = cfg.ctp?.script.rules.has(T.DeidentificationMethod)
    ? (ds.strings(T.DeidentificationMethod) ?? []).filter((v) => v !== "")
    : [];
  // ASCII text: the same bytes in every character set a dataset may declare.
  for (const el of m.elements) ds.set(el);
  if (scripted.length || cleanPixels) {
    const own = m.elements.find((e) => e.tag === T.DeidentificationMethod)!;
    ds.setString(T.DeidentificationMethod, "LO", [
      ...scripted,
      ...elementStrings(own, ds.charset()),
      ...(cleanPixels ? [CLEAN_PIXEL_DATA.meaning] : []),
    ]);
  }
  // Items are copied: the residual scan may scrub a dataset's elements in place.
  const prior = ds.get(T.DeidentificationMethodCodeSequence)?.items ?? [];
  ds.set({
    tag: T.DeidentificationMethodCodeSequence,
    vr: "SQ",
    items: [...prior, ...codes.map((c) => c.clone())],
  });
  const contributors = ds.get(0x0018a001)?.items ?? [];
  ds.set({ tag: 0x0018a001, vr: "SQ", items: [...contributors, m.equipment.clone()] });
  return cleanPixels ? [...m.codeValues, CLEAN_PIXEL_DATA.code] : m.codeValues;
}

function dropReason(
  ds: Dataset,
  sopClass: string,
  cfg: AnonConfig,
  redacting: boolean,
): { status: "skipped" | "quarantined" | "error"; reason: string } | { warn: string } | undefined {
  const imageType = (ds.strings(T.ImageType) ?? []).map((s) => s.toUpperCase());
  // An image a --redact signature matches is redacted instead of dropped as identifiable.
  if (cfg.dropIdentifiable && !redacting) {
    if (imageType.includes("SCREEN SAVE"))
      return { status: "skipped", reason: "drop-identifiable: ImageType contains SCREEN SAVE" };
    if (sopClass.startsWith("1.2.840.10008.5.1.4.1.1.88."))
      return { status: "skipped", reason: "drop-identifiable: structured report" };
    if (/dose\s*report/i.test(ds.string(T.SeriesDescription) ?? ""))
      return {
        status: "skipped",
        reason: "drop-identifiable: SeriesDescription names a dose report",
      };
    if (imageType.includes("SECONDARY") && ds.string(T.Modality) === "CT")
      return { status: "skipped", reason: "drop-identifiable: secondary CT image" };
    if (ds.string(T.BurnedInAnnotation)?.toUpperCase() === "YES")
      return { status: "skipped", reason: "drop-identifiable: BurnedInAnnotation YES" };
  }
  for (const r of cfg.dropRules ?? []) {
    const value = (ds.string(r.tag) ?? "").toLowerCase();
    const hit = r.needles.find((n) => value.includes(n));
    if (hit !== undefined)
      return { status: "skipped", reason: `drop-rules: ${r.keyword} contains "${hit}"` };
  }
  if (ds.string(T.BurnedInAnnotation)?.toUpperCase() === "YES" && !redacting) {
    const reason =
      "burned-in annotation: BurnedInAnnotation is YES (pixel data may show identifiers)";
    switch (cfg.burnedIn) {
      case "redact":
        return {
          status: "quarantined",
          reason: `${reason} and no --redact signature matches${ds.has(T.PixelData) ? "" : " (no Pixel Data)"}`,
        };
      case "quarantine":
        return { status: "quarantined", reason };
      case "skip":
        return { status: "skipped", reason };
      case "fail":
        return { status: "error", reason };
      case "warn":
        return { warn: reason };
    }
  }
  return undefined;
}

/** What tells patients apart: the `sub-XXXX` folder (`--id-map-key dirname`), else issuer and PatientID. */
export function patientKey(ds: Dataset, ctx: FileContext, cfg: AnonConfig): string {
  const origPid = normaliseId(ds.string(T.PatientID) ?? "");
  const issuer = normaliseId(ds.string(T.IssuerOfPatientID) ?? "");
  if (cfg.idMapKey === "dirname") return ctx.folderKey ?? "";
  return issuer ? `${issuer}|${origPid}` : origPid;
}

/**
 * Identities of the latest patients, by configuration (the keyed hashes of a patient are computed
 * once, not for every file; a bounded cache, so memory stays flat).
 */
const IDENTITIES = new WeakMap<AnonConfig, Map<string, PatientIdentity>>();
const IDENTITY_CACHE = 1024;

/** The patient's pseudonym and day shift (an id map miss is reported, never numbered). */
export function identify(ds: Dataset, ctx: FileContext, cfg: AnonConfig): PatientIdentity | string {
  const origPid = normaliseId(ds.string(T.PatientID) ?? "");
  const issuer = normaliseId(ds.string(T.IssuerOfPatientID) ?? "");
  // Values read from each file (Karnak tags) are not cached.
  if (cfg.readPseudonymFrom || cfg.readShiftFrom) return identifyNew(ds, ctx, cfg, origPid, issuer);
  let cache = IDENTITIES.get(cfg);
  if (!cache) IDENTITIES.set(cfg, (cache = new Map()));
  const id = `${issuer}\0${origPid}\0${ctx.folderKey ?? ""}`;
  const hit = cache.get(id);
  if (hit) return hit;
  const r = identifyNew(ds, ctx, cfg, origPid, issuer);
  if (typeof r === "string") return r;
  if (cache.size >= IDENTITY_CACHE) cache.delete(cache.keys().next().value!);
  cache.set(id, r);
  return r;
}

function identifyNew(
  ds: Dataset,
  ctx: FileContext,
  cfg: AnonConfig,
  origPid: string,
  issuer: string,
): PatientIdentity | string {
  const key = patientKey(ds, ctx, cfg);
  if (cfg.idMapKey === "dirname" && !ctx.folderKey)
    return "no sub-XXXX folder in the input path (--id-map-key dirname)";
  let pseudonym: string;
  if (cfg.readPseudonymFrom) {
    const v = normaliseId(readPrivate(ds, cfg.readPseudonymFrom) ?? "");
    if (!v) return `no pseudonym in ${cfg.readPseudonymFrom.text} (--read-pseudonym-from)`;
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(v))
      return `the pseudonym in ${cfg.readPseudonymFrom.text} is not 1–64 letters, digits, '.', '_' or '-' (--read-pseudonym-from)`;
    pseudonym = v;
  } else if (cfg.idMap) {
    const mapped = cfg.idMap.get(cfg.idMapKey === "dirname" ? key : origPid);
    if (mapped === undefined)
      return `unmapped patient: no entry for this ${cfg.idMapKey === "dirname" ? "folder key" : "PatientID"} in --id-map`;
    pseudonym = mapped;
  } else {
    const seq = SEQ_FORMAT.test(cfg.pseudonymFormat) ? cfg.seqNumbers?.get(key) : undefined;
    if (SEQ_FORMAT.test(cfg.pseudonymFormat) && seq === undefined)
      return "no {seq} number for this patient (not among the inputs numbered before the run)";
    pseudonym = formatPseudonym(
      cfg.pseudonymFormat,
      (n) => cfg.keys.pseudonymDigits(issuer, origPid, n),
      seq,
    );
  }
  let dayShift: number | undefined;
  if (cfg.enabled.has("retain_longitudinal_modified_dates") && cfg.readShiftFrom) {
    const v = (readPrivate(ds, cfg.readShiftFrom) ?? "").trim();
    if (!/^[+-]?\d+$/.test(v))
      return `no whole number of days in ${cfg.readShiftFrom.text} (--read-shift-from)`;
    if (Number(v) === 0)
      return `the day shift in ${cfg.readShiftFrom.text} is 0: the dates would be kept (--read-shift-from)`;
    dayShift = Number(v);
  } else if (cfg.enabled.has("retain_longitudinal_modified_dates")) {
    dayShift =
      cfg.dayShiftMap?.get(key) ??
      cfg.dayShiftMap?.get(origPid) ??
      cfg.keys.dayShift(key, cfg.shift[0], cfg.shift[1]);
  }
  return { origPid, issuer, pseudonym, dayShift, key };
}

/** De-identify one Part 10 file held in memory. */
export function anonymize(
  buf: Buffer,
  ctx: FileContext,
  cfg: AnonConfig,
  trace?: Trace,
): AnonOutcome {
  const { header, dataset: ds } = parsePart10(buf);
  const sopClass = ds.string(T.SOPClassUID) ?? header.meta.string(0x00020002) ?? "";
  if (
    header.meta.string(0x00020002) === "1.2.840.10008.1.3.10" ||
    sopClass === "1.2.840.10008.1.3.10"
  ) {
    return {
      status: "skipped",
      reason: "DICOMDIR: not de-identified (regenerate it on the output, e.g. with dcmmkdir)",
    };
  }
  const warnings: string[] = [];
  // Only with --redact: the signatures are looked at, on the input's values, for images to redact.
  const burnedIn = cfg.redact ? ds.string(T.BurnedInAnnotation)?.toUpperCase() : undefined;
  const signature =
    cfg.redact &&
    ds.has(T.PixelData) &&
    (cfg.cleanPixelData || (burnedIn === "YES" && cfg.burnedIn === "redact"))
      ? matchSignature(cfg.redact, ds, header.meta, syntaxInfo(header.transferSyntax).little)
      : undefined;
  const drop = dropReason(ds, sopClass, cfg, signature !== undefined);
  if (drop && "status" in drop) return drop;
  if (drop) warnings.push(drop.warn);
  const patient = identify(ds, ctx, cfg);
  if (typeof patient === "string") return { status: "quarantined", reason: patient };

  const tokens = new Map<string, Token>();
  if (cfg.residualScan) {
    collectTokens(header.meta, tokens, cfg);
    collectTokens(ds, tokens, cfg);
    if (ctx.folderKey) addToken(tokens, ctx.folderKey, "folder key");
    if (patient.origPid) addToken(tokens, patient.origPid, "PatientID");
  }
  const modality = ds.string(T.Modality);
  const seriesNumber = ds.string(T.SeriesNumber);
  const st: State = {
    cfg,
    patient,
    uids: new Map(),
    actions: {},
    warnings,
    trace,
    modifiedDates: cfg.enabled.has("retain_longitudinal_modified_dates"),
  };
  let pending: Signature | undefined;
  if (signature) {
    const r = redactPixels(ds, signature, header.transferSyntax, st);
    if (typeof r === "string") return { status: "quarantined", reason: r, patient };
    pending = r.pending ? signature : undefined;
  }
  if (cfg.ctp) {
    try {
      const pidRule = cfg.ctp.script.rules.get(T.PatientID);
      const pidEl = ds.get(T.PatientID);
      if (pidRule && !pidRule.action && pidEl) {
        // The script writes PatientID: that value is the pseudonym (PatientName's {pid}, the layout, the map).
        const v = normaliseId(evaluate(pidRule.parts, pidEl, ds, st, pidRule));
        if (v) st.patient = { ...patient, pseudonym: v };
      }
      apply(ds, st, "");
      createMissing(ds, st);
    } catch (e) {
      if (e instanceof CtpQuarantine) return { status: "quarantined", reason: e.message, patient };
      throw e;
    }
  } else apply(ds, st, "");
  // Clean Pixel Data (E.3.1): claimed for the pixels redacted here only.
  const cleaned = signature !== undefined;
  if (signature) st.actions.redacted = signature.regions.length;
  // An icon shows the same pixels, unredacted (the Basic Profile removes it too, a CTP script may not).
  if (cfg.cleanPixelData || signature) ds.delete(T.IconImageSequence);
  if (cleaned) ds.setString(T.BurnedInAnnotation, "CS", "NO");
  const options = addMarkers(ds, cfg, cleaned);
  const ts = header.transferSyntax;
  let data = encodeFile(ds, ts);
  if (cfg.residualScan) {
    if (!cfg.enabled.has("retain_uids"))
      for (const orig of st.uids.keys()) addToken(tokens, orig, "original UID", true);
    const list = [...tokens.values()].filter((t) => t.text !== st.patient.pseudonym);
    // The element-by-element scan only where the output's bytes may hold a token.
    if (list.length && (st.ownCharsets || mayHold(data, ds, ts, list))) {
      const hits: Hit[] = [];
      scan(ds, list, hits, cfg.residual);
      if (hits.length) {
        const where = [...new Set(hits.map((h) => `${h.kind} in ${tagDcmtk(h.tag)}`))].join("; ");
        if (cfg.residual === "quarantine")
          return { status: "quarantined", reason: `residual identifier: ${where}`, patient };
        warnings.push(
          `residual identifier ${cfg.residual === "scrub" ? "scrubbed" : "left"}: ${where}`,
        );
        if (cfg.residual === "scrub") data = encodeFile(ds, ts);
      }
    }
  }
  const sopClassUID = ds.string(T.SOPClassUID) ?? "";
  return {
    status: "ok",
    data,
    dataset: ds,
    sopClass: sopClassUID,
    sop: ds.string(T.SOPInstanceUID) ?? "",
    study: ds.string(T.StudyInstanceUID) ?? "",
    series: ds.string(T.SeriesInstanceUID) ?? "",
    patient: st.patient,
    studyDate: ds.string(T.StudyDate) || undefined,
    seriesNumber,
    modality,
    actions: st.actions,
    options,
    warnings,
    uids: st.uids,
    redact: pending,
  };
}

/**
 * A signature's regions blanked in the native pixel data of `ds` (a new buffer; the input's
 * bytes are not touched), every frame. Compressed pixel data is left for `--decompress`
 * (`pending`), or refused: the reason for quarantine.
 */
function redactPixels(
  ds: Dataset,
  sig: Signature,
  ts: string,
  st: State,
): { pending: boolean } | string {
  const little = syntaxInfo(ts).little;
  const px = ds.get(T.PixelData)!;
  try {
    const f = frameInfo(ds, little);
    if (st.trace)
      for (const r of sig.regions) {
        const x = regionRect(r, f.rows, f.columns);
        const where =
          x.left < x.right && x.top < x.bottom
            ? `columns ${x.left}-${x.right - 1}, rows ${x.top}-${x.bottom - 1}`
            : "outside the image";
        st.trace(
          "",
          px.tag,
          px.vr,
          `redacted ${regionText(r)} (line ${r.line}): ${where} of ${f.columns} × ${f.rows}, ${f.frames} frame(s); signature line ${sig.line}: ${sig.text}`,
        );
      }
    if (px.fragments && !syntaxInfo(ts).encapsulated)
      return `redaction: encapsulated Pixel Data (7FE0,0010) in a native transfer syntax (${syntaxName(ts)})`;
    if (px.fragments) {
      if (!st.cfg.decompress)
        return `redaction: the pixel data is compressed (${syntaxName(ts)}), regions are blanked in uncompressed pixels only: add --decompress to redact it decoded`;
      return { pending: true };
    }
    redactRegions(ds, sig, little, f);
    return { pending: false };
  } catch (e) {
    if (e instanceof PixelDataError) return `redaction: ${e.message}`;
    throw e;
  }
}

/** A signature's regions blanked in the native Pixel Data of `ds` (decoded by `--decompress`, or as read). Throws PixelDataError. */
export function redactRegions(
  ds: Dataset,
  sig: Signature,
  little = true,
  f = frameInfo(ds, little),
): void {
  const px = ds.get(T.PixelData);
  if (!px?.value) throw new PixelDataError("no native Pixel Data (7FE0,0010) to redact");
  // Big endian OW holds 8-bit samples swapped in pairs: a region edge would be a column off.
  if (!little && f.bitsAllocated === 8 && px.vr === "OW")
    throw new PixelDataError("8-bit samples in OW, big endian: not redacted");
  const rects = sig.regions.map((r) => regionRect(r, f.rows, f.columns));
  // A signature whose regions all fall outside the image blanks nothing: no claim of clean pixels.
  if (rects.every((r) => r.left >= r.right || r.top >= r.bottom))
    throw new PixelDataError(
      `no region of the signature on line ${sig.line} falls inside the ${f.columns} x ${f.rows} image`,
    );
  ds.set({ ...px, value: fillRects(px.value, f, rects, little) });
}
