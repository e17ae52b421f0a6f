/**
 * The DICOM data dictionary (PS3.6), loaded once from dcmjs' name map and
 * indexed by numeric tag and by keyword.
 */
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface DictEntry {
  /** (group << 16) | element */
  tag: number;
  /** PS3.6 keyword (retired elements without dcmjs' `RETIRED_` prefix). */
  keyword: string;
  /** Name as DCMTK prints it in dumps (`RETIRED_` kept). */
  dumpName: string;
  /** VR used when the transfer syntax does not carry one (implicit VR). */
  vr: string;
  /** Value multiplicity as in PS3.6 (`1`, `1-n`, `2`…). */
  vm: string;
  /** True when the VM allows more than one value. */
  multi: boolean;
  retired: boolean;
}

const require = createRequire(import.meta.url);

let byTag: Map<number, DictEntry> | undefined;
let byKeyword: Map<string, DictEntry> | undefined;

/** dcmjs uses lower-case pseudo-VRs for ambiguous entries (`OB or OW`, `US or SS`…): the VR taken for them. */
const AMBIGUOUS: Record<string, string> = { ox: "OW", xs: "US", lt: "US", up: "UL", na: "NA" };

type Row = [tag: number, name: string, vr: string, vm: string];

/** The dictionary rows: the compact copy made at build time, else dcmjs itself. */
function rows(): Row[] {
  try {
    return JSON.parse(
      // Found through the package (not this module's URL) so that a tool's bundle finds it too.
      readFileSync(
        join(dirname(require.resolve("@dicom-pipes/dimse/package.json")), "dist/dictionary.json"),
        "utf8",
      ),
    ) as Row[];
  } catch {
    const dcmjs = require("dcmjs") as {
      data: {
        DicomMetaDictionary: {
          nameMap: Record<string, { tag: string; vr: string; vm: string; name: string }>;
        };
      };
    };
    const out: Row[] = [];
    for (const raw of Object.values(dcmjs.data.DicomMetaDictionary.nameMap)) {
      const m = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/.exec(raw.tag);
      if (m)
        out.push([
          ((parseInt(m[1]!, 16) << 16) | parseInt(m[2]!, 16)) >>> 0,
          raw.name,
          raw.vr,
          raw.vm,
        ]);
    }
    return out;
  }
}

function load(): void {
  if (byTag) return;
  byTag = new Map();
  byKeyword = new Map();
  for (const [tag, name, rawVr, vm] of rows()) {
    const retired = name.startsWith("RETIRED_");
    const keyword = retired ? name.slice(8) : name;
    const entry: DictEntry = {
      tag,
      keyword,
      dumpName: name,
      vr: AMBIGUOUS[rawVr] ?? rawVr,
      vm,
      multi: vm !== "1",
      retired,
    };
    // Current attributes win over retired ones sharing a keyword.
    const prev = byKeyword.get(keyword);
    if (!prev || (prev.retired && !retired)) byKeyword.set(keyword, entry);
    byTag.set(tag, entry);
  }
}

/** An entry DCMTK names though PS3.6 lists no such tag (group lengths, private creators). */
const synthetic = (tag: number, dumpName: string, vr: string): DictEntry => ({
  tag,
  keyword: "",
  dumpName,
  vr,
  vm: "1",
  multi: false,
  retired: false,
});

/** Dictionary entry for a tag, or undefined for private and unknown tags. */
export function lookupTag(tag: number): DictEntry | undefined {
  load();
  const hit = byTag!.get(tag);
  if (hit) return hit;
  const group = tag >>> 16;
  // Repeating groups: overlays 60xx and curves 50xx are listed for the first group only.
  if ((group & 0xff00) === 0x6000 || (group & 0xff00) === 0x5000) {
    if ((group & 1) === 0) return byTag!.get((((group & 0xff00) << 16) | (tag & 0xffff)) >>> 0);
  }
  return undefined;
}

/**
 * Entry for any tag, including synthetic entries for group lengths and
 * private creators; undefined only for unknown (e.g. private data) elements.
 */
export function describeTag(tag: number): DictEntry | undefined {
  const e = lookupTag(tag);
  if (e) return e;
  const elem = tag & 0xffff;
  // DCMTK's names for (gggg,0000) of standard and of private groups
  if (elem === 0)
    return synthetic(tag, isPrivate(tag) ? "PrivateGroupLength" : "GenericGroupLength", "UL");
  if (isPrivate(tag) && elem >= 0x10 && elem <= 0xff) return synthetic(tag, "PrivateCreator", "LO");
  return undefined;
}

/** Entry for a PS3.6 keyword (case-sensitive, `RETIRED_` prefix accepted). */
export function lookupKeyword(keyword: string): DictEntry | undefined {
  load();
  const k = keyword.startsWith("RETIRED_") ? keyword.slice(8) : keyword;
  return byKeyword!.get(k);
}

/** All keywords, for suggestions. */
export function allKeywords(): string[] {
  load();
  return [...byKeyword!.keys()];
}

export function isPrivate(tag: number): boolean {
  return ((tag >>> 16) & 1) === 1;
}

/** VR to use for a tag without an explicit VR (implicit transfer syntax). */
export function implicitVr(tag: number): string {
  const e = describeTag(tag);
  return e ? e.vr : "UN";
}

export function tagHex(tag: number): string {
  return (tag >>> 0).toString(16).toUpperCase().padStart(8, "0");
}

/** `(gggg,eeee)` in lower case as DCMTK dumps print it. */
const dcmtkTagText = new Map<number, string>();
export function tagDcmtk(tag: number): string {
  let t = dcmtkTagText.get(tag);
  if (t === undefined) {
    const h = (tag >>> 0).toString(16).padStart(8, "0");
    t = `(${h.slice(0, 4)},${h.slice(4)})`;
    if (dcmtkTagText.size < 65536) dcmtkTagText.set(tag, t);
  }
  return t;
}

export function parseTagHex(s: string): number | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(s)) return undefined;
  return parseInt(s, 16) >>> 0;
}

/** Frequently used tags. */
export const Tags = {
  FileMetaInformationGroupLength: 0x00020000,
  MediaStorageSOPClassUID: 0x00020002,
  MediaStorageSOPInstanceUID: 0x00020003,
  TransferSyntaxUID: 0x00020010,
  ImplementationClassUID: 0x00020012,
  ImplementationVersionName: 0x00020013,
  SourceApplicationEntityTitle: 0x00020016,
  SpecificCharacterSet: 0x00080005,
  ImageType: 0x00080008,
  SOPClassUID: 0x00080016,
  SOPInstanceUID: 0x00080018,
  StudyDate: 0x00080020,
  SeriesDate: 0x00080021,
  StudyTime: 0x00080030,
  AccessionNumber: 0x00080050,
  QueryRetrieveLevel: 0x00080052,
  RetrieveAETitle: 0x00080054,
  Modality: 0x00080060,
  ModalitiesInStudy: 0x00080061,
  InstitutionName: 0x00080080,
  StudyDescription: 0x00081030,
  SeriesDescription: 0x0008103e,
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  PatientBirthDate: 0x00100030,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  StudyID: 0x00200010,
  SeriesNumber: 0x00200011,
  InstanceNumber: 0x00200013,
  NumberOfStudyRelatedSeries: 0x00201206,
  NumberOfStudyRelatedInstances: 0x00201208,
  NumberOfSeriesRelatedInstances: 0x00201209,
  PixelData: 0x7fe00010,
  Item: 0xfffee000,
  ItemDelimitationItem: 0xfffee00d,
  SequenceDelimitationItem: 0xfffee0dd,
} as const;
