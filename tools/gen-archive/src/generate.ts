/**
 * gen-archive: a synthetic but realistic DICOM archive, deterministic for
 * a seed, written file by file (nothing but the current instance is held
 * in memory).
 */
import { closeSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import {
  buildPart10Prefix,
  charsetFor,
  chooseCharset,
  Dataset,
  encodeDataset,
  numberElement,
  Tags,
  textElement,
  TransferSyntax,
  uidFromName,
  type Charset,
  type Element,
} from "@dicom-pipes/dimse/dicom";
import {
  DEVICE_MODELS,
  FAMILY_NAMES,
  GIVEN_NAMES,
  INSTITUTIONS,
  LATIN1_NAMES,
  MODALITIES,
  MODALITY_WEIGHTS,
  OPENING_HOURS,
  REFERRING_PHYSICIANS,
  STORAGE_SOP_CLASS,
  STUDIES,
  UTF8_NAMES,
  WEEKDAY_HOURS,
  WEEKDAY_WEIGHTS,
  WEEKEND_HOURS,
  type DeviceModel,
  type Institution,
  type ModalityCode,
  type SeriesDef,
  type Sex,
  type StudyDef,
} from "./content.js";
import { formatDicomDate } from "@dicom-pipes/dimse/records";
import { formatAge, formatTm, pad, parseDa, weekday, type TimeStyle } from "./dates.js";
import {
  hash32,
  pick,
  randInt,
  streamFor,
  weightedIndex,
  weightedPick,
  type Rng,
} from "./random.js";

/** The seeded PRNG, for tests that need reproducible random bytes. */
export { mulberry32 } from "./random.js";

export type Layout = "hierarchy" | "flat";
export type SyntaxName = "explicit" | "implicit" | "big";
/** A count: exactly `n`, or drawn from `[min, max]`. */
export type CountRange = number | readonly [number, number];

/** Transfer syntax UID for each `--transfer-syntax` name. */
export const SYNTAXES: Record<SyntaxName, string> = {
  explicit: TransferSyntax.ExplicitVRLittleEndian,
  implicit: TransferSyntax.ImplicitVRLittleEndian,
  big: TransferSyntax.ExplicitVRBigEndian,
};

/** The private block written into every instance. */
export const PRIVATE_CREATOR = "DICOMPIPES TEST";
export const PrivateTags = {
  Creator: 0x00090010,
  /** LO: `<PatientID>/<study>/<series>/<instance>` */
  Path: 0x00091001,
  /** UL: 32-bit hash of the SOP Instance UID. */
  Hash: 0x00091002,
  /** DS: a signed decimal. */
  Decimal: 0x00091003,
  /** US, 2 values: instance number and 0xBEEF. */
  Words: 0x00091004,
  /** OB, 8 bytes. */
  Bytes: 0x00091005,
  /** FD: a double (checks 8-byte swapping in big endian). */
  Double: 0x00091006,
} as const;

export const SOURCE_AET = "GEN_ARCHIVE";

export interface GenerateOptions {
  /** Output directory (created when missing). */
  out: string;
  /** Number of patients (default 12). */
  patients?: number;
  /** Any string or number; the same seed gives byte-identical files (default "1"). */
  seed?: string | number;
  studiesPerPatient?: CountRange;
  seriesPerStudy?: CountRange;
  instancesPerSeries?: CountRange;
  /** Image size (default 64 × 64). */
  rows?: number;
  cols?: number;
  /** 8 or 16 for every modality; default: 8 for US, 16 for the others. */
  bits?: 8 | 16;
  /** Study dates are drawn from [startDate, endDate] (YYYYMMDD; default 20240101–20241231). */
  startDate?: string;
  endDate?: string;
  layout?: Layout;
  transferSyntax?: SyntaxName;
  /** Stop after this many instances. */
  maxInstances?: number;
  /** Called after each file is written. */
  onInstance?: (count: number, inst: GeneratedInstance) => void;
  signal?: AbortSignal;
}

export interface ResolvedOptions {
  out: string;
  patients: number;
  seed: string;
  studiesPerPatient: [number, number];
  seriesPerStudy: [number, number];
  instancesPerSeries: [number, number];
  rows: number;
  cols: number;
  bits?: 8 | 16;
  startDate: string;
  endDate: string;
  layout: Layout;
  transferSyntax: SyntaxName;
  maxInstances?: number;
}

export interface ArchiveSummary {
  out: string;
  seed: string;
  layout: Layout;
  transferSyntax: string;
  patients: number;
  studies: number;
  series: number;
  instances: number;
  /** Total size of the files written. */
  bytes: number;
  /** Requested study date range. */
  startDate: string;
  endDate: string;
  /** Earliest and latest StudyDate actually written (null when nothing was written). */
  firstStudyDate: string | null;
  lastStudyDate: string | null;
  /** Series per Modality. */
  modalities: Record<string, number>;
  /** Series per InstitutionName exactly as written ("" = present but empty). */
  institutions: Record<string, number>;
  /** Series whose instances have no InstitutionName element. */
  seriesWithoutInstitution: number;
  /** Instances per Specific Character Set ("none" = element absent). */
  charsets: Record<string, number>;
}

export class OptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OptionError";
  }
}

/** One generated instance, before encoding. */
export interface GeneratedInstance {
  /** Path relative to the output directory, `/`-separated. */
  relPath: string;
  dataset: Dataset;
  sopClassUID: string;
  sopInstanceUID: string;
  patientID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  studyDate: string;
  modality: ModalityCode;
  /** null = element absent. */
  institutionName: string | null;
  specificCharacterSet: string | null;
}

// ------------------------------------------------------------------ options

function range(name: string, v: CountRange | undefined, dflt: [number, number]): [number, number] {
  if (v === undefined) return dflt;
  const r: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (!Number.isInteger(r[0]) || !Number.isInteger(r[1]) || r[0] < 1 || r[1] < r[0]) {
    throw new OptionError(`${name} must be a whole number >= 1 or a range A-B with 1 <= A <= B`);
  }
  return r;
}

/** Parse `A` or `A-B` as a count range. */
export function parseRange(s: string): [number, number] | undefined {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(s);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return [a, b];
}

function positiveInt(
  name: string,
  v: number | undefined,
  dflt: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1 || v > max)
    throw new OptionError(`${name} must be a whole number from 1 to ${max}`);
  return v;
}

export function resolveOptions(o: GenerateOptions): ResolvedOptions {
  if (!o.out) throw new OptionError("an output directory is required");
  const rows = positiveInt("rows", o.rows ?? o.cols, 64, 65535);
  const cols = positiveInt("cols", o.cols ?? o.rows, 64, 65535);
  if (o.bits !== undefined && o.bits !== 8 && o.bits !== 16)
    throw new OptionError("bits must be 8 or 16");
  // Neither date: 2024. One date: a year (365 days) from or up to it.
  if (o.startDate !== undefined && parseDa(o.startDate) === undefined)
    throw new OptionError(`start date ${o.startDate} is not a valid YYYYMMDD date`);
  if (o.endDate !== undefined && parseDa(o.endDate) === undefined)
    throw new OptionError(`end date ${o.endDate} is not a valid YYYYMMDD date`);
  const startDate =
    o.startDate ??
    (o.endDate !== undefined ? formatDicomDate(parseDa(o.endDate)! - 364) : "20240101");
  const endDate =
    o.endDate ??
    (o.startDate !== undefined ? formatDicomDate(parseDa(o.startDate)! + 364) : "20241231");
  if (parseDa(endDate)! < parseDa(startDate)!)
    throw new OptionError(`end date ${endDate} is before start date ${startDate}`);
  const layout = o.layout ?? "hierarchy";
  if (layout !== "hierarchy" && layout !== "flat")
    throw new OptionError(`layout must be hierarchy or flat`);
  const transferSyntax = o.transferSyntax ?? "explicit";
  if (!(transferSyntax in SYNTAXES))
    throw new OptionError(`transfer syntax must be explicit, implicit or big`);
  return {
    out: o.out,
    patients: positiveInt("patients", o.patients, 12),
    seed: String(o.seed ?? "1"),
    studiesPerPatient: range("studies per patient", o.studiesPerPatient, [1, 3]),
    seriesPerStudy: range("series per study", o.seriesPerStudy, [1, 4]),
    instancesPerSeries: range("instances per series", o.instancesPerSeries, [1, 6]),
    rows,
    cols,
    bits: o.bits,
    startDate,
    endDate,
    layout,
    transferSyntax,
    maxInstances:
      o.maxInstances === undefined ? undefined : positiveInt("max instances", o.maxInstances, 1),
  };
}

// ------------------------------------------------------------------- plans

interface PatientPlan {
  index: number;
  id: string;
  name: string;
  sex: Sex;
  birthDay: number;
  home: Institution;
  studies: StudyPlan[];
}

type InstitutionMode = "canonical" | "variant" | "absent" | "empty";

interface StudyPlan {
  def: StudyDef;
  day: number;
  secs: number;
  institution: Institution;
  mode: InstitutionMode;
  variant: string;
  physician: string;
  studyId: string;
  rng: Rng;
}

/** A count from a range; `cap` narrows a free range (never a fixed one) for modalities that rarely have many. */
function count(rng: Rng, [lo, hi]: [number, number], cap?: number, floor?: number): number {
  if (lo === hi) return lo;
  let a = lo;
  let b = hi;
  if (floor !== undefined) a = Math.max(lo, Math.min(floor, hi));
  if (cap !== undefined) b = Math.max(a, Math.min(hi, cap));
  return randInt(rng, a, b);
}

/** A study day and time following the weekday × hour pattern for a modality. */
function scheduleStudy(
  rng: Rng,
  modality: ModalityCode,
  startDay: number,
  endDay: number,
): { day: number; secs: number } {
  const hours = OPENING_HOURS[modality];
  let day = startDay;
  for (let tries = 0; tries < 1000; tries++) {
    day = randInt(rng, startDay, endDay);
    const wd = weekday(day);
    const weekend = wd === 0 || wd === 6;
    if (rng() * 1.0 < WEEKDAY_WEIGHTS[wd]! * (weekend ? hours.weekend : 1)) break;
  }
  const wd = weekday(day);
  const table = wd === 0 || wd === 6 ? WEEKEND_HOURS : WEEKDAY_HOURS;
  const weights = table.map((w, h) => (h >= hours.from && h <= hours.to ? w : 0));
  const hour = weightedIndex(rng, weights);
  return { day, secs: hour * 3600 + randInt(rng, 0, 3599) };
}

function asciiName(rng: Rng, sex: Sex): string {
  const family = pick(rng, FAMILY_NAMES);
  const given = pick(rng, GIVEN_NAMES[sex === "O" ? (rng() < 0.5 ? "M" : "F") : sex]);
  const r = rng();
  if (r < 0.2) return `${family.toUpperCase()}^${given.toUpperCase()}`;
  if (r < 0.3) return `${family}^${given}^${String.fromCharCode(65 + randInt(rng, 0, 25))}`;
  return `${family}^${given}`;
}

function planPatient(
  seed: string,
  index: number,
  o: ResolvedOptions,
  startDay: number,
  endDay: number,
): PatientPlan {
  const rng = streamFor(`gen-archive/${seed}/patient/${index}`);
  const id = `DP${pad(index + 1, 6)}`;
  // Non-ASCII names on a fixed schedule so even a small archive has them.
  let name: string;
  let sex: Sex;
  if (index % 6 === 1) {
    const n = LATIN1_NAMES[Math.floor(index / 6) % LATIN1_NAMES.length]!;
    name = n.name;
    sex = n.sex;
  } else if (index % 6 === 4) {
    const n = UTF8_NAMES[Math.floor(index / 6) % UTF8_NAMES.length]!;
    name = n.name;
    sex = n.sex;
  } else {
    const r = rng();
    sex = r < 0.49 ? "M" : r < 0.98 ? "F" : "O";
    name = asciiName(rng, sex);
  }
  let ageDays: number;
  if (rng() < 0.06) ageDays = randInt(rng, 0, 17) * 365 + randInt(rng, 30, 364);
  else ageDays = Math.floor((18 + 77 * Math.sqrt(rng())) * 365.25);
  const birthDay = startDay - ageDays;
  const home = weightedPick(rng, INSTITUTIONS);

  const n = count(rng, o.studiesPerPatient);
  const studies: StudyPlan[] = [];
  for (let s = 0; s < n; s++) {
    const modality =
      s === 0
        ? MODALITIES[index % MODALITIES.length]!
        : MODALITIES[
            weightedIndex(
              rng,
              MODALITIES.map((m) => MODALITY_WEIGHTS[m]),
            )
          ]!;
    const defs = STUDIES.filter((d) => d.modality === modality);
    const def = weightedPick(rng, defs);
    const { day, secs } = scheduleStudy(rng, modality, startDay, endDay);
    let institution = rng() < 0.75 ? home : weightedPick(rng, INSTITUTIONS);
    let mode: InstitutionMode = "canonical";
    const slot = index % 12;
    if (s === 0 && slot === 2) mode = "absent";
    else if (s === 0 && slot === 5) mode = "empty";
    else if (s === 0 && slot === 8) {
      mode = "variant";
      if (institution.variants.length === 0) institution = INSTITUTIONS[0]!;
    } else {
      const r = rng();
      if (r < 0.04) mode = "absent";
      else if (r < 0.07) mode = "empty";
      else if (r < 0.2 && institution.variants.length > 0) mode = "variant";
    }
    const variant = institution.variants.length
      ? pick(rng, institution.variants)
      : institution.name;
    studies.push({
      def,
      day,
      secs,
      institution,
      mode,
      variant,
      physician: pick(rng, REFERRING_PHYSICIANS),
      studyId: String(randInt(rng, 1, 99_999)),
      rng: streamFor(`gen-archive/${seed}/patient/${index}/study-draws/${s}`),
    });
  }
  studies.sort((a, b) => a.day - b.day || a.secs - b.secs);
  return { index, id, name, sex, birthDay, home, studies };
}

interface Device {
  model: DeviceModel;
  station: string;
  timeStyle: TimeStyle;
  /** Writes UTF-8 whenever the text is not plain ASCII. */
  prefersUtf8: boolean;
}

function deviceFor(inst: Institution, modality: ModalityCode): Device {
  const h = hash32(`${inst.code}/${modality}`);
  const models = DEVICE_MODELS[modality];
  const t = (h >>> 8) % 16;
  return {
    model: models[h % models.length]!,
    station: `${inst.code}_${modality}${1 + ((h >>> 4) % 3)}`,
    timeStyle: t < 9 ? "hhmmss" : t < 13 ? "frac6" : t < 15 ? "frac3" : "hhmm",
    prefersUtf8: modality === "US",
  };
}

// ------------------------------------------------------------------ values

/** A DS value of at most 16 characters. */
export function ds(n: number, decimals = 6): string {
  for (let d = decimals; d >= 0; d--) {
    let s = n.toFixed(d);
    if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
    if (s === "-0") s = "0";
    if (s.length <= 16) return s;
  }
  return n.toExponential(6);
}

const patterns = new Map<string, Buffer>();

/** A cheap phantom (an ellipse with texture and two "organs"), computed once per geometry. */
function basePattern(rows: number, cols: number, bytes: 1 | 2, bitsStored: number): Buffer {
  const key = `${rows}x${cols}x${bytes}x${bitsStored}`;
  const hit = patterns.get(key);
  if (hit) return hit;
  const max = 2 ** bitsStored - 1;
  const buf = Buffer.alloc(rows * cols * bytes);
  const cx = (cols - 1) / 2;
  const cy = (rows - 1) / 2;
  const rx = cols * 0.42;
  const ry = rows * 0.36;
  const tissue = max * 0.27;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      const dx = (x - cx) / rx;
      const dy = (y - cy) / ry;
      const d = dx * dx + dy * dy;
      let v = 0;
      if (d <= 1) {
        v = tissue + (((x ^ y) & 15) * max) / 640;
        if (d > 0.86) v = max * 0.55;
        const ox = (x - cx + cols * 0.16) / (cols * 0.12);
        const oy = (y - cy) / (rows * 0.15);
        if (ox * ox + oy * oy <= 1) v = max * 0.08;
        const px = (x - cx - cols * 0.17) / (cols * 0.09);
        const py = (y - cy + rows * 0.05) / (rows * 0.09);
        if (px * px + py * py <= 1) v = max * 0.4;
      }
      const iv = Math.max(0, Math.min(max, Math.round(v)));
      const o = (y * cols + x) * bytes;
      if (bytes === 2) buf.writeUInt16LE(iv, o);
      else buf[o] = iv;
    }
  }
  patterns.set(key, buf);
  return buf;
}

/** The phantom with a per-instance band, so every image differs. */
function pixelData(
  rows: number,
  cols: number,
  bytes: 1 | 2,
  bitsStored: number,
  seriesNo: number,
  instNo: number,
): Buffer {
  const base = basePattern(rows, cols, bytes, bitsStored);
  const out = Buffer.allocUnsafe(base.length);
  base.copy(out);
  const max = 2 ** bitsStored - 1;
  const band = Math.max(1, Math.floor(rows / 32));
  const y0 = (instNo * 7 + seriesNo * 3) % Math.max(1, rows - band + 1);
  const level = Math.round((((instNo * 37 + seriesNo * 11) % 100) / 100) * max);
  const start = y0 * cols * bytes;
  const end = Math.min(out.length, (y0 + band) * cols * bytes);
  if (bytes === 2) out.fill(Buffer.from([level & 0xff, level >>> 8]), start, end);
  else out.fill(level, start, end);
  return out;
}

// ------------------------------------------------------------- instances

interface TextValue {
  tag: number;
  vr: string;
  value: string | string[];
}

const TEXT_VRS_WITH_CHARSET = new Set(["SH", "LO", "ST", "LT", "UT", "UC", "PN"]);

/**
 * Generate the instances of an archive in order (patient, study, series,
 * instance), one at a time.
 */
export function generateInstances(opts: GenerateOptions): Generator<GeneratedInstance> {
  return instancesOf(resolveOptions(opts));
}

function* instancesOf(o: ResolvedOptions): Generator<GeneratedInstance> {
  const startDay = parseDa(o.startDate)!;
  const endDay = parseDa(o.endDate)!;
  const seed = o.seed;
  const uid = (path: string) => uidFromName(`gen-archive/${seed}/${path}`);
  let emitted = 0;

  for (let p = 0; p < o.patients; p++) {
    const patient = planPatient(seed, p, o, startDay, endDay);
    for (let s = 0; s < patient.studies.length; s++) {
      const st = patient.studies[s]!;
      const rng = st.rng;
      const def = st.def;
      const studyUid = uid(`study/${patient.id}/${s}`);
      const frameUid = uid(`frame/${patient.id}/${s}`);
      const studyDate = formatDicomDate(st.day);
      const device = deviceFor(st.institution, def.modality);
      const studyFraction = rng();
      const institutionName =
        st.mode === "absent"
          ? null
          : st.mode === "empty"
            ? ""
            : st.mode === "variant"
              ? st.variant
              : st.institution.name;
      const accession = st.mode === "absent" ? "" : `A${pad(p + 1, 7)}${pad(s + 1, 2)}`;
      const age = formatAge(patient.birthDay, st.day);
      const multiSeries = def.modality === "CT" || def.modality === "MR" || def.modality === "PT";
      const nSeries = count(
        rng,
        o.seriesPerStudy,
        multiSeries ? undefined : def.series.length,
        multiSeries ? 2 : undefined,
      );
      const dose = randInt(rng, 250, 400) * 1e6;
      let seriesSecs = st.secs;
      const injection = Math.max(0, st.secs - randInt(rng, 45 * 60, 75 * 60));
      const fovJitter = 1 + (rng() - 0.5) * 0.1;

      for (let k = 0; k < nSeries; k++) {
        const base = def.series[k % def.series.length]!;
        const sd: SeriesDef =
          k < def.series.length
            ? base
            : {
                ...base,
                description: `${base.description} #${Math.floor(k / def.series.length) + 1}`,
              };
        const modality = sd.modality ?? def.modality;
        const seriesNo = k + 1;
        const seriesUid = uid(`series/${patient.id}/${s}/${k}`);
        const sopClassUID = STORAGE_SOP_CLASS[modality];
        const nInst = count(
          rng,
          o.instancesPerSeries,
          sd.localizer ? 3 : modality === "CR" ? 2 : undefined,
        );
        if (k > 0) seriesSecs += randInt(rng, 60, 420);
        const seriesFraction = rng();
        const bits: 8 | 16 = o.bits ?? (modality === "US" ? 8 : 16);
        const bitsStored = bits === 8 ? 8 : modality === "PT" ? 16 : 12;
        const bytes: 1 | 2 = bits === 8 ? 1 : 2;
        const fov = def.fov * fovJitter;
        const spacing = fov / o.cols;
        const spacingRows = (fov * (o.rows / o.cols)) / o.rows;
        const thickness = Number(sd.sliceThickness ?? "1");
        const z0 = randInt(rng, -200, 50);
        const kvp =
          modality === "CT"
            ? pick(rng, ["100", "120", "120", "140"])
            : modality === "CR"
              ? pick(rng, ["70", "81", "110", "125"])
              : undefined;
        const ptSlope = rng() * 8 + 0.05;
        const tomo = modality === "CT" || modality === "MR" || modality === "PT";

        const tm = (secs: number, frac: number) => formatTm(secs, device.timeStyle, frac);

        // Series-level values: the same in every instance of the series.
        const text: TextValue[] = [
          { tag: Tags.ImageType, vr: "CS", value: sd.imageType },
          { tag: 0x00080012, vr: "DA", value: studyDate },
          { tag: Tags.SOPClassUID, vr: "UI", value: sopClassUID },
          { tag: Tags.StudyDate, vr: "DA", value: studyDate },
          { tag: Tags.SeriesDate, vr: "DA", value: studyDate },
          { tag: 0x00080022, vr: "DA", value: studyDate },
          { tag: 0x00080023, vr: "DA", value: studyDate },
          { tag: Tags.StudyTime, vr: "TM", value: tm(st.secs, studyFraction) },
          { tag: 0x00080031, vr: "TM", value: tm(seriesSecs, seriesFraction) },
          { tag: Tags.AccessionNumber, vr: "SH", value: accession },
          { tag: Tags.Modality, vr: "CS", value: modality },
          { tag: 0x00080070, vr: "LO", value: device.model.manufacturer },
          { tag: 0x00080090, vr: "PN", value: st.physician },
          { tag: 0x00081010, vr: "SH", value: device.station },
          { tag: Tags.StudyDescription, vr: "LO", value: def.description },
          { tag: Tags.SeriesDescription, vr: "LO", value: sd.description },
          { tag: 0x00081090, vr: "LO", value: device.model.model },
          { tag: Tags.PatientName, vr: "PN", value: patient.name },
          { tag: Tags.PatientID, vr: "LO", value: patient.id },
          { tag: Tags.PatientBirthDate, vr: "DA", value: formatDicomDate(patient.birthDay) },
          { tag: 0x00100040, vr: "CS", value: patient.sex },
          { tag: 0x00101010, vr: "AS", value: age },
          { tag: 0x00180015, vr: "CS", value: def.bodyPart },
          { tag: 0x00181030, vr: "LO", value: def.protocol },
          { tag: Tags.StudyInstanceUID, vr: "UI", value: studyUid },
          { tag: Tags.SeriesInstanceUID, vr: "UI", value: seriesUid },
          { tag: Tags.StudyID, vr: "SH", value: st.studyId },
          { tag: Tags.SeriesNumber, vr: "IS", value: String(seriesNo) },
          { tag: 0x00200012, vr: "IS", value: "1" },
          { tag: 0x00280004, vr: "CS", value: "MONOCHROME2" },
          { tag: 0x00280030, vr: "DS", value: [ds(spacingRows), ds(spacing)] },
          { tag: PrivateTags.Creator, vr: "LO", value: PRIVATE_CREATOR },
        ];
        if (institutionName !== null)
          text.push({ tag: Tags.InstitutionName, vr: "LO", value: institutionName });
        if (kvp) text.push({ tag: 0x00180060, vr: "DS", value: kvp });
        if (tomo) {
          text.push(
            { tag: 0x00180050, vr: "DS", value: sd.sliceThickness ?? "1" },
            { tag: 0x00185100, vr: "CS", value: def.bodyPart === "KNEE" ? "FFS" : "HFS" },
            { tag: 0x00200037, vr: "DS", value: ["1", "0", "0", "0", "1", "0"] },
            { tag: 0x00200052, vr: "UI", value: frameUid },
            { tag: 0x00201040, vr: "LO", value: "" },
          );
        } else {
          text.push({ tag: 0x00200020, vr: "CS", value: modality === "CR" ? ["P", "F"] : "" });
        }
        if (modality === "CT") {
          text.push(
            { tag: 0x00281052, vr: "DS", value: bits === 16 ? "-1024" : "0" },
            { tag: 0x00281053, vr: "DS", value: "1" },
          );
        }
        if (modality === "CR") {
          text.push(
            { tag: 0x00181164, vr: "DS", value: [ds(spacingRows * 0.95), ds(spacing * 0.95)] },
            { tag: 0x00185101, vr: "CS", value: sd.viewPosition ?? "" },
          );
        }
        if (modality === "MR" && sd.mr) {
          text.push(
            { tag: 0x00180020, vr: "CS", value: sd.mr.scanningSequence },
            { tag: 0x00180021, vr: "CS", value: sd.mr.sequenceVariant },
            { tag: 0x00180022, vr: "CS", value: "" },
            { tag: 0x00180023, vr: "CS", value: sd.mr.acquisitionType },
            { tag: 0x00180080, vr: "DS", value: sd.mr.tr },
            { tag: 0x00180081, vr: "DS", value: sd.mr.te },
            { tag: 0x00180087, vr: "DS", value: device.model.field ?? "1.5" },
            {
              tag: 0x00180091,
              vr: "IS",
              value: String(sd.mr.scanningSequence.startsWith("SE") ? 16 : 1),
            },
          );
        }
        if (modality === "PT") {
          const ac = !sd.description.includes("NAC");
          text.push(
            {
              tag: 0x00280051,
              vr: "CS",
              value: ac
                ? ["ATTN", "DECY", "SCAT", "DTIM", "RAN", "NORM"]
                : ["DECY", "DTIM", "RAN", "NORM"],
            },
            { tag: 0x00281052, vr: "DS", value: "0" },
            {
              tag: 0x00541000,
              vr: "CS",
              value: [def.bodyPart === "WHOLEBODY" ? "WHOLE BODY" : "STATIC", "IMAGE"],
            },
            { tag: 0x00541001, vr: "CS", value: "BQML" },
            { tag: 0x00541002, vr: "CS", value: "EMISSION" },
            { tag: 0x00541102, vr: "CS", value: "START" },
          );
        }
        // Window: soft tissue (and lung for chest CT) in modality units.
        if (modality === "CT" && bits === 16) {
          const lung = def.bodyPart === "CHEST";
          text.push(
            { tag: 0x00281050, vr: "DS", value: lung ? ["-600", "40"] : ["40"] },
            { tag: 0x00281051, vr: "DS", value: lung ? ["1500", "400"] : ["400"] },
          );
        } else {
          const full = 2 ** bitsStored;
          text.push(
            { tag: 0x00281050, vr: "DS", value: ds(full / 2) },
            { tag: 0x00281051, vr: "DS", value: ds(full) },
          );
        }

        // Character set: only what the text needs (US devices always write UTF-8).
        // Instance-level text below is plain ASCII.
        const strings: string[] = [];
        for (const t of text)
          if (TEXT_VRS_WITH_CHARSET.has(t.vr))
            strings.push(...(Array.isArray(t.value) ? t.value : [t.value]));
        let scs = chooseCharset(strings);
        if (scs && device.prefersUtf8) scs = "ISO_IR 192";
        const cs: Charset = charsetFor(scs ? [scs] : undefined);

        const seriesEls: Element[] = text.map((t) => textElement(t.tag, t.vr, t.value, cs));
        if (scs) seriesEls.push(textElement(Tags.SpecificCharacterSet, "CS", scs));
        seriesEls.push(
          numberElement(0x00280002, "US", 1),
          numberElement(0x00280010, "US", o.rows),
          numberElement(0x00280011, "US", o.cols),
          numberElement(0x00280100, "US", bits),
          numberElement(0x00280101, "US", bitsStored),
          numberElement(0x00280102, "US", bitsStored - 1),
          numberElement(0x00280103, "US", 0),
        );
        if (modality === "PT") {
          seriesEls.push(numberElement(0x00540081, "US", nInst & 0xffff));
          const item = new Dataset([
            textElement(0x00180031, "LO", "Fluorodeoxyglucose", cs),
            textElement(0x00181072, "TM", formatTm(injection, device.timeStyle, studyFraction), cs),
            textElement(0x00181074, "DS", ds(dose), cs),
            textElement(0x00181075, "DS", "6586.2", cs),
            textElement(0x00181076, "DS", "0.9673", cs),
          ]);
          seriesEls.push({ tag: 0x00540016, vr: "SQ", items: [item] });
        }

        for (let i = 0; i < nInst; i++) {
          if (o.maxInstances !== undefined && emitted >= o.maxInstances) return;
          const instNo = i + 1;
          const sopInstanceUID = uid(`instance/${patient.id}/${s}/${k}/${i}`);
          const uidHash = hash32(sopInstanceUID);
          const contentTm = tm(seriesSecs + i * (modality === "US" ? 17 : 1), seriesFraction);
          const els: Element[] = seriesEls.slice();
          els.push(
            textElement(0x00080013, "TM", contentTm),
            textElement(Tags.SOPInstanceUID, "UI", sopInstanceUID),
            textElement(0x00080032, "TM", contentTm),
            textElement(0x00080033, "TM", contentTm),
            textElement(Tags.InstanceNumber, "IS", String(instNo)),
            textElement(PrivateTags.Path, "LO", `${patient.id}/${s + 1}/${seriesNo}/${instNo}`),
            numberElement(PrivateTags.Hash, "UL", uidHash),
            textElement(
              PrivateTags.Decimal,
              "DS",
              ds(((uidHash % 2_000_001) - 1_000_000) / 1000, 3),
            ),
            numberElement(PrivateTags.Words, "US", [instNo & 0xffff, 0xbeef]),
            {
              tag: PrivateTags.Bytes,
              vr: "OB",
              value: Buffer.from([
                0x44,
                0x50,
                instNo & 0xff,
                seriesNo & 0xff,
                0x00,
                0xff,
                0x7f,
                0x80,
              ]),
            },
            numberElement(PrivateTags.Double, "FD", Math.PI * instNo),
            {
              tag: Tags.PixelData,
              vr: bits === 8 ? "OB" : "OW",
              value: pixelData(o.rows, o.cols, bytes, bitsStored, seriesNo, instNo),
            },
          );
          if (tomo) {
            const z = z0 - i * thickness;
            els.push(
              textElement(0x00200032, "DS", [ds(-fov / 2), ds(-fov / 2 + 12.5), ds(z)]),
              textElement(0x00201041, "DS", ds(z)),
            );
          }
          if (modality === "CT") {
            els.push(
              textElement(0x00181150, "IS", String(500 + ((instNo * 13) % 250))),
              textElement(0x00181151, "IS", String(150 + ((instNo * 29 + seriesNo) % 250))),
            );
          }
          if (modality === "CR") {
            els.push(
              textElement(0x00181150, "IS", String(5 + ((instNo * 7) % 40))),
              textElement(0x00181151, "IS", String(200 + ((instNo * 31) % 300))),
            );
          }
          if (modality === "PT") {
            els.push(
              textElement(0x00281053, "DS", ds(ptSlope + instNo * 0.0137, 10)),
              numberElement(0x00541330, "US", instNo & 0xffff),
            );
          }
          els.sort((a, b) => a.tag - b.tag);
          const dataset = new Dataset(els);
          for (const e of els) if (e.items) for (const it of e.items) it.parent = dataset;

          const relPath =
            o.layout === "flat"
              ? `${sopInstanceUID}.dcm`
              : `${patient.id}/${studyUid}/${seriesUid}/${sopInstanceUID}.dcm`;
          emitted++;
          yield {
            relPath,
            dataset,
            sopClassUID,
            sopInstanceUID,
            patientID: patient.id,
            studyInstanceUID: studyUid,
            seriesInstanceUID: seriesUid,
            studyDate,
            modality,
            institutionName,
            specificCharacterSet: scs ?? null,
          };
        }
      }
    }
  }
}

/** Part 10 bytes of an instance: preamble + DICM + meta group, then the dataset. */
export function encodeInstance(
  inst: GeneratedInstance,
  transferSyntax: string = TransferSyntax.ExplicitVRLittleEndian,
): Buffer[] {
  const prefix = buildPart10Prefix({
    sopClassUID: inst.sopClassUID,
    sopInstanceUID: inst.sopInstanceUID,
    transferSyntax,
    sourceAet: SOURCE_AET,
  });
  // Values are held little endian; the encoder swaps them for big endian.
  return [prefix, encodeDataset(inst.dataset, transferSyntax, true)];
}

/** Write through a hidden temporary name and rename, so readers never see a partial file. */
function writeAtomic(file: string, chunks: Buffer[]): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, "w");
    try {
      for (const c of chunks) {
        let off = 0;
        while (off < c.length) off += writeSync(fd, c, off, c.length - off);
      }
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
}

/** Write the archive and return what was written. */
export async function generateArchive(opts: GenerateOptions): Promise<ArchiveSummary> {
  const o = resolveOptions(opts);
  const ts = SYNTAXES[o.transferSyntax];
  const summary: ArchiveSummary = {
    out: o.out,
    seed: o.seed,
    layout: o.layout,
    transferSyntax: ts,
    patients: 0,
    studies: 0,
    series: 0,
    instances: 0,
    bytes: 0,
    startDate: o.startDate,
    endDate: o.endDate,
    firstStudyDate: null,
    lastStudyDate: null,
    modalities: {},
    institutions: {},
    seriesWithoutInstitution: 0,
    charsets: {},
  };
  mkdirSync(o.out, { recursive: true });
  let lastDir = o.out;
  let lastYield = performance.now();
  let lastPatient = "";
  let lastStudy = "";
  let lastSeries = "";
  for (const inst of instancesOf(o)) {
    // Synchronous writes are about twice as fast as fs/promises for many small
    // files; yield to the event loop now and then so signals get through.
    if (performance.now() - lastYield > 25) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
    if (opts.signal?.aborted) break;
    const file = join(o.out, ...inst.relPath.split("/"));
    const dir = dirname(file);
    if (dir !== lastDir) {
      mkdirSync(dir, { recursive: true });
      lastDir = dir;
    }
    const chunks = encodeInstance(inst, ts);
    let size = 0;
    for (const c of chunks) size += c.length;

    if (inst.patientID !== lastPatient) {
      summary.patients++;
      lastPatient = inst.patientID;
    }
    if (inst.studyInstanceUID !== lastStudy) {
      summary.studies++;
      lastStudy = inst.studyInstanceUID;
      if (summary.firstStudyDate === null || inst.studyDate < summary.firstStudyDate)
        summary.firstStudyDate = inst.studyDate;
      if (summary.lastStudyDate === null || inst.studyDate > summary.lastStudyDate)
        summary.lastStudyDate = inst.studyDate;
    }
    if (inst.seriesInstanceUID !== lastSeries) {
      summary.series++;
      lastSeries = inst.seriesInstanceUID;
      summary.modalities[inst.modality] = (summary.modalities[inst.modality] ?? 0) + 1;
      if (inst.institutionName === null) summary.seriesWithoutInstitution++;
      else
        summary.institutions[inst.institutionName] =
          (summary.institutions[inst.institutionName] ?? 0) + 1;
    }
    const cs = inst.specificCharacterSet ?? "none";
    summary.charsets[cs] = (summary.charsets[cs] ?? 0) + 1;
    summary.instances++;
    summary.bytes += size;

    writeAtomic(file, chunks);
    opts.onInstance?.(summary.instances, inst);
  }
  if (opts.signal?.aborted)
    throw opts.signal.reason instanceof Error
      ? opts.signal.reason
      : new Error(`aborted (${String(opts.signal.reason)})`);
  return summary;
}
