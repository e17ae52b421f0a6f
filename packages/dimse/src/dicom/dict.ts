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

/** dcmjs uses lower-case pseudo-VRs for ambiguous entries (`OB or OW`, `US or SS`…): the VR taken for them. */
const AMBIGUOUS: Record<string, string> = { ox: "OW", xs: "US", lt: "US", up: "UL", na: "NA" };

export type DictRow = [tag: number, name: string, vr: string, vm: string];

/**
 * The dictionary as the build writes it (dist/dictionary.bin) and the
 * tools read it: nothing is parsed or built at load, an entry is made the
 * first time its tag or keyword is looked up.
 *
 *   u32 n | u32 k | u32 tags[n] (ascending) | u32 keywordOrder[k] (entry
 *   indexes, ascending by keyword) | u32 textOffsets[n + 1] | text
 *
 * Entry i's text is `name\tvr\tvm` (ASCII) at offsets[i]..offsets[i + 1].
 * A tag listed twice keeps its last row; a keyword shared by a current and
 * a retired attribute (`RETIRED_` dropped) names the current one, else the
 * first row.
 */
/** A dictionary name as a PS3.6 keyword: dcmjs' `RETIRED_` prefix dropped. */
function keywordOf(name: string): string {
  return name.startsWith("RETIRED_") ? name.slice(8) : name;
}

export function encodeDictionary(rows: readonly DictRow[]): Buffer {
  // In tag order (stable), as "first" and "last" below mean.
  const inOrder = [...rows].sort((a, b) => (a[0] >>> 0) - (b[0] >>> 0));
  const byTag = new Map<number, DictRow>();
  for (const r of inOrder) byTag.set(r[0] >>> 0, r);
  const sorted = [...byTag.values()].sort((a, b) => a[0] - b[0]);
  const winner = new Map<string, DictRow>();
  for (const r of inOrder) {
    if (byTag.get(r[0] >>> 0) !== r) continue;
    const prev = winner.get(keywordOf(r[1]));
    if (!prev || (prev[1].startsWith("RETIRED_") && !r[1].startsWith("RETIRED_")))
      winner.set(keywordOf(r[1]), r);
  }
  const index = new Map(sorted.map((r, i) => [r, i]));
  const order = [...winner.keys()]
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((k) => index.get(winner.get(k)!)!);
  const texts = sorted.map((r) => Buffer.from(`${r[1]}\t${r[2]}\t${r[3]}`, "latin1"));
  const n = sorted.length;
  const head = Buffer.alloc(4 * (2 + n + order.length + n + 1));
  let at = head.writeUInt32LE(n, 0);
  at = head.writeUInt32LE(order.length, at);
  for (const r of sorted) at = head.writeUInt32LE(r[0] >>> 0, at);
  for (const i of order) at = head.writeUInt32LE(i, at);
  let offset = 0;
  for (const t of texts) {
    at = head.writeUInt32LE(offset, at);
    offset += t.length;
  }
  head.writeUInt32LE(offset, at);
  return Buffer.concat([head, ...texts]);
}

/** PS3.6 as dcmjs lists it: the rows `encodeDictionary` takes. */
export function dcmjsDictionaryRows(): DictRow[] {
  const dcmjs = require("dcmjs") as {
    data: {
      DicomMetaDictionary: {
        nameMap: Record<string, { tag: string; vr: string; vm: string; name: string }>;
      };
    };
  };
  const out: DictRow[] = [];
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

interface DictIndex {
  tags: Uint32Array;
  order: Uint32Array;
  offsets: Uint32Array;
  text: Buffer;
  entries: Array<DictEntry | undefined>;
  byKeyword: Map<string, DictEntry | null>;
}

let dict: DictIndex | undefined;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Where the build writes dist/dictionary.bin, from this module's URL: the
 * sources (src/dicom/) and tsc's output (dist/dicom/) are two folders below
 * the package, a tool's bundle (packages/<tool>/dist/) two below packages/
 * (first: a bundled tool is the run that counts). Tried before Node's
 * package resolver, which costs a start-up 1-2 ms.
 */
const DICTIONARY_FILES = ["../../dimse/dist/dictionary.bin", "../../dist/dictionary.bin"];

function readDictionary(): Buffer {
  for (const rel of DICTIONARY_FILES) {
    try {
      return readFileSync(new URL(rel, import.meta.url));
    } catch {
      // not this layout
    }
  }
  return readFileSync(
    join(dirname(require.resolve("@dicom-pipes/dimse/package.json")), "dist/dictionary.bin"),
  );
}

/** The dictionary: the compact copy made at build time, else dcmjs itself. */
function index(): DictIndex {
  if (dict) return dict;
  let bytes: Buffer;
  try {
    bytes = readDictionary();
  } catch {
    bytes = encodeDictionary(dcmjsDictionaryRows());
  }
  // Uint32Array views need 4-byte alignment.
  if (bytes.byteOffset % 4 !== 0) bytes = Buffer.from(bytes);
  const n = bytes.readUInt32LE(0);
  const k = bytes.readUInt32LE(4);
  // The file is little endian: viewed as it is on such a machine, read value by value elsewhere.
  const u32 = LITTLE_ENDIAN
    ? (at: number, count: number) => new Uint32Array(bytes.buffer, bytes.byteOffset + 4 * at, count)
    : (at: number, count: number) =>
        Uint32Array.from({ length: count }, (_, i) => bytes.readUInt32LE(4 * (at + i)));
  dict = {
    tags: u32(2, n),
    order: u32(2 + n, k),
    offsets: u32(2 + n + k, n + 1),
    text: bytes.subarray(4 * (2 + n + k + n + 1)),
    entries: new Array(n),
    byKeyword: new Map(),
  };
  return dict;
}

/** Entry i's `name`, read from the text. */
function nameAt(d: DictIndex, i: number): string {
  const start = d.offsets[i]!;
  return d.text.toString("latin1", start, d.text.indexOf(9, start));
}

function entryAt(d: DictIndex, i: number): DictEntry {
  let e = d.entries[i];
  if (!e) {
    const [name, rawVr, vm] = d.text
      .toString("latin1", d.offsets[i]!, d.offsets[i + 1]!)
      .split("\t") as [string, string, string];
    e = {
      tag: d.tags[i]!,
      keyword: keywordOf(name),
      dumpName: name,
      vr: AMBIGUOUS[rawVr] ?? rawVr,
      vm,
      multi: vm !== "1",
      retired: name.startsWith("RETIRED_"),
    };
    d.entries[i] = e;
  }
  return e;
}

/** Entry with exactly this tag (binary search). */
function exactTag(tag: number): DictEntry | undefined {
  const d = index();
  let lo = 0;
  let hi = d.tags.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const t = d.tags[mid]!;
    if (t === tag) return entryAt(d, mid);
    if (t < tag) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
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
  const hit = exactTag(tag >>> 0);
  if (hit) return hit;
  const group = tag >>> 16;
  // Repeating groups: overlays 60xx and curves 50xx are listed for the first group only.
  if ((group & 0xff00) === 0x6000 || (group & 0xff00) === 0x5000) {
    if ((group & 1) === 0) return exactTag((((group & 0xff00) << 16) | (tag & 0xffff)) >>> 0);
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
  const d = index();
  const k = keywordOf(keyword);
  let hit = d.byKeyword.get(k);
  if (hit === undefined) {
    hit = null;
    let lo = 0;
    let hi = d.order.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const i = d.order[mid]!;
      const key = keywordOf(nameAt(d, i));
      if (key === k) {
        hit = entryAt(d, i);
        break;
      }
      if (key < k) lo = mid + 1;
      else hi = mid - 1;
    }
    if (d.byKeyword.size < 65536) d.byKeyword.set(k, hit);
  }
  return hit ?? undefined;
}

/** All keywords, for suggestions. */
export function allKeywords(): string[] {
  const d = index();
  // From the names: no entry is made for each of the ~5000 keywords.
  return Array.from(d.order, (i) => keywordOf(nameAt(d, i)));
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
