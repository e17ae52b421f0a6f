/**
 * `dcmdir list`: the instances a DICOMDIR references, one flat record each
 * (`path` resolved beside the DICOMDIR, then the patient, study, series and
 * instance keys), or one summary record per patient, study or series.
 */
import { dirname } from "node:path";
import { Dataset, textElement } from "@dicom-pipes/dimse/dicom";
import { datasetToFlat, type FlatRecord } from "@dicom-pipes/dimse/records";
import {
  DirTags,
  recordType,
  referencedFileId,
  resolveFileId,
  type Dicomdir,
  type DirRecord,
} from "./dicomdir.js";

export type ListLevel = "patient" | "study" | "series" | "instance";

/** Keys of a record without the directory's structural elements; referenced UIDs under their own keywords. */
function recordKeys(r: DirRecord): Dataset {
  const ds = new Dataset();
  ds.parent = undefined;
  const cs = r.ds.get(0x00080005);
  for (const e of r.ds.elements) {
    if (e.tag >>> 16 === 0x0004 && e.tag !== DirTags.DirectoryRecordType) continue;
    if (e.tag === 0x00080005) continue;
    ds.set(e);
  }
  if (cs) ds.set(cs);
  const sopClass = r.ds.string(DirTags.ReferencedSOPClassUIDInFile);
  const sopInstance = r.ds.string(DirTags.ReferencedSOPInstanceUIDInFile);
  const ts = r.ds.string(DirTags.ReferencedTransferSyntaxUIDInFile);
  if (sopClass) ds.set(textElement(0x00080016, "UI", sopClass));
  if (sopInstance) ds.set(textElement(0x00080018, "UI", sopInstance));
  if (ts) ds.set(textElement(0x00020010, "UI", ts));
  return ds;
}

function flatKeys(r: DirRecord): FlatRecord {
  const rec = datasetToFlat(recordKeys(r));
  delete rec.SpecificCharacterSet;
  return rec;
}

export interface ListItem {
  record: FlatRecord;
  /** A problem with this record (bad file ID); the record is still listed without `path`. */
  error?: string;
}

const LEVEL_OF: Record<string, ListLevel> = {
  PATIENT: "patient",
  STUDY: "study",
  SERIES: "series",
};

/**
 * Walk the tree: at `instance` level one item per record referencing a
 * file (any depth), each carrying the keys of its ancestors; at a higher
 * level one item per record of that type with `count` instances below.
 */
export function* listDicomdir(
  d: Dicomdir,
  dicomdirPath: string,
  level: ListLevel,
): Generator<ListItem> {
  const folder = dirname(dicomdirPath);
  function* visit(rs: DirRecord[], inherited: FlatRecord): Generator<ListItem> {
    for (const r of rs) {
      const own = flatKeys(r);
      const merged: FlatRecord = { ...inherited, ...own };
      const type = recordType(r);
      if (level !== "instance" && LEVEL_OF[type] === level) {
        merged.count = countFiles(r);
        yield { record: merged };
        continue;
      }
      const id = referencedFileId(r);
      if (level === "instance" && id.length) {
        try {
          yield { record: { path: resolveFileId(folder, id), ...merged } };
        } catch (e) {
          yield { record: merged, error: (e as Error).message };
        }
      }
      yield* visit(r.children, merged);
    }
  }
  yield* visit(d.roots, {});
}

function countFiles(r: DirRecord): number {
  let n = referencedFileId(r).length ? 1 : 0;
  for (const c of r.children) n += countFiles(c);
  return n;
}
