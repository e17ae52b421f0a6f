/**
 * Reading one file for the index: its header up to the pixel data, turned
 * into the column values at once (the bytes read are not kept). Runs in
 * the main thread or in reader threads (read-worker.ts).
 */
import {
  NotDicomError,
  readPart10HeaderSync,
  type Dataset,
  type Part10Header,
} from "@dicom-pipes/dimse/dicom";
import { INSTANCE_COLUMNS, SERIES_COLUMNS } from "./columns.js";

const STOP_BEFORE_PIXELS = 0x7fe00010;
const MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10";

export type Value = string | number | null;

export type ReadOutcome =
  | {
      kind: "dicom";
      path: string;
      size: number;
      mtime: number;
      instance: Value[];
      seriesUID: string | undefined;
      series: Value[];
    }
  | { kind: "skipped"; path: string; size: number; mtime: number; reason: string }
  | { kind: "failed"; path: string; reason: string };

/** A file to read: path, size, mtime (ms). */
export type FileToRead = [string, number, number];

function columnValue(ds: Dataset, tag: number, type: "TEXT" | "INTEGER"): Value {
  const s = ds.string(tag);
  if (s === undefined || s === "") return null;
  if (type === "INTEGER") {
    const n = Number(s);
    return Number.isInteger(n) ? n : null;
  }
  return s;
}

function rowValues(h: Part10Header): {
  instance: Value[];
  seriesUID: string | undefined;
  series: Value[];
} {
  const instance = INSTANCE_COLUMNS.map(([n, tag, t]) => {
    if (n === "TransferSyntaxUID") return h.transferSyntax;
    if (n === "SOPInstanceUID") return h.sopInstanceUID;
    if (n === "SOPClassUID") return h.sopClassUID;
    return columnValue(h.head, tag, t);
  });
  return {
    instance,
    seriesUID: h.head.string(0x0020000e) || undefined,
    series: SERIES_COLUMNS.map(([, tag, t]) => columnValue(h.head, tag, t)),
  };
}

export function readRow([path, size, mtime]: FileToRead): ReadOutcome {
  try {
    // Synchronous reads: on a local disk a few system calls cost less than thread-pool round trips.
    const h = readPart10HeaderSync(path, STOP_BEFORE_PIXELS);
    if (h.sopClassUID === MEDIA_STORAGE_DIRECTORY)
      return { kind: "skipped", path, size, mtime, reason: "a DICOMDIR" };
    if (!h.sopInstanceUID)
      return { kind: "skipped", path, size, mtime, reason: "no SOP Instance UID" };
    return { kind: "dicom", path, size, mtime, ...rowValues(h) };
  } catch (e) {
    if (e instanceof NotDicomError)
      return { kind: "skipped", path, size, mtime, reason: e.message };
    return { kind: "failed", path, reason: (e as Error).message };
  }
}
