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

const LEVEL_KEY: Record<Level, number> = {
  PATIENT: Tags.PatientID,
  STUDY: Tags.StudyInstanceUID,
  SERIES: Tags.SeriesInstanceUID,
  IMAGE: Tags.SOPInstanceUID,
};

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

export class Archive {
  readonly instances = new Map<string, Instance>();

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
    return inst;
  }

  /**
   * Match a C-FIND identifier. Groups instances by the level's unique key;
   * a group matches when one of its instances matches every key; values
   * come from that instance, counts and modality lists from the group.
   */
  *find(identifier: Dataset, level: Level): Generator<Dataset> {
    const groupKey = LEVEL_KEY[level];
    const keys = identifier.elements.filter((e) => e.tag !== Tags.QueryRetrieveLevel && e.tag !== Tags.SpecificCharacterSet && (e.tag & 0xffff) !== 0);
    const matchers = keys.filter((e) => !e.items && e.value && e.value.length > 0 && !COMPUTED.has(e.tag)).map((e) => compileMatcher(e, identifier));
    const modalities = identifier.strings(T.ModalitiesInStudy)?.filter((m) => m !== "");
    const groups = new Map<string, { first: Instance; members: Instance[] }>();
    const all = [...this.instances.values()];
    for (const inst of all) {
      const gk = level === "PATIENT" ? inst.patientId : level === "STUDY" ? inst.studyUid : level === "SERIES" ? inst.seriesUid : inst.sopInstanceUid;
      const g = groups.get(gk);
      if (g) {
        g.members.push(inst);
        continue;
      }
      groups.set(gk, { first: inst, members: [inst] });
    }
    for (const [, g] of groups) {
      const hit = g.members.find((m) => matchers.every((fn) => fn(m.head)));
      if (!hit) continue;
      if (modalities?.length) {
        const studyMods = this.studyModalities(hit.studyUid);
        if (!modalities.some((m) => studyMods.has(m))) continue;
      }
      yield this.response(identifier, keys, level, hit, groupKey);
    }
  }

  private studyModalities(studyUid: string): Set<string> {
    const s = new Set<string>();
    for (const i of this.instances.values()) if (i.studyUid === studyUid) s.add(i.head.string(Tags.Modality) ?? "");
    s.delete("");
    return s;
  }

  private response(identifier: Dataset, keys: Element[], level: Level, inst: Instance, _groupKey: number): Dataset {
    const out = new Dataset();
    const cs = inst.head.get(Tags.SpecificCharacterSet);
    if (cs) out.set(cs);
    out.setString(Tags.QueryRetrieveLevel, "CS", level);
    const lower = new Set<number>();
    if (level === "PATIENT") lower.add(Tags.StudyInstanceUID).add(Tags.SeriesInstanceUID).add(Tags.SOPInstanceUID);
    if (level === "STUDY") lower.add(Tags.SeriesInstanceUID).add(Tags.SOPInstanceUID);
    if (level === "SERIES") lower.add(Tags.SOPInstanceUID);
    const members = (pred: (i: Instance) => boolean) => [...this.instances.values()].filter(pred);
    for (const k of keys) {
      if (COMPUTED.has(k.tag)) {
        out.set(this.computed(k.tag, inst, members));
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
    void identifier;
    return out;
  }

  private computed(tag: number, inst: Instance, members: (pred: (i: Instance) => boolean) => Instance[]): Element {
    const count = (xs: Instance[], key: (i: Instance) => string) => new Set(xs.map(key)).size;
    const is = (n: number) => textElement(tag, "IS", String(n));
    switch (tag) {
      case T.NumberOfPatientRelatedStudies: return is(count(members((i) => i.patientId === inst.patientId), (i) => i.studyUid));
      case T.NumberOfPatientRelatedSeries: return is(count(members((i) => i.patientId === inst.patientId), (i) => i.seriesUid));
      case T.NumberOfPatientRelatedInstances: return is(members((i) => i.patientId === inst.patientId).length);
      case T.NumberOfStudyRelatedSeries: return is(count(members((i) => i.studyUid === inst.studyUid), (i) => i.seriesUid));
      case T.NumberOfStudyRelatedInstances: return is(members((i) => i.studyUid === inst.studyUid).length);
      case T.NumberOfSeriesRelatedInstances: return is(members((i) => i.seriesUid === inst.seriesUid).length);
      case T.ModalitiesInStudy: return textElement(tag, "CS", [...this.studyModalities(inst.studyUid)].sort());
      case T.SOPClassesInStudy: return textElement(tag, "UI", [...new Set(members((i) => i.studyUid === inst.studyUid).map((i) => i.sopClassUid))]);
      default: return numberElement(tag, "US", []);
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
      if ((level === "SERIES" || level === "IMAGE") && series.length && !series.includes(i.seriesUid)) continue;
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
      const re = new RegExp("^" + qq.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$", "s");
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
