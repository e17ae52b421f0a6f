/**
 * Directory records for one file, General Purpose profile (PS3.11 Annex D,
 * PS3.3 F.5): the PATIENT, STUDY and SERIES keys, and the instance record
 * whose type fits the SOP class, with the keys DCMTK's dcmmkdir writes.
 */
import { Dataset, textElement, type Element, type Part10Header } from "@dicom-pipes/dimse/dicom";
import { DirTags, type DirRecord } from "./dicomdir.js";

const T = {
  SpecificCharacterSet: 0x00080005,
  ImageType: 0x00080008,
  SOPClassUID: 0x00080016,
  StudyDate: 0x00080020,
  ContentDate: 0x00080023,
  StudyTime: 0x00080030,
  ContentTime: 0x00080033,
  AccessionNumber: 0x00080050,
  Modality: 0x00080060,
  StudyDescription: 0x00081030,
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  StudyID: 0x00200010,
  SeriesNumber: 0x00200011,
  InstanceNumber: 0x00200013,
} as const;

/** Keys per record type: [tag, type 1 (must have a value)]. */
const PATIENT_KEYS: Array<[number, boolean]> = [
  [T.PatientName, false],
  [T.PatientID, true],
];
const STUDY_KEYS: Array<[number, boolean]> = [
  [T.StudyDate, true],
  [T.StudyTime, true],
  [T.AccessionNumber, false],
  [T.StudyDescription, false],
  [T.StudyInstanceUID, true],
  [T.StudyID, true],
];
const SERIES_KEYS: Array<[number, boolean]> = [
  [T.Modality, true],
  [T.SeriesInstanceUID, true],
  [T.SeriesNumber, true],
];

/** Instance-level record types by SOP Class UID prefix (PS3.3 Table F.4-1); IMAGE otherwise. */
const RECORD_TYPES: Array<[RegExp, string, number[]]> = [
  [
    /^1\.2\.840\.10008\.5\.1\.4\.1\.1\.88\.59$/,
    "KEY OBJECT DOC",
    [T.ContentDate, T.ContentTime, 0x0040a043],
  ],
  [
    /^1\.2\.840\.10008\.5\.1\.4\.1\.1\.88\./,
    "SR DOCUMENT",
    [T.ContentDate, T.ContentTime, 0x0040a491, 0x0040a493, 0x0040a043],
  ],
  [
    /^1\.2\.840\.10008\.5\.1\.4\.1\.1\.11\./,
    "PRESENTATION",
    [0x00700082, 0x00700083, 0x00700080, 0x00700081, 0x00700084],
  ],
  [
    /^1\.2\.840\.10008\.5\.1\.4\.1\.1\.104\./,
    "ENCAP DOC",
    [T.ContentDate, T.ContentTime, 0x00420010, 0x00420012],
  ],
  [/^1\.2\.840\.10008\.5\.1\.4\.1\.1\.481\.2$/, "RT DOSE", [0x3004000a]],
  [
    /^1\.2\.840\.10008\.5\.1\.4\.1\.1\.481\.3$/,
    "RT STRUCTURE SET",
    [0x30060002, 0x30060008, 0x30060009],
  ],
  [
    /^1\.2\.840\.10008\.5\.1\.4\.1\.1\.481\.(5|8)$/,
    "RT PLAN",
    [0x300a0002, 0x300a0006, 0x300a0007],
  ],
  [/^1\.2\.840\.10008\.5\.1\.4\.1\.1\.481\.(4|6|7)$/, "RT TREAT RECORD", [0x30080250, 0x30080251]],
  [/^1\.2\.840\.10008\.5\.1\.4\.1\.1\.9\./, "WAVEFORM", [T.ContentDate, T.ContentTime]],
  [/^1\.2\.840\.10008\.5\.1\.4\.1\.1\.66$/, "RAW DATA", [T.ContentDate, T.ContentTime]],
  [/^1\.2\.840\.10008\.5\.1\.4\.1\.1\.66\.(1|3)$/, "REGISTRATION", [T.ContentDate, T.ContentTime]],
  [/^1\.2\.840\.10008\.5\.1\.4\.1\.1\.66\.2$/, "FIDUCIAL", [T.ContentDate, T.ContentTime]],
  [/^1\.2\.840\.10008\.5\.1\.4\.1\.1\.4\.2$/, "SPECTROSCOPY", [T.ContentDate, T.ContentTime]],
];

export function instanceRecordType(sopClassUID: string): { type: string; keys: number[] } {
  for (const [re, type, keys] of RECORD_TYPES) if (re.test(sopClassUID)) return { type, keys };
  return { type: "IMAGE", keys: [T.ImageType] };
}

/** VRs whose values the Specific Character Set governs. */
const TEXT_VRS = new Set(["PN", "LO", "SH", "ST", "LT", "UT", "UC"]);

/** A record carries the file's Specific Character Set when it holds text the character set governs (as DCMTK's dcmmkdir). */
function needsCharset(ds: Dataset): boolean {
  return ds.elements.some((e) => TEXT_VRS.has(e.vr));
}

function copyElement(e: Element): Element {
  return {
    tag: e.tag,
    vr: e.vr,
    value: e.value ? Buffer.from(e.value) : undefined,
    items: e.items?.map((i) => i.clone()),
    length: e.length,
    undefinedLength: e.undefinedLength,
  };
}

export interface FileKeys {
  patientID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  transferSyntax: string;
}

/** Identifying UIDs of a file, or the reason it cannot be placed in a hierarchy. */
export function fileKeys(h: Part10Header): FileKeys | string {
  const k: FileKeys = {
    patientID: h.head.string(T.PatientID) ?? "",
    studyInstanceUID: h.head.string(T.StudyInstanceUID) ?? "",
    seriesInstanceUID: h.head.string(T.SeriesInstanceUID) ?? "",
    sopInstanceUID: h.sopInstanceUID,
    sopClassUID: h.sopClassUID,
    transferSyntax: h.transferSyntax,
  };
  const missing = [
    ["StudyInstanceUID", k.studyInstanceUID],
    ["SeriesInstanceUID", k.seriesInstanceUID],
    ["SOPInstanceUID", k.sopInstanceUID],
    ["SOPClassUID", k.sopClassUID],
  ]
    .filter(([, v]) => !v)
    .map(([n]) => n);
  return missing.length ? `no ${missing.join(", ")}` : k;
}

export interface Invented {
  /** Keyword of each type 1 key that had no value and was filled in. */
  keys: string[];
}

function build(
  type: string,
  head: Dataset,
  keys: Array<[number, boolean]>,
  invent: (tag: number) => string,
  inv: Invented,
  names: Record<number, string>,
): Dataset {
  const ds = new Dataset();
  ds.set(textElement(DirTags.DirectoryRecordType, "CS", type));
  for (const [tag, type1] of keys) {
    const e = head.get(tag);
    if (e && (e.value?.length || e.items)) ds.set(copyElement(e));
    else if (type1) {
      ds.set(textElement(tag, VR[tag] ?? "LO", invent(tag)));
      inv.keys.push(names[tag] ?? tag.toString(16));
    } else if (e) ds.set(copyElement(e));
    else ds.set(textElement(tag, VR[tag] ?? "LO", ""));
  }
  return ds;
}

const VR: Record<number, string> = {
  [T.PatientName]: "PN",
  [T.PatientID]: "LO",
  [T.StudyDate]: "DA",
  [T.StudyTime]: "TM",
  [T.AccessionNumber]: "SH",
  [T.StudyDescription]: "LO",
  [T.StudyInstanceUID]: "UI",
  [T.StudyID]: "SH",
  [T.Modality]: "CS",
  [T.SeriesInstanceUID]: "UI",
  [T.SeriesNumber]: "IS",
  [T.InstanceNumber]: "IS",
};
const NAMES: Record<number, string> = {
  [T.PatientID]: "PatientID",
  [T.StudyDate]: "StudyDate",
  [T.StudyTime]: "StudyTime",
  [T.StudyID]: "StudyID",
  [T.Modality]: "Modality",
  [T.SeriesNumber]: "SeriesNumber",
  [T.InstanceNumber]: "InstanceNumber",
};

function withCharset(ds: Dataset, head: Dataset): Dataset {
  const cs = head.get(T.SpecificCharacterSet);
  if (cs?.value?.length && needsCharset(ds)) ds.set(copyElement(cs));
  ds.parent = undefined;
  return ds;
}

/**
 * The four records for one file. Type 1 keys without a value are invented
 * (as DCMTK's dcmmkdir +I does) so the directory stays valid; `inv` lists them.
 */
export function recordsForFile(
  h: Part10Header,
  fileId: string[],
  inv: Invented,
): { patient: Dataset; study: Dataset; series: Dataset; instance: Dataset } {
  const head = h.head;
  const invent = (tag: number): string => {
    switch (tag) {
      case T.PatientID:
        return "UNKNOWN";
      case T.StudyDate:
        return "19000101";
      case T.StudyTime:
        return "000000";
      case T.StudyID:
        return "1";
      case T.Modality:
        return "OT";
      default:
        return "1";
    }
  };
  const patient = withCharset(build("PATIENT", head, PATIENT_KEYS, invent, inv, NAMES), head);
  const study = withCharset(build("STUDY", head, STUDY_KEYS, invent, inv, NAMES), head);
  const series = withCharset(build("SERIES", head, SERIES_KEYS, invent, inv, NAMES), head);
  const { type, keys } = instanceRecordType(h.sopClassUID);
  const instance = build(type, head, [[T.InstanceNumber, true]], invent, inv, NAMES);
  for (const tag of keys) {
    const e = head.get(tag);
    if (e) instance.set(copyElement(e));
  }
  instance.set(textElement(DirTags.ReferencedFileID, "CS", fileId));
  instance.set(textElement(DirTags.ReferencedSOPClassUIDInFile, "UI", h.sopClassUID));
  instance.set(textElement(DirTags.ReferencedSOPInstanceUIDInFile, "UI", h.sopInstanceUID));
  instance.set(textElement(DirTags.ReferencedTransferSyntaxUIDInFile, "UI", h.transferSyntax));
  return { patient, study, series, instance: withCharset(instance, head) };
}

/** The file ID whose file gave a record its keys. */
const keySource = new WeakMap<DirRecord, string>();

/**
 * Find or add the child record whose `tag` value equals `key`. When files
 * of one entity disagree, the keys come from the file with the smallest
 * file ID (the first one dcmmkdir meets in sorted order), so the records
 * do not depend on the order the folders were read in.
 */
export function childFor(
  parent: DirRecord[],
  tag: number,
  key: string,
  ds: Dataset,
  fileId: string[],
): DirRecord {
  const id = fileId.join("/");
  let r = parent.find((c) => (c.ds.string(tag) ?? "") === key);
  if (!r) {
    r = { ds, children: [] };
    parent.push(r);
    keySource.set(r, id);
  } else {
    const prior = keySource.get(r);
    if (prior !== undefined && id < prior) {
      r.ds = ds;
      keySource.set(r, id);
    }
  }
  return r;
}

export const KeyTags = T;
