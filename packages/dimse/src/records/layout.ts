/**
 * Path templates for received files, e.g.
 * `{PatientID}/{StudyInstanceUID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm`.
 * Values are sanitised so nothing escapes the output directory.
 *
 * Placeholders: `{Keyword}` (any DICOM keyword), `{prefix}` (DCMTK's
 * modality prefix, e.g. `CT`), `{Keyword:05}` (zero-padded to 5 digits),
 * `{Keyword|alnum}` (ASCII letters and digits, other runs → `_`, as
 * PACSIFIER names folders), `{Keyword=default}` (value when empty or
 * missing). A component that would be empty becomes `UNKNOWN`, except that
 * a component whose placeholders are all empty and all allow it (`{X=}`)
 * is left out: `ses-{StudyDate=}{StudyTime=}` disappears without dates.
 * Modifiers combine: `{SeriesDescription|alnum=No_series_description}`.
 */
import { isAbsolute, join, normalize, resolve, sep } from "node:path";
import type { Dataset } from "../dicom/dataset.js";
import { lookupKeyword } from "../dicom/dict.js";

export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LayoutError";
  }
}

const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/** Make one path component safe: no separators, NUL or control characters, no `.`/`..`, no reserved device names. */
export function sanitizeComponent(value: string, fallback = "UNKNOWN"): string {
  // eslint-disable-next-line no-control-regex
  let s = value
    .replace(/[\x00-\x1f\x7f/\\]/g, "_")
    .replace(/[<>:"|?*]/g, "_")
    .trim();
  s = s.replace(/[. ]+$/, "");
  if (s === "" || /^\.+$/.test(s)) s = fallback;
  if (s.startsWith(".")) s = `_${s.slice(1)}`;
  if (RESERVED.test(s)) s = `_${s}`;
  // At most 255 bytes (UTF-8) per component.
  while (Buffer.byteLength(s) > 255) s = s.slice(0, -1);
  return s;
}

/** A whole path component: never empty, never `.`/`..`, no reserved device name, at most 255 bytes. */
function finishComponent(c: string): string {
  return sanitizeComponent(c);
}

/** PACSIFIER's folder-name cleaning: NFD, non-ASCII dropped, runs of non-alphanumerics → `_`. */
export function alnum(value: string): string {
  return value
    .normalize("NFD")
    .replace(/[^\x00-\x7f]/g, "")
    .replace(/[^A-Za-z0-9]+/g, "_");
}

export interface LayoutValues {
  dataset: Dataset;
  /** Extra named values (`prefix`, …). */
  extra?: Record<string, string>;
}

interface Part {
  literal?: string;
  key?: string;
  pad?: number;
  filter?: "alnum";
  fallback?: string;
}

export class Layout {
  private readonly parts: Part[];

  constructor(readonly template: string) {
    if (template.trim() === "") throw new LayoutError("empty layout template");
    if (isAbsolute(template))
      throw new LayoutError(`layout must be relative to the output directory: ${template}`);
    this.parts = [];
    const re = /\{([^}]*)\}/g;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(template))) {
      if (m.index > last) this.parts.push({ literal: template.slice(last, m.index) });
      const spec = /^([A-Za-z][A-Za-z0-9]*)(?::(0\d+))?(?:\|(alnum))?(?:=([^}]*))?$/.exec(m[1]!);
      if (!spec)
        throw new LayoutError(
          `bad placeholder {${m[1]}} in layout (expected {Keyword}, {Keyword:05}, {Keyword|alnum} or {Keyword=default})`,
        );
      const key = spec[1]!;
      if (key !== "prefix" && !lookupKeyword(key))
        throw new LayoutError(`unknown keyword {${key}} in layout`);
      this.parts.push({
        key,
        pad: spec[2] ? Number(spec[2]) : undefined,
        filter: spec[3] as "alnum" | undefined,
        fallback: spec[4],
      });
      last = re.lastIndex;
    }
    if (last < template.length) this.parts.push({ literal: template.slice(last) });
    // Literal text must not make `.` or `..` components (values are sanitised separately).
    const probe = this.parts.map((p) => p.literal ?? "x").join("");
    if (probe.split(/[\\/]/).some((c) => c === "." || c === ".."))
      throw new LayoutError(`layout must not contain .. or . components: ${template}`);
  }

  /** The relative path for an instance; every placeholder value is sanitised into one component. */
  render(v: LayoutValues): string {
    const comps: string[] = [];
    let cur = "";
    let placeholders = 0;
    let empties = 0;
    let optional = false;
    const end = () => {
      // A component whose placeholders are all empty and may be empty (`{X=}`) is left out.
      if (!(placeholders > 0 && empties === placeholders && optional))
        comps.push(finishComponent(cur));
      cur = "";
      placeholders = empties = 0;
      optional = false;
    };
    for (const p of this.parts) {
      if (p.literal !== undefined) {
        const pieces = p.literal.split("/");
        pieces.forEach((piece, i) => {
          if (i > 0) end();
          cur += piece;
        });
        continue;
      }
      let value =
        p.key === "prefix"
          ? (v.extra?.prefix ?? "")
          : (v.dataset.string(lookupKeyword(p.key!)!.tag) ?? v.extra?.[p.key!] ?? "");
      if (p.pad !== undefined && /^\s*-?\d+\s*$/.test(value))
        value = String(Math.abs(parseInt(value, 10))).padStart(p.pad, "0");
      else if (p.pad !== undefined && value.trim() === "") value = "0".repeat(p.pad);
      if (p.filter === "alnum") value = alnum(value);
      if (value.replace(/_/g, "").trim() === "" && p.fallback !== undefined) value = p.fallback;
      value = sanitizeComponent(value, "");
      placeholders++;
      if (value === "") empties++;
      if (p.fallback === "") optional = true;
      cur += value;
    }
    end();
    return normalize(comps.join("/"));
  }

  /** The absolute path under `root`; throws if it would escape `root`. */
  resolveUnder(root: string, v: LayoutValues): string {
    return insideOrThrow(root, this.render(v));
  }
}

/** Join `rel` under `root`, refusing anything that would land outside it. */
export function insideOrThrow(root: string, rel: string): string {
  const base = resolve(root);
  const full = resolve(join(base, rel));
  if (full !== base && !full.startsWith(base + sep))
    throw new LayoutError(`path escapes the output directory: ${rel}`);
  if (full === base) throw new LayoutError("empty path");
  return full;
}

/** Presets shared by the tools that store files. */
export const LAYOUT_PRESETS: Record<string, string> = {
  dcmtk: "{prefix}.{SOPInstanceUID}",
  hierarchy: "{PatientID}/{StudyInstanceUID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm",
  pacsifier:
    "sub-{PatientID|alnum}/ses-{StudyDate=}{StudyTime=}/{SeriesNumber:05}-{SeriesDescription|alnum=No_series_description}/{prefix}.{SOPInstanceUID}",
};

export function layoutFor(spec: string): Layout {
  return new Layout(LAYOUT_PRESETS[spec] ?? spec);
}
