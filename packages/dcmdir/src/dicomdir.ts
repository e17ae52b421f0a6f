/**
 * The DICOMDIR file (PS3.10 §8, PS3.3 Annex F): the Basic Directory IOD as
 * a tree of directory records, read from and written to a Part 10 file
 * with the record offsets resolved and computed.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  buildPart10Prefix,
  Dataset,
  encodeDataset,
  LONG_VRS,
  numberElement,
  parsePart10,
  syntaxInfo,
  textElement,
  TransferSyntax,
  newUid,
  type Element,
} from "@dicom-pipes/dimse/dicom";

export const MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10";

export const DirTags = {
  FileSetID: 0x00041130,
  FirstRootRecord: 0x00041200,
  LastRootRecord: 0x00041202,
  FileSetConsistencyFlag: 0x00041212,
  DirectoryRecordSequence: 0x00041220,
  NextRecord: 0x00041400,
  RecordInUseFlag: 0x00041410,
  LowerLevelRecord: 0x00041420,
  DirectoryRecordType: 0x00041430,
  ReferencedFileID: 0x00041500,
  ReferencedSOPClassUIDInFile: 0x00041510,
  ReferencedSOPInstanceUIDInFile: 0x00041511,
  ReferencedTransferSyntaxUIDInFile: 0x00041512,
} as const;

/** One directory record and the records of the entity it references (its children). */
export interface DirRecord {
  ds: Dataset;
  children: DirRecord[];
}

export interface Dicomdir {
  fileSetId: string;
  /** The root directory entity's records (PATIENT records for the General Purpose profile). */
  roots: DirRecord[];
  /** SOP Instance UID of the DICOMDIR itself (kept when rewritten). */
  sopInstanceUID: string;
}

export class DicomdirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DicomdirError";
  }
}

export function recordType(r: DirRecord | Dataset): string {
  const ds = r instanceof Dataset ? r : r.ds;
  return ds.string(DirTags.DirectoryRecordType) ?? "";
}

/** A record's Referenced File ID components (empty when it references no file). */
export function referencedFileId(r: DirRecord): string[] {
  return r.ds.strings(DirTags.ReferencedFileID)?.filter((s) => s !== "") ?? [];
}

/** PS3.10 §8.5: each component 1–8 characters of A–Z, 0–9 and _, at most 8 components. */
export const FILE_ID_COMPONENT = /^[A-Z0-9_]{1,8}$/;
export const MAX_FILE_ID_DEPTH = 8;

/** The problem with a file ID, or undefined when it is valid. */
export function fileIdProblem(components: string[]): string | undefined {
  if (components.length === 0) return "empty file ID";
  if (components.length > MAX_FILE_ID_DEPTH)
    return `${components.length} levels (at most ${MAX_FILE_ID_DEPTH})`;
  const bad = components.find((c) => !FILE_ID_COMPONENT.test(c));
  if (bad !== undefined)
    return `component ${JSON.stringify(bad)} is not 1 to 8 characters of A-Z, 0-9 and _`;
  return undefined;
}

/**
 * The local path of a referenced file. The components come from a file
 * that may be hostile: only plain names are accepted (lower case too, as
 * media mounted case-folded show them), never `..` or separators.
 */
export function resolveFileId(dicomdirFolder: string, components: string[]): string {
  for (const c of components) {
    if (!/^[A-Za-z0-9_]{1,8}$/.test(c))
      throw new DicomdirError(`invalid Referenced File ID component ${JSON.stringify(c)}`);
  }
  if (components.length === 0) throw new DicomdirError("empty Referenced File ID");
  return join(dicomdirFolder, ...components);
}

// ------------------------------------------------------------------ reading

/** Parse a DICOMDIR file held in memory into its record tree. */
export function parseDicomdir(buf: Buffer, name = "DICOMDIR"): Dicomdir {
  let parsed;
  try {
    parsed = parsePart10(buf);
  } catch (e) {
    throw new DicomdirError(`${name}: not a readable DICOM file (${(e as Error).message})`);
  }
  const { header, dataset } = parsed;
  const sopClass = header.meta.string(0x00020002);
  if (sopClass && sopClass !== MEDIA_STORAGE_DIRECTORY)
    throw new DicomdirError(`${name}: not a DICOMDIR (Media Storage SOP Class ${sopClass})`);
  const seq = dataset.get(DirTags.DirectoryRecordSequence);
  if (!seq?.items) throw new DicomdirError(`${name}: no Directory Record Sequence (0004,1220)`);
  const ts = syntaxInfo(header.transferSyntax);
  if (ts.deflated)
    throw new DicomdirError(`${name}: a deflated DICOMDIR cannot be addressed by offsets`);
  // Element values are views into `buf`: an item starts 8 bytes before its first element's header.
  const byOffset = new Map<number, Dataset>();
  for (const [i, item] of seq.items.entries()) {
    const first = item.elements[0];
    if (!first?.value)
      throw new DicomdirError(
        `${name}: directory record ${i + 1} does not start with a plain element`,
      );
    const headerLength = ts.explicit && LONG_VRS.has(first.vr) ? 12 : 8;
    byOffset.set(first.value.byteOffset - buf.byteOffset - headerLength - 8, item);
  }
  const seen = new Set<number>();
  const chain = (start: number, where: string): DirRecord[] => {
    const out: DirRecord[] = [];
    let off = start;
    while (off !== 0) {
      if (seen.has(off))
        throw new DicomdirError(
          `${name}: directory record offset ${off} referenced twice (${where}): a loop`,
        );
      seen.add(off);
      const ds = byOffset.get(off);
      if (!ds) throw new DicomdirError(`${name}: no directory record at offset ${off} (${where})`);
      const lower = uint(ds, DirTags.LowerLevelRecord);
      const inUse = uint(ds, DirTags.RecordInUseFlag);
      const children = lower ? chain(lower, `below the ${recordType(ds)} record at ${off}`) : [];
      if (inUse !== 0) out.push({ ds, children });
      off = uint(ds, DirTags.NextRecord);
    }
    return out;
  };
  const roots = chain(
    uint(dataset, DirTags.FirstRootRecord),
    "first record of the root directory entity",
  );
  return {
    fileSetId: dataset.string(DirTags.FileSetID) ?? "",
    roots,
    sopInstanceUID: header.meta.string(0x00020003) ?? newUid(),
  };
}

function uint(ds: Dataset, tag: number): number {
  const v = ds.get(tag)?.value;
  if (!v || v.length < 2) return 0;
  return v.length >= 4 ? v.readUInt32LE(0) : v.readUInt16LE(0);
}

export async function readDicomdir(path: string): Promise<Dicomdir> {
  return parseDicomdir(await readFile(path), path);
}

// ------------------------------------------------------------------ writing

function withLinks(ds: Dataset, next: number, lower: number): void {
  ds.set(numberElement(DirTags.NextRecord, "UL", next));
  if (!ds.has(DirTags.RecordInUseFlag))
    ds.set(numberElement(DirTags.RecordInUseFlag, "US", 0xffff));
  ds.set(numberElement(DirTags.LowerLevelRecord, "UL", lower));
}

/** Records in file order: each record followed by its subtree (depth first, as DCMTK writes them). */
function preorder(roots: DirRecord[]): DirRecord[] {
  const out: DirRecord[] = [];
  const visit = (rs: DirRecord[]) => {
    for (const r of rs) {
      out.push(r);
      visit(r.children);
    }
  };
  visit(roots);
  return out;
}

/**
 * Encode a DICOMDIR (Explicit VR Little Endian, explicit lengths). Offsets
 * are byte positions of each record's Item tag from the start of the file.
 */
export function encodeDicomdir(d: Dicomdir): Buffer {
  const ts = TransferSyntax.ExplicitVRLittleEndian;
  const records = preorder(d.roots);
  for (const r of records) withLinks(r.ds, 0, 0);
  const top = new Dataset();
  top.set(textElement(DirTags.FileSetID, "CS", d.fileSetId));
  top.set(numberElement(DirTags.FirstRootRecord, "UL", 0));
  top.set(numberElement(DirTags.LastRootRecord, "UL", 0));
  top.set(numberElement(DirTags.FileSetConsistencyFlag, "US", 0));
  const seq: Element = { tag: DirTags.DirectoryRecordSequence, vr: "SQ", items: [] };
  top.set(seq);
  const prefix = buildPart10Prefix({
    sopClassUID: MEDIA_STORAGE_DIRECTORY,
    sopInstanceUID: d.sopInstanceUID,
    transferSyntax: ts,
  });
  // The sequence is the last element, so its first item follows the dataset encoded without items.
  let pos = prefix.length + encodeDataset(top, ts).length;
  const offsets = new Map<DirRecord, number>();
  for (const r of records) {
    offsets.set(r, pos);
    pos += 8 + encodeDataset(r.ds, ts).length;
  }
  const link = (rs: DirRecord[]) => {
    rs.forEach((r, i) => {
      const next = rs[i + 1];
      withLinks(
        r.ds,
        next ? offsets.get(next)! : 0,
        r.children[0] ? offsets.get(r.children[0])! : 0,
      );
      link(r.children);
    });
  };
  link(d.roots);
  top.set(numberElement(DirTags.FirstRootRecord, "UL", d.roots[0] ? offsets.get(d.roots[0])! : 0));
  top.set(
    numberElement(
      DirTags.LastRootRecord,
      "UL",
      d.roots.length ? offsets.get(d.roots[d.roots.length - 1]!)! : 0,
    ),
  );
  seq.items = records.map((r) => r.ds);
  const out = Buffer.concat([prefix, encodeDataset(top, ts)]);
  if (out.length !== pos)
    throw new Error(`DICOMDIR encoding: expected ${pos} bytes, got ${out.length}`);
  return out;
}
