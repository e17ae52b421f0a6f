/**
 * The dev PACS index: the header of every instance in a folder, and
 * C-FIND matching (PS3.4 C.2.2.2: universal, single value, wildcard, range,
 * UID list) over it at PATIENT, STUDY, SERIES and IMAGE level.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  Dataset,
  encodeDataset,
  parseDataset,
  readPart10Header,
  Tags,
  TransferSyntax,
  numberElement,
  textElement,
  type Element,
} from "@dicom-pipes/dimse/dicom";

export interface Instance {
  path: string;
  /** Header (everything before Pixel Data), little endian, compact copy. */
  head: Dataset;
  transferSyntax: string;
  sopClassUid: string;
  sopInstanceUid: string;
  patientId: string;
  studyUid: string;
  seriesUid: string;
  size: number;
}

export type Level = "PATIENT" | "STUDY" | "SERIES" | "IMAGE";

const T = {
  NumberOfPatientRelatedStudies: 0x00201200,
  NumberOfPatientRelatedSeries: 0x00201202,
  NumberOfPatientRelatedInstances: 0x00201204,
  NumberOfStudyRelatedSeries: 0x00201206,
  NumberOfStudyRelatedInstances: 0x00201208,
  NumberOfSeriesRelatedInstances: 0x00201209,
  ModalitiesInStudy: 0x00080061,
  SOPClassesInStudy: 0x00080062,
};
const COMPUTED = new Set(Object.values(T));

/** What the computed keys count for one patient, study or series. */
interface Related {
  studies: Set<string>;
  series: Set<string>;
  instances: number;
  modalities: Set<string>;
  sopClasses: Set<string>;
}

export class Archive {
  readonly instances = new Map<string, Instance>();
  /** Related counts per patient, study and series; rebuilt after the archive changes. */
  private related?: {
    patient: Map<string, Related>;
    study: Map<string, Related>;
    series: Map<string, Related>;
  };

  /** Index every DICOM file under `dir` (non-DICOM files are skipped). */
  static async load(dir: string, onSkip?: (path: string, why: string) => void): Promise<Archive> {
    const a = new Archive();
    for await (const path of walk(dir)) {
      try {
        await a.addFile(path);
      } catch (e) {
        onSkip?.(path, (e as Error).message);
      }
    }
    return a;
  }

  async addFile(path: string): Promise<Instance> {
    const h = await readPart10Header(path, Tags.PixelData);
    // Keep a compact little-endian copy so file buffers are not retained.
    const big = h.transferSyntax === TransferSyntax.ExplicitVRBigEndian;
    const compact = encodeDataset(h.head, TransferSyntax.ExplicitVRLittleEndian, !big);
    const head = parseDataset(compact, TransferSyntax.ExplicitVRLittleEndian);
    const inst: Instance = {
      path,
      head,
      transferSyntax: h.transferSyntax,
      sopClassUid: h.sopClassUID,
      sopInstanceUid: h.sopInstanceUID,
      patientId: head.string(Tags.PatientID) ?? "",
      studyUid: head.string(Tags.StudyInstanceUID) ?? "",
      seriesUid: head.string(Tags.SeriesInstanceUID) ?? "",
      size: h.size,
    };
    if (!inst.sopInstanceUid) throw new Error("no SOP Instance UID");
    this.instances.set(inst.sopInstanceUid, inst);
    this.related = undefined;
    return inst;
  }

  /**
   * Match a C-FIND identifier. Groups instances by the level's unique key;
   * a group matches when one of its instances matches every key; values
   * come from that instance, counts and modality lists from the group.
   */
  *find(identifier: Dataset, level: Level): Generator<Dataset> {
    const keys = identifier.elements.filter(
      (e) =>
        e.tag !== Tags.QueryRetrieveLevel &&
        e.tag !== Tags.SpecificCharacterSet &&
        (e.tag & 0xffff) !== 0,
    );
    const matchers = keys
      .filter((e) => !e.items && e.value && e.value.length > 0 && !COMPUTED.has(e.tag))
      .map((e) => compileMatcher(e, identifier));
    const modalities = identifier.strings(T.ModalitiesInStudy)?.filter((m) => m !== "");
    const groups = new Map<string, Instance[]>();
    for (const inst of this.instances.values()) {
      const gk =
        level === "PATIENT"
          ? inst.patientId
          : level === "STUDY"
            ? inst.studyUid
            : level === "SERIES"
              ? inst.seriesUid
              : inst.sopInstanceUid;
      const g = groups.get(gk);
      if (g) g.push(inst);
      else groups.set(gk, [inst]);
    }
    for (const members of groups.values()) {
      const hit = members.find((m) => matchers.every((fn) => fn(m.head)));
      if (!hit) continue;
      if (modalities?.length) {
        const studyMods = this.relatedTo().study.get(hit.studyUid)!.modalities;
        if (!modalities.some((m) => studyMods.has(m))) continue;
      }
      yield this.response(keys, level, hit);
    }
  }

  private relatedTo(): NonNullable<Archive["related"]> {
    if (this.related) return this.related;
    const r = {
      patient: new Map<string, Related>(),
      study: new Map<string, Related>(),
      series: new Map<string, Related>(),
    };
    const add = (m: Map<string, Related>, key: string, i: Instance, modality: string) => {
      let x = m.get(key);
      if (!x)
        m.set(
          key,
          (x = {
            studies: new Set(),
            series: new Set(),
            instances: 0,
            modalities: new Set(),
            sopClasses: new Set(),
          }),
        );
      x.studies.add(i.studyUid);
      x.series.add(i.seriesUid);
      x.instances++;
      if (modality) x.modalities.add(modality);
      x.sopClasses.add(i.sopClassUid);
    };
    for (const i of this.instances.values()) {
      const modality = i.head.string(Tags.Modality) ?? "";
      add(r.patient, i.patientId, i, modality);
      add(r.study, i.studyUid, i, modality);
      add(r.series, i.seriesUid, i, modality);
    }
    return (this.related = r);
  }

  private response(keys: Element[], level: Level, inst: Instance): Dataset {
    const out = new Dataset();
    const cs = inst.head.get(Tags.SpecificCharacterSet);
    if (cs) out.set(cs);
    out.setString(Tags.QueryRetrieveLevel, "CS", level);
    const lower = new Set<number>();
    if (level === "PATIENT")
      lower.add(Tags.StudyInstanceUID).add(Tags.SeriesInstanceUID).add(Tags.SOPInstanceUID);
    if (level === "STUDY") lower.add(Tags.SeriesInstanceUID).add(Tags.SOPInstanceUID);
    if (level === "SERIES") lower.add(Tags.SOPInstanceUID);
    for (const k of keys) {
      if (COMPUTED.has(k.tag)) {
        out.set(this.computed(k.tag, inst));
        continue;
      }
      if (lower.has(k.tag)) {
        out.set({ tag: k.tag, vr: k.vr, value: Buffer.alloc(0) });
        continue;
      }
      const have = inst.head.get(k.tag);
      if (have) out.set(have);
      else if (k.items) out.set({ tag: k.tag, vr: "SQ", items: [] });
      else out.set({ tag: k.tag, vr: k.vr, value: Buffer.alloc(0) });
    }
    return out;
  }

  private computed(tag: number, inst: Instance): Element {
    const r = this.relatedTo();
    const patient = r.patient.get(inst.patientId)!;
    const study = r.study.get(inst.studyUid)!;
    const is = (n: number) => textElement(tag, "IS", String(n));
    switch (tag) {
      case T.NumberOfPatientRelatedStudies:
        return is(patient.studies.size);
      case T.NumberOfPatientRelatedSeries:
        return is(patient.series.size);
      case T.NumberOfPatientRelatedInstances:
        return is(patient.instances);
      case T.NumberOfStudyRelatedSeries:
        return is(study.series.size);
      case T.NumberOfStudyRelatedInstances:
        return is(study.instances);
      case T.NumberOfSeriesRelatedInstances:
        return is(r.series.get(inst.seriesUid)!.instances);
      case T.ModalitiesInStudy:
        return textElement(tag, "CS", [...study.modalities].sort());
      case T.SOPClassesInStudy:
        return textElement(tag, "UI", [...study.sopClasses]);
      default:
        return numberElement(tag, "US", []);
    }
  }

  /** Instances under a retrieve identifier (C-MOVE/C-GET), by the unique keys present. */
  select(identifier: Dataset, level: Level): Instance[] {
    const uids = (tag: number) => (identifier.strings(tag) ?? []).filter((u) => u !== "");
    const pid = identifier.string(Tags.PatientID) ?? "";
    const studies = uids(Tags.StudyInstanceUID);
    const series = uids(Tags.SeriesInstanceUID);
    const sops = uids(Tags.SOPInstanceUID);
    const out: Instance[] = [];
    for (const i of this.instances.values()) {
      if (pid && i.patientId !== pid) continue;
      if (level !== "PATIENT" && studies.length && !studies.includes(i.studyUid)) continue;
      if (
        (level === "SERIES" || level === "IMAGE") &&
        series.length &&
        !series.includes(i.seriesUid)
      )
        continue;
      if (level === "IMAGE" && sops.length && !sops.includes(i.sopInstanceUid)) continue;
      if (level === "STUDY" && !studies.length) continue;
      if (level === "SERIES" && !series.length) continue;
      if (level === "IMAGE" && !sops.length) continue;
      if (level === "PATIENT" && !pid) continue;
      out.push(i);
    }
    return out;
  }
}

async function* walk(dir: string): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile() && !e.name.endsWith(".part")) yield p;
  }
}

// ---------------------------------------------------------------- matching

type Matcher = (ds: Dataset) => boolean;

const WILDCARD_VRS = new Set(["AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"]);

function compileMatcher(key: Element, query: Dataset): Matcher {
  const tag = key.tag;
  const vr = key.vr;
  const text = query.string(tag) ?? "";
  if (vr === "UI") {
    const list = text.split("\\").map((s) => s.trim());
    return (ds) => {
      const v = ds.string(tag);
      return v !== undefined && list.includes(v);
    };
  }
  if (vr === "DA" || vr === "TM" || vr === "DT") {
    if (text.includes("-")) {
      const [lo, hi] = text.split("-") as [string, string];
      return (ds) => {
        const v = ds.string(tag);
        if (!v) return false;
        const norm = vr === "TM" ? v.replace(/:/g, "") : v;
        if (lo && cmp(norm, lo, vr) < 0) return false;
        if (hi && cmp(norm, hi, vr) > 0) return false;
        return true;
      };
    }
    const list = text.split("\\");
    return (ds) => {
      const v = ds.string(tag);
      return v !== undefined && list.some((x) => cmp(v, x, vr) === 0);
    };
  }
  const values = text.split("\\");
  const insensitive = vr === "PN";
  const tests = values.map((q) => {
    const qq = insensitive ? q.toUpperCase() : q;
    if (WILDCARD_VRS.has(vr) && /[*?]/.test(qq)) {
      const re = new RegExp(
        "^" +
          qq
            .replace(/[.+^${}()|[\]\\]/g, "\\$&")
            .replace(/\*/g, ".*")
            .replace(/\?/g, ".") +
          "$",
        "s",
      );
      return (v: string) => re.test(insensitive ? v.toUpperCase() : v);
    }
    return (v: string) => (insensitive ? v.toUpperCase() : v) === qq;
  });
  return (ds) => {
    const vs = ds.strings(tag);
    if (!vs || vs.length === 0) return false;
    return vs.some((v) => tests.some((t) => t(v)));
  };
}

function cmp(value: string, bound: string, vr: string): number {
  if (vr === "TM") {
    // Compare on the precision of the bound (HH, HHMM, HHMMSS…).
    const v = value.padEnd(bound.length, "0").slice(0, Math.max(bound.length, 2));
    return v < bound ? -1 : v > bound ? 1 : 0;
  }
  const v = value.slice(0, bound.length);
  return v < bound ? -1 : v > bound ? 1 : 0;
}
